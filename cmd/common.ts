// What every command file shares: the global flags' type, the root check and the wrapper
// that turns a returned exit code or a thrown `Failure` into the process's exit.
import fs from 'node:fs'
import path from 'node:path'
import { EXIT, Failure, errnoCode, usageError, type ErrorCode, type ExitCode } from '../lib/errors.js'
import { makeOutput, type Output } from '../lib/output.js'
import type { HostFlags } from '../lib/operations.js'
import type { Reporter } from '../lib/exec/executor.js'
import type { ServiceManager } from '../lib/plan/types.js'
import type { Argv } from 'yargs'
import { resolveServiceManager } from '../state/host-facts.js'
import { numberFlag } from './bounds.js'
import type { HashProgress } from '../lib/doctor.js'
import type { ProgressDisplay } from '../lib/progress.js'
import { hasArtifact } from '../lib/plan/artifact.js'

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

/** The service flags of every command that activates a release (and of plan, whose saved plan apply runs). */
export function withServiceFlags<T>(y: Argv<T>): Argv<T> {
  return y
    .option('service-manager', {
      type: 'string',
      default: process.env.NULLSPACE_SERVICE_MANAGER || 'auto',
      describe: 'Restart and health-check the units after a switch: auto (systemd when --root is / and systemd runs), systemd, none (env NULLSPACE_SERVICE_MANAGER)',
    })
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

/** The migration guard's flags (DESIGN.md section 8.2), on every command that may activate a release or plans to. */
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
    smokeTimeoutS: argv['smoke-timeout'] ?? 60,
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

type Progress = typeof import('../lib/progress.js')

/** The bars (lib/progress.js, cli-progress), loaded by the first command that may draw them: most runs never do. */
let progress: Progress | undefined

/** The bars when `out` may draw them (Output.progress), else undefined. */
async function progressFor(out: Output): Promise<Progress | undefined> {
  if (!out.progress) return undefined
  progress ??= await import('../lib/progress.js')
  return progress
}

/** Stops every display still drawing; none can be when the bars were never loaded. */
function stopAllProgress(): void {
  progress?.stopAllProgress()
}

/** Steps that obtain an artifact (fetch, link, adopt, repair, ...): the executor reports their bytes as they arrive. */
const transfers = hasArtifact

/**
 * The human reporter: each step as it finishes on stdout and, when a TTY may be drawn on
 * (Output.progress), bars for the transfers on stderr. While the bars draw on a terminal that
 * stdout shares, step lines wait and follow the bars, so neither tears the other.
 */
export async function stepReporter(out: Output): Promise<Reporter> {
  const bars = await progressFor(out)
  let display: ProgressDisplay | null = null
  const sizes = new Map<string, { size: number; from: number }>()
  const waiting: string[] = []
  let lastTransfer: string | null = null

  const flush = () => {
    for (const text of waiting.splice(0)) out.line(text)
  }
  const finish = () => {
    display?.stop() // flushes through onStop, also when a failure stops every display
    display = null
    flush()
  }
  const say = (text: string) => {
    if (display && process.stdout.isTTY) waiting.push(text)
    else out.line(text)
  }
  return {
    begin: (plan) => {
      finish()
      sizes.clear()
      const moving = plan.steps.filter(transfers)
      lastTransfer = moving.at(-1)?.id ?? null
      // A bar starts at what is already there: a resumed part, or the chunks a delta reuses.
      for (const s of moving) if (s.action !== 'link') sizes.set(s.artifact.component, { size: s.artifact.size, from: s.bytes > 0 ? s.artifact.size - s.bytes : 0 })
      const total = moving.reduce((n, s) => n + s.bytes, 0)
      if (!bars || total === 0) return
      display = new bars.ProgressDisplay(process.stderr, 'total', () => {
        display = null
        flush()
      })
      display.begin([...sizes.keys()], total)
    },
    step: (step, phase, detail) => {
      if (phase === 'start') {
        if (!display) return
        if (!transfers(step)) finish()
        else if (step.bytes > 0) {
          const known = sizes.get(step.artifact.component)
          if (known) display.start(step.artifact.component, known.size, known.from)
          sizes.delete(step.artifact.component)
        }
        return
      }
      say(`  ${out.c.green('done')} ${step.id}${detail ? out.c.dim(`  ${detail}`) : ''}`)
      if (step.id === lastTransfer) finish()
    },
    bytes: (component, n) => {
      if (!display) return
      const known = sizes.get(component)
      // adopt and repair fetch only when the local copy fails its hash: their bar starts at the first byte.
      if (known) {
        display.start(component, known.size, known.from)
        sizes.delete(component)
      }
      display.bytes(component, n)
    },
    warn: (text) => {
      if (display) display.log(`nullspace-host: warning: ${text}\n`)
      else out.warn(text)
    },
    // Waits are told on stderr (stdout stays the step lines, or the --json document), indented as
    // the step lines are: a `nullspace-host:` line is an error or a warning. --quiet drops them.
    waiting: (text) => {
      if (out.quiet) return
      if (display) display.log(`  ${text}\n`)
      else process.stderr.write(`  ${text}\n`)
    },
    interrupted: (text) => {
      finish()
      process.stderr.write(`nullspace-host: ${text}\n`)
    },
  }
}

/** Bars for `doctor --deep` while it rehashes every installed byte; undefined when no TTY may be drawn on. */
export async function hashProgress(out: Output): Promise<HashProgress | undefined> {
  const bars = await progressFor(out)
  if (!bars) return undefined
  let display: ProgressDisplay | null = null
  const sizes = new Map<string, number>()
  return {
    begin: (files) => {
      for (const f of files) sizes.set(f.name, f.size)
      const total = files.reduce((n, f) => n + f.size, 0)
      if (total === 0) return
      display = new bars.ProgressDisplay(process.stderr, 'total')
      display.begin([...sizes.keys()], total)
    },
    bytes: (name, n) => {
      const size = sizes.get(name)
      if (size !== undefined) {
        display?.start(name, size)
        sizes.delete(name)
      }
      display?.bytes(name, n)
    },
    end: () => {
      display?.stop()
      display = null
    },
  }
}
