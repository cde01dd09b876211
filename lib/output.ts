// The one place commands print through: --json keeps stdout machine-readable, --quiet
// silences the human lines, colour follows the TTY, NO_COLOR, FORCE_COLOR and --no-color.
import { Chalk, type ChalkInstance } from 'chalk'

export interface OutputOptions {
  readonly json: boolean
  readonly quiet: boolean
  /** false when --no-color was given. */
  readonly color: boolean
}

export interface Output {
  readonly json: boolean
  readonly quiet: boolean
  readonly c: ChalkInstance
  /** Human output on stdout; suppressed by --json and --quiet. */
  line(text?: string): void
  /** The machine document, when --json. */
  document(value: unknown): void
  /** A warning on stderr (kept with --quiet: an operator must still see it). */
  warn(text: string): void
  /** Whether a progress display may draw on stderr. */
  readonly progress: boolean
}

/**
 * The chalk level for a stream: --no-color (`wanted` false) and a non-empty NO_COLOR turn colour
 * off, and win over FORCE_COLOR; a non-empty FORCE_COLOR turns it on even in a pipe (`2` and `3`
 * ask for 256 and 16M colours, `0` and `false` turn it off); otherwise colour only on a TTY
 * whose TERM is not `dumb`. Empty variables count as unset (no-color.org, force-color.org).
 */
export function colorLevel(wanted: boolean, stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv = process.env): 0 | 1 | 2 | 3 {
  if (!wanted) return 0
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return 0
  const force = env.FORCE_COLOR
  if (force !== undefined && force !== '') {
    if (force === '0' || force === 'false') return 0
    return force === '2' ? 2 : force === '3' ? 3 : 1
  }
  return stream.isTTY && env.TERM !== 'dumb' ? 1 : 0
}

/**
 * A reader that goes away (`upgrade | head -1`, a closed terminal) must not interrupt a change: a
 * write into its closed pipe fails with EPIPE, emitted as an 'error' that, unheard, kills the
 * process between two steps and leaves the lock and the staging behind. Heard, the stream is
 * destroyed, later writes go nowhere, and the command finishes and exits with its own code.
 */
export function outlastClosedOutput(): void {
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {})
}

export function makeOutput(o: OutputOptions): Output {
  const c = new Chalk({ level: colorLevel(o.color && !o.json, process.stdout) })
  return {
    json: o.json,
    quiet: o.quiet,
    c,
    line: (text = '') => {
      if (!o.json && !o.quiet) process.stdout.write(`${text}\n`)
    },
    document: (value) => {
      process.stdout.write(`${JSON.stringify(value, null, 2)}\n`)
    },
    warn: (text) => {
      process.stderr.write(`nullspace-host: warning: ${text}\n`)
    },
    progress: Boolean(process.stderr.isTTY) && !o.json && !o.quiet,
  }
}
