// The option groups several commands share, one place per group: the host flags (HostArgs, read
// by hostFlags), the service flags, the release rules, --deep, the migration guard, the smoke's
// --smoke-timeout and --manifest. A command takes a group by calling its with...Flags or option.
import type { Argv } from 'yargs'
import { usageError } from '../lib/errors.js'
import type { HostFlags } from '../lib/operations.js'
import type { ServiceManager } from '../lib/plan/types.js'
import { resolveServiceManager } from '../state/host-facts.js'
import { numberFlag } from './bounds.js'
import { type GlobalArgs, hostRoot } from './common.js'

/**
 * `--manifest` of the commands that read one by path or URL (`what` it is); a command that cannot
 * run without it adds `demandOption: true`. (`manifest sign` and `channel add` take a local file
 * only, and say so themselves.)
 */
export const manifestOption = (what: string) =>
  ({ type: 'string', describe: `Path or URL of ${what}; a URL is https:, http: with --allow-http, or file:` }) as const

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
