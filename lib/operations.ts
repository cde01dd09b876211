// The shared shape of every command that plans against a host: load and trust the manifest,
// read the host, plan; and, for the commands that change the host, lock and execute.
import type { MinSpeed } from './fetch/watch.js'
import { E } from './commonjs.cjs'
import { type LoadedManifest, loadManifest } from './manifest/load.js'
import { desiredState, type DesiredState } from './desired.js'
import { layout, type Layout } from './layout.js'
import { enforceManifestSignature } from './signature.js'
import { manifestFetch, signatureOf } from './manifest/remote.js'
import { plan as planSteps, type PlanOptions } from './plan/planner.js'
import type { Plan, PlanOperation, ServiceManager } from './plan/types.js'
import { TOOL_VERSION } from './version.js'
import { readActualState, type ActualState } from '../state/read.js'
import { acquireLock, type HeldLock } from '../state/lock.js'
import { EXIT, Failure, operationFailed } from './errors.js'
import type { ExecResult, Reporter } from './exec/executor.js'
import { type Findings, hostFindings, releaseFindings } from './compat.js'
import { backupGuard, needsBackup, verifiedBackupOf } from './backup/guard.js'
import { gatherDeltaInputs } from './chunks/inputs.js'
import type { DeltaInput } from './chunks/assemble.js'
import { invokingUser, onPath, readHostFacts } from '../state/host-facts.js'

export interface HostFlags {
  readonly root: string
  readonly allowHttp: boolean
  readonly allowExpired: boolean
  readonly allowDowngrade: boolean
  readonly acceptSnapshotFormatChange: boolean
  readonly stallTimeoutS: number
  /** A transfer slower than speedLimit bytes/s over a whole speedTimeS is abandoned and retried (0 bytes/s: never). */
  readonly speedLimit: number
  readonly speedTimeS: number
  readonly hookTimeoutS: number
  readonly lockTimeoutS: number
  readonly smokeUrl: string | null
  readonly smokeTimeoutS: number
  /** Resolved: `auto` was decided against the host by the command. */
  readonly serviceManager: ServiceManager
  readonly serviceSettleS: number
  readonly serviceTimeoutS: number
  /** How often a long wait (smoke, health, a slow hook) says it still waits; 10 s unless a spec shortens it. */
  readonly waitNoticeMs?: number
  /** Rehash the target release's sealed files while reading the host (install/apply --deep), so changed bytes are repaired. */
  readonly deep?: boolean
  /** The migration guard (ARCHITECTURE.md section 8.2): false with --no-backup-check. */
  readonly backupCheck: boolean
  readonly backupMaxAgeH: number
}

const minSpeed = (flags: Pick<HostFlags, 'speedLimit' | 'speedTimeS'>): MinSpeed => ({ bytesPerS: flags.speedLimit, windowMs: flags.speedTimeS * 1000 })

export interface Planned {
  readonly layout: Layout
  readonly loaded: LoadedManifest
  readonly desired: DesiredState
  readonly actual: ActualState
  readonly plan: Plan
  /** The manifest's detached signature, sealed with the release when it was verified. */
  readonly signature?: Buffer | null
  /** Chunk indexes read while planning, for the executor's delta steps. */
  readonly deltas?: ReadonlyMap<string, DeltaInput>
  readonly prefetched?: ReadonlyMap<string, Buffer>
}

export interface TrustedManifest {
  readonly loaded: LoadedManifest
  /** The verified detached signature, when the host requires one. */
  readonly signature: Buffer | null
}

/** How a manifest given as a URL, and its `<url>.sig`, are fetched: the transfer flags of artifacts. */

/**
 * Decodes the manifest (a path, or a URL it is fetched from), applies every rule, then the host's
 * signature policy: `<manifest>.sig` beside a file, `<url>.sig` for a URL (exit 65 on any failure;
 * exit 1 when a URL's server cannot be reached).
 */
export async function loadTrusted(source: string, flags: HostFlags): Promise<TrustedManifest> {
  const net = manifestFetch(flags)
  const loaded = await loadManifest(source, { now: Date.now(), allowHttp: flags.allowHttp, allowExpired: flags.allowExpired }, net)
  if (E.isLeft(loaded)) throw loaded.left
  const signature = await enforceManifestSignature(loaded.right.path, loaded.right.bytes, layout(flags.root).root, signatureOf(loaded.right, net))
  return { loaded: loaded.right, signature }
}

export async function readFor(l: Layout, desired: DesiredState, rehash = false): Promise<ActualState> {
  return readActualState(l, {
    rehash,
    releaseId: desired.releaseId,
    installPaths: desired.components.map((c) => c.installPath),
    linkPaths: desired.links.map((x) => x.path),
  })
}

export function planOptions(operation: PlanOperation, flags: HostFlags): PlanOptions {
  return {
    operation,
    allow_http: flags.allowHttp,
    allow_expired: flags.allowExpired,
    allow_downgrade: flags.allowDowngrade,
    accept_snapshot_format_change: flags.acceptSnapshotFormatChange,
    smoke_url: flags.smokeUrl,
    smoke_timeout_s: flags.smokeTimeoutS,
    service_manager: flags.serviceManager,
    service_settle_s: flags.serviceSettleS,
    service_timeout_s: flags.serviceTimeoutS,
  }
}

export async function planManifest(operation: PlanOperation, manifestFile: string, flags: HostFlags): Promise<Planned> {
  return planTrusted(operation, await loadTrusted(manifestFile, flags), flags)
}

