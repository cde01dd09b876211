// The numeric flags' bounds, in one table. The middleware in cli.ts checks every flag of the
// table that the parsed command defines, and each flag's --help text states its range from the
// same row. A new seconds flag is one row here and `numberFlag(name, ...)` where it is declared.
import { usageError } from '../lib/errors.js'

export interface Bound {
  /** What the number counts, for the message. */
  readonly unit: 'seconds' | 'minutes' | 'hours' | 'days' | 'bytes per second' | 'percent'
  readonly min: number
  /** The flag must be more than `min`, not equal to it (a stall window of 0 s cannot receive a byte). */
  readonly aboveMin?: boolean
  readonly max: number
  readonly integer?: boolean
  /** A value to show in the message's example. */
  readonly example: number
}

/**
 * Node's timers hold at most 2^31-1 ms (about 24.8 days); a longer delay fires after 1 ms, so an
 * enormous timeout would act as almost none. A day is far inside that and longer than any wait
 * an operator means.
 */
export const MAX_WAIT_S = 86_400

export const NUMBER_BOUNDS = {
  'lock-timeout': { unit: 'seconds', min: 0, max: MAX_WAIT_S, example: 30 },
  'stall-timeout': { unit: 'seconds', min: 0, aboveMin: true, max: MAX_WAIT_S, example: 30 },
  'hook-timeout': { unit: 'seconds', min: 0, max: MAX_WAIT_S, example: 120 },
  'smoke-timeout': { unit: 'seconds', min: 0, max: MAX_WAIT_S, example: 60 },
  'service-settle': { unit: 'seconds', min: 0, max: MAX_WAIT_S, example: 3 },
  'service-timeout': { unit: 'seconds', min: 0, aboveMin: true, max: MAX_WAIT_S, example: 60 },
  'speed-limit': { unit: 'bytes per second', min: 0, max: 2 ** 30, integer: true, example: 1024 },
  'speed-time': { unit: 'seconds', min: 0, aboveMin: true, max: MAX_WAIT_S, example: 60 },
  // expires_at = now + days: ten years is past any release's useful life, and far inside what a Date holds.
  'expires-in': { unit: 'days', min: 0, aboveMin: true, max: 3650, example: 90 },
  // A channel release's rollout (ARCHITECTURE.md section 8.4): a share of hosts, and whole minutes up to ten years (the codec's Minutes).
  'rollout-percentage': { unit: 'percent', min: 0, max: 100, example: 10 },
  'rollout-minutes': { unit: 'minutes', min: 0, max: 10 * 366 * 24 * 60, integer: true, example: 1440 },
  // A year: an older backup of the active release is no guard for today's data.
  'backup-max-age': { unit: 'hours', min: 0, aboveMin: true, max: 8760, example: 24 },
} as const satisfies Record<string, Bound>

export type BoundedFlag = keyof typeof NUMBER_BOUNDS

/** The yargs option of a bounded number flag, its range appended to its help text. */
export function numberFlag<O extends { default?: number; describe: string; global?: boolean }>(name: BoundedFlag, o: O): O & { type: 'number' } {
  const b: Bound = NUMBER_BOUNDS[name]
  return { ...o, type: 'number', describe: `${o.describe} (${b.aboveMin ? `more than ${b.min}, ` : ''}at most ${b.max})` }
}

/** Throws the usage error (exit 64) for the first bounded flag in `argv` outside its range. */
export function checkNumberBounds(argv: Record<string, unknown>): void {
  for (const [name, b] of Object.entries(NUMBER_BOUNDS) as [BoundedFlag, Bound][]) {
    const value = argv[name]
    if (typeof value !== 'number' || Number.isNaN(value)) continue // absent, or not a number: singleValues says so
    const low = b.aboveMin ? value <= b.min : value < b.min
    if (low || value > b.max || (b.integer && !Number.isInteger(value))) {
      const what = `${b.integer ? 'a whole number' : 'a number'} of ${b.unit} ${b.aboveMin ? `more than ${b.min}` : `${b.min} or more`}, at most ${b.max}`
      throw usageError(`--${name} must be ${what}, got ${value}; e.g. --${name} ${b.example}`)
    }
  }
}
