// What every command file shares: the global flags' type, the root check, the output, and the
// wrapper that turns a returned exit code or a thrown `Failure` into the process's exit. The
// option groups several commands take are in options.ts; the terminal reporter is reporter.ts.
import fs from 'node:fs'
import path from 'node:path'
import { EXIT, Failure, errnoCode, usageError, type ErrorCode, type ExitCode } from '../lib/errors.js'
import { makeOutput, type Output } from '../lib/output.js'
import { stopAllProgress } from './reporter.js'

export interface GlobalArgs {
  root: string
  json: boolean
  color: boolean
  quiet: boolean
  'lock-timeout': number
  'allow-http': boolean
  'allow-expired': boolean
  'stall-timeout': number
  'speed-limit': number
  'speed-time': number
  'hook-timeout': number
}

/** The validated `--root`, absolute. */
export function hostRoot(argv: GlobalArgs): string {
  const root = path.resolve(argv.root)
  let st: fs.Stats
  try {
    st = fs.statSync(root)
  } catch {
    throw usageError(`--root ${argv.root}: no such directory; create it (mkdir -m 755 ${argv.root}) or give the directory the host's paths are under`)
  }
  if (!st.isDirectory()) throw usageError(`--root ${argv.root}: not a directory; give the directory the host's paths are under (/ on a host, or a sandbox directory)`)
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

/**
 * Whether failures print their JSON document: set from the raw command line before yargs parses it,
 * since a usage error is found before any handler sees `argv.json`.
 */
let jsonFailures = false

/** `--json` as the command line gives it (the last of --json, --json=BOOL, --no-json before `--`). */
export function wantsJson(args: readonly string[]): boolean {
  let json = false
  for (const a of args) {
    if (a === '--') break
    if (a === '--json' || a === '--json=true') json = true
    else if (a === '--no-json' || a === '--json=false') json = false
  }
  return json
}

export function setJsonFailures(on: boolean): void {
  jsonFailures = on
}

/**
 * With --json, a failure is one document on stdout: the command's own report fields, when it has
 * one (Failure.document), then `ok: false` and `error` {code, message, exit}. stderr keeps its line.
 */
function failureDocument(code: ErrorCode, message: string, exit: ExitCode, document: object = {}): void {
  if (!jsonFailures) return
  process.stdout.write(`${JSON.stringify({ ...document, ok: false, error: { code, message, exit } }, null, 2)}\n`)
}

export function printFailure(e: unknown): ExitCode {
  stopAllProgress()
  if (e instanceof Failure) {
    failureDocument(e.code, e.message, e.exit, e.document)
    process.stderr.write(`nullspace-host: ${e.message}\n`)
    for (const d of e.details) process.stderr.write(`  ${d}\n`)
    if (process.env.NULLSPACE_DEBUG === '1') process.stderr.write(`${e.stack}\n`)
    return e.exit
  }
  const message = e instanceof Error ? e.message : String(e)
  const advice = ERRNO_ADVICE[errnoCode(e) ?? '']
  const line = `${message.split('\n')[0]}${advice ? `: ${advice}` : ' (set NULLSPACE_DEBUG=1 for details)'}`
  failureDocument('failed', line, EXIT.failed)
  process.stderr.write(`nullspace-host: ${line}\n`)
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
    } finally {
      stopAllProgress()
    }
    process.exitCode = code
  }
}
