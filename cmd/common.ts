// What every command file shares: the global flags' type, the root check and the wrapper
// that turns a returned exit code or a thrown `Failure` into the process's exit.
import fs from 'node:fs'
import path from 'node:path'
import { EXIT, Failure, errnoCode, usageError, type ExitCode } from '../lib/errors.js'
import { makeOutput, type Output } from '../lib/output.js'
import type { HostFlags } from '../lib/operations.js'
import type { Reporter } from '../lib/exec/executor.js'

export interface GlobalArgs {
  root: string
  json: boolean
  color: boolean
  quiet: boolean
  'lock-timeout': number
  'allow-http': boolean
  'allow-expired': boolean
  'stall-timeout': number
  'hook-timeout': number
}

/** The validated `--root`, absolute. */
export function hostRoot(argv: GlobalArgs): string {
  const root = path.resolve(argv.root)
  let st: fs.Stats
  try {
    st = fs.statSync(root)
  } catch {
    throw usageError(`--root ${argv.root}: no such directory`)
  }
  if (!st.isDirectory()) throw usageError(`--root ${argv.root}: not a directory`)
  return root
}

export const outputFor = (argv: GlobalArgs): Output => makeOutput({ json: argv.json, quiet: argv.quiet, color: argv.color })

/** What an operator can do about the system errors a command may meet on a host. */
const ERRNO_ADVICE: Record<string, string> = {
  EACCES: 'permission denied; run as root (sudo) or pick a --root you can write',
  EPERM: 'operation not permitted; run as root (sudo)',
  EROFS: 'the filesystem is read-only; remount it read-write or pick another --root',
  ENOSPC: 'no space left on the device; free space or prune old releases (prune --keep N)',
  EDQUOT: 'disk quota exceeded; free space or prune old releases',
}

export function printFailure(e: unknown): ExitCode {
  if (e instanceof Failure) {
    process.stderr.write(`nullspace-host: ${e.message}\n`)
    for (const d of e.details) process.stderr.write(`  ${d}\n`)
    if (process.env.NULLSPACE_DEBUG === '1') process.stderr.write(`${e.stack}\n`)
    return e.exit
  }
  const message = e instanceof Error ? e.message : String(e)
  const advice = ERRNO_ADVICE[errnoCode(e) ?? '']
  process.stderr.write(`nullspace-host: ${message.split('\n')[0]}${advice ? `: ${advice}` : ' (set NULLSPACE_DEBUG=1 for details)'}\n`)
  if (process.env.NULLSPACE_DEBUG === '1' && e instanceof Error) process.stderr.write(`${e.stack}\n`)
  return EXIT.failed
}

/** Wraps a command's body: its return value, or the Failure it throws, becomes the exit code. */
export function handler<A>(body: (argv: A) => Promise<ExitCode>): (argv: A) => Promise<void> {
  return async (argv) => {
    let code: ExitCode
    try {
      code = await body(argv)
    } catch (e) {
      code = printFailure(e)
    }
    process.exitCode = code
  }
}

/** Flags of the commands that plan against a host. */
export interface HostArgs extends GlobalArgs {
  'allow-downgrade'?: boolean
  'accept-snapshot-format-change'?: boolean
  'ingress-url'?: string
  'smoke-timeout'?: number
}

export function hostFlags(argv: HostArgs, smokeUrl: string | null = null): HostFlags {
  for (const [flag, value] of [['--lock-timeout', argv['lock-timeout']], ['--stall-timeout', argv['stall-timeout']], ['--hook-timeout', argv['hook-timeout']], ['--smoke-timeout', argv['smoke-timeout'] ?? 60]] as const) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw usageError(`${flag} must be a number of seconds, got ${JSON.stringify(value)}`)
  }
  if (argv['stall-timeout'] === 0) throw usageError('--stall-timeout must be more than 0 seconds')
  return {
    root: hostRoot(argv),
    allowHttp: argv['allow-http'],
    allowExpired: argv['allow-expired'],
    allowDowngrade: argv['allow-downgrade'] ?? false,
    acceptSnapshotFormatChange: argv['accept-snapshot-format-change'] ?? false,
    stallTimeoutS: argv['stall-timeout'],
    hookTimeoutS: argv['hook-timeout'],
    lockTimeoutS: argv['lock-timeout'],
    smokeUrl,
    smokeTimeoutS: argv['smoke-timeout'] ?? 60,
  }
}

/** Prints each step as it finishes (human output only). */
export function stepReporter(out: Output): Reporter {
  return {
    step: (step, phase, detail) => {
      if (phase === 'done') out.line(`  ${out.c.green('done')} ${step.id}${detail ? out.c.dim(`  ${detail}`) : ''}`)
    },
    bytes: () => {},
    warn: (text) => out.warn(text),
  }
}
