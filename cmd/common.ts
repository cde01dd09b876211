// What every command file shares: the global flags' type, the root check and the wrapper
// that turns a returned exit code or a thrown `Failure` into the process's exit.
import fs from 'node:fs'
import path from 'node:path'
import { EXIT, Failure, errnoCode, usageError, type ErrorCode, type ExitCode } from '../lib/errors.js'
import { makeOutput, type Output } from '../lib/output.js'
import type { HostFlags } from '../lib/operations.js'
import type { ServiceManager } from '../lib/plan/types.js'
import type { Argv } from 'yargs'
import { resolveServiceManager } from '../state/host-facts.js'
import { numberFlag } from './bounds.js'
import { stopAllProgress } from './reporter.js'

// The terminal reporter has a module of its own; command files still find it here.
export { hashProgress, stepReporter } from './reporter.js'

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

/** Flags of the commands that plan against a host. */
export interface HostArgs extends GlobalArgs {
  'allow-downgrade'?: boolean
  'accept-snapshot-format-change'?: boolean
  'ingress-url'?: string
  'smoke-timeout'?: number
  'service-manager'?: string
  'service-settle'?: number
  'service-timeout'?: number
  deep?: boolean
  'backup-check'?: boolean
  'backup-max-age'?: number
}

export const SERVICE_MANAGERS = ['auto', 'systemd', 'none'] as const

/** `--service-manager`, as every command that takes it defines it; `does` says what the manager is used for. */
export const serviceManagerOption = (does: string) =>
  ({
    type: 'string',
    default: process.env.NULLSPACE_SERVICE_MANAGER || 'auto',
    describe: `${does}: auto (systemd when --root is / and systemd runs), systemd, none (env NULLSPACE_SERVICE_MANAGER)`,
  }) as const

/** The ingress smoke's retry time of install and upgrade, and what a saved plan without it means. */
export const SMOKE_TIMEOUT_S = 60

/** `--smoke-timeout` of the commands that activate a release. */
export const smokeTimeoutOption = () => numberFlag('smoke-timeout', { default: SMOKE_TIMEOUT_S, describe: 'Seconds the ingress smoke may retry' })

/** The service flags of every command that activates a release (and of plan, whose saved plan apply runs). */
export function withServiceFlags<T>(y: Argv<T>): Argv<T> {
  return y
    .option('service-manager', serviceManagerOption('Restart and health-check the units after a switch'))
    .option('service-settle', numberFlag('service-settle', { default: 3, describe: 'Seconds a restarted unit must keep its process and restart count' }))
    .option('service-timeout', numberFlag('service-timeout', { default: 60, describe: 'Seconds a restarted unit may take to become healthy' }))
}

/**
 * The release rules' flags (lib/compat.ts), on every command that plans an activation: the message of a
 * refused plan names them, so plan and apply take them as install and upgrade do.
 */
export function withReleaseRuleFlags<T>(y: Argv<T>): Argv<T> {
  return y
    .option('allow-downgrade', { type: 'boolean', default: false, describe: 'Allow a lower version than the active release' })
    .option('accept-snapshot-format-change', { type: 'boolean', default: false, describe: 'Allow a snapshot format change (existing snapshots will not restore)' })
}

/** `--deep` of the commands that converge a host to a manifest (what doctor --deep finds, they repair). */
export function withDeepFlag<T>(y: Argv<T>): Argv<T> {
  return y.option('deep', { type: 'boolean', default: false, describe: 'Rehash the release\'s sealed files instead of trusting their size, mtime and inode; repair any whose bytes changed' })
}

/** The migration guard's flags (ARCHITECTURE.md section 8.2), on every command that may activate a release or plans to. */
export function withBackupGuardFlags<T>(y: Argv<T>): Argv<T> {
  return y
    .option('backup-check', { type: 'boolean', default: true, describe: 'Refuse an irreversible migration without a fresh verified backup of the active release (--no-backup-check: proceed without one)' })
    .option('backup-max-age', numberFlag('backup-max-age', { default: 24, describe: 'Hours a verified backup counts as fresh for the migration guard' }))
}

/** `--service-manager`, checked and resolved against the host (`auto`). */
export function serviceManagerOf(argv: { 'service-manager'?: string }, root: string): ServiceManager {
  const requested = argv['service-manager'] ?? (process.env.NULLSPACE_SERVICE_MANAGER || 'auto')
  if (!(SERVICE_MANAGERS as readonly string[]).includes(requested))
    throw usageError(`--service-manager must be one of ${SERVICE_MANAGERS.join(', ')}, got ${JSON.stringify(requested)} (from ${argv['service-manager'] === undefined ? 'NULLSPACE_SERVICE_MANAGER' : 'the command line or NULLSPACE_SERVICE_MANAGER'})`)
  return resolveServiceManager(requested as (typeof SERVICE_MANAGERS)[number], root)
}

export function hostFlags(argv: HostArgs, smokeUrl: string | null = null): HostFlags {
  // The numbers were checked against cmd/bounds.ts by the middleware before any handler ran.
  const root = hostRoot(argv)
  return {
    root,
    allowHttp: argv['allow-http'],
    allowExpired: argv['allow-expired'],
    allowDowngrade: argv['allow-downgrade'] ?? false,
    acceptSnapshotFormatChange: argv['accept-snapshot-format-change'] ?? false,
    stallTimeoutS: argv['stall-timeout'],
    speedLimit: argv['speed-limit'],
    speedTimeS: argv['speed-time'],
    hookTimeoutS: argv['hook-timeout'],
    lockTimeoutS: argv['lock-timeout'],
    smokeUrl,
    smokeTimeoutS: argv['smoke-timeout'] ?? SMOKE_TIMEOUT_S,
    serviceManager: serviceManagerOf(argv, root),
    serviceSettleS: argv['service-settle'] ?? 3,
    serviceTimeoutS: argv['service-timeout'] ?? 60,
    waitNoticeMs: waitNoticeMs(),
    deep: argv.deep ?? false,
    backupCheck: argv['backup-check'] ?? true,
    backupMaxAgeH: argv['backup-max-age'] ?? 24,
  }
}

/**
 * The still-waiting interval: 10 s, or NULLSPACE_TEST_WAIT_NOTICE_MS (read here only) so a spec
 * sees several notices in seconds.
 */
function waitNoticeMs(): number | undefined {
  const ms = Number(process.env.NULLSPACE_TEST_WAIT_NOTICE_MS ?? '')
  return Number.isSafeInteger(ms) && ms >= 100 ? ms : undefined
}