/** Plans towards a manifest already loaded and trusted (commands load it before taking the lock, so a refused manifest changes nothing). */
export async function planTrusted(operation: PlanOperation, trusted: TrustedManifest, flags: HostFlags): Promise<Planned> {
  return { ...(await planLoaded(operation, trusted.loaded, flags)), signature: trusted.signature }
}

/** Plans `operation` towards a loaded manifest; install and upgrade also apply the host and release rules. */
export async function planLoaded(operation: PlanOperation, loaded: LoadedManifest, flags: HostFlags, extraWarnings: readonly string[] = []): Promise<Planned> {
  const l = layout(flags.root)
  const desired = desiredState(loaded)
  const [actual, facts] = await Promise.all([readFor(l, desired, flags.deep === true), readHostFacts(l)])
  const activating = operation === 'install' || operation === 'upgrade'
  const host = activating ? hostFindings(loaded.manifest, facts) : { warnings: [], blockers: [] }
  const release = activating ? await releaseFindings(actual.currentManifest, loaded.manifest, flags) : { warnings: [], blockers: [] }
  const guard = activating ? await guardFindings(l, actual, loaded, flags) : { warnings: [], blockers: [] }
  const options = {
    ...planOptions(operation, flags),
    warnings: [...host.warnings, ...release.warnings, ...extraWarnings],
    blockers: [...host.blockers, ...release.blockers, ...guard.blockers],
    probe_binaries: activating && loaded.manifest.architecture === facts.architecture,
  }
  const first = planSteps(desired, actual, options)
  const delta = await gatherDeltaInputs(l, desired, actual, first, { allowHttp: flags.allowHttp, stallTimeoutMs: flags.stallTimeoutS * 1000, minSpeed: minSpeed(flags) })
  if (delta.inputs.size === 0 && delta.warnings.length === 0) return { layout: l, loaded, desired, actual, plan: first }
  const plan = planSteps(desired, actual, { ...options, warnings: [...options.warnings, ...delta.warnings], deltas: delta.summaries })
  return { layout: l, loaded, desired, actual, plan, deltas: delta.inputs, prefetched: delta.prefetched }
}

/** The migration guard's finding: the backups are looked for only when the guard applies. */
async function guardFindings(l: Layout, actual: ActualState, loaded: LoadedManifest, flags: HostFlags): Promise<Findings> {
  const active = actual.current === loaded.manifest.release_id ? null : actual.currentManifest
  const guarding = flags.backupCheck && active !== null && needsBackup(active, loaded.manifest)
  const fresh = guarding ? await verifiedBackupOf(l, active.release_id, flags.backupMaxAgeH, new Date()) : null
  return backupGuard(active, loaded.manifest, fresh, { check: flags.backupCheck, maxAgeH: flags.backupMaxAgeH })
}

/**
 * A plan with blockers is refused as a whole (exit 65 when the manifest itself is refused); null
 * when nothing blocks it. `document` is the plan as --json shows it, for the failure's document.
 */
export function blockedFailure(plan: Plan, document?: object): Failure | null {
  if (plan.blockers.length === 0) return null
  const exit = plan.blockers.some((b) => b.exit === 65) ? EXIT.badManifest : EXIT.failed
  const [first, ...rest] = plan.blockers.map((b) => b.message)
  return new Failure(exit, `${first}${rest.length ? ` (and ${rest.length} more)` : ''}. Nothing was changed.`, rest, { code: exit === EXIT.badManifest ? 'bad_manifest' : 'refused', document })
}

export function refuseBlocked(plan: Plan): void {
  const refused = blockedFailure(plan)
  if (refused) throw refused
}

export async function withHostLock<T>(flags: HostFlags, command: string, body: () => Promise<T>): Promise<T> {
  const l = layout(flags.root)
  let lock: HeldLock
  try {
    lock = await acquireLock(l.root, l.lockFile, command, flags.lockTimeoutS)
  } catch (e) {
    if (e instanceof Failure) throw e
    throw new Failure(EXIT.failed, `cannot take the host lock ${l.lockFile}: ${(e as Error).message}; is the root writable and are you root?`)
  }
  try {
    return await body()
  } finally {
    await lock.release()
  }
}

export async function executePlanned(p: Planned, flags: HostFlags, report: Reporter): Promise<ExecResult> {
  refuseBlocked(p.plan)
  // Found missing after the switch, a missing systemctl would fail the activation and its rollback alike.
  if (p.plan.steps.some((s) => s.action === 'restart') && !onPath('systemctl'))
    throw operationFailed(`--service-manager systemd, but no systemctl is on PATH; on a host without systemd pass --service-manager none. Nothing was changed`)
  // What the release rules found must reach an operator even when nothing blocks the change.
  for (const w of p.plan.warnings) report.warn(w)
  // Loaded here: planning alone (plan, a dry run) never executes.
  const { execute } = await import('./exec/executor.js')
  return execute(p.plan, {
    layout: p.layout,
    manifestBytes: p.loaded.bytes,
    signatureBytes: p.signature ?? null,
    manifestDir: p.desired.manifestDir,
    manifestId: p.loaded.manifest.manifest_id,
    version: p.loaded.manifest.version,
    fetch: { allowHttp: flags.allowHttp, stallTimeoutMs: flags.stallTimeoutS * 1000, minSpeed: minSpeed(flags), retries: 4, backoffMs: 500 },
    hookTimeoutMs: flags.hookTimeoutS * 1000,
    toolVersion: TOOL_VERSION,
    user: invokingUser(),
    report,
    now: () => new Date(),
    deltas: p.deltas,
    prefetched: p.prefetched,
    waitNoticeMs: flags.waitNoticeMs,
  })
}

