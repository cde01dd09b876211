// What every command file shares: the global flags' type, the root check and the wrapper
// that turns a returned exit code or a thrown `Failure` into the process's exit.
import fs from 'node:fs'
import path from 'node:path'
import { EXIT, Failure, usageError, type ExitCode } from '../lib/errors.js'
import { makeOutput, type Output } from '../lib/output.js'

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

export function printFailure(e: unknown): ExitCode {
  if (e instanceof Failure) {
    process.stderr.write(`nullspace-host: ${e.message}\n`)
    for (const d of e.details) process.stderr.write(`  ${d}\n`)
    if (process.env.NULLSPACE_DEBUG === '1') process.stderr.write(`${e.stack}\n`)
    return e.exit
  }
  const message = e instanceof Error ? e.message : String(e)
  process.stderr.write(`nullspace-host: ${message.split('\n')[0]} (set NULLSPACE_DEBUG=1 for details)\n`)
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
