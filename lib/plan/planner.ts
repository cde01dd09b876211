// The planner: (desired, actual, options) -> Plan. Pure: no I/O, no clock, no randomness;
// the same inputs give the same plan, byte for byte.
// createPatch alone, not the index of every diff algorithm diff has (start-up time).
import { createPatch } from 'diff/lib/patch/create.js'
import type { DesiredComponent, DesiredState } from '../desired.js'
import type { ActualState, PathState, ReleaseOnDisk } from '../../state/read.js'
import { sealedFileIntact } from '../../state/seal.js'
import { interruptedRollback } from '../../state/journal.js'
import { isMarkedFailed } from '../../state/state-file.js'
import { hostFingerprint } from './fingerprint.js'
import { obtainsArtifact } from './artifact.js'
import { abandonedTemps } from './temp-leftovers.js'
import { unitOf } from '../appliance-files.js'
import type { ArtifactRef, Blocker, HookOperation, Plan, PlanOperation, PlanOptionsJson, Step } from './types.js'

export interface PlanOptions extends PlanOptionsJson {
  readonly operation: PlanOperation
  /** Findings of the release-compatibility rules (lib/compat.ts), computed by the caller. */
  readonly warnings?: readonly string[]
  readonly blockers?: readonly Blocker[]
  /** Run the staged firecracker/jailer with --version before switching (the manifest is for this host's architecture). */
  readonly probe_binaries?: boolean
  /** What chunk indexes say a delta of each component would reuse (computed by the caller from the indexes). */
  readonly deltas?: Readonly<Record<string, DeltaSummary>>
}

export interface DeltaSummary {
  readonly fetch_bytes: number
  readonly reused_bytes: number
  readonly chunk_size: number
  readonly sources: readonly { readonly release_id: string; readonly install_path: string }[]
}

const artifactRef = (c: DesiredComponent): ArtifactRef => ({
  component: c.name,
  kind: c.kind,
  url: c.url,
  sha256: c.sha256,
  size: c.size,
  install_path: c.installPath,
  mode: c.mode,
  required: c.required,
})

/** Sealed, intact files by sha256, the active release first, then newest id first. */
function linkSources(actual: ActualState, exclude: string): Map<string, string> {
  const order = [...actual.releases].filter((r) => r.id !== exclude).sort((a, b) => (a.id === actual.current ? -1 : b.id === actual.current ? 1 : b.id.localeCompare(a.id)))
  const sources = new Map<string, string>()
  for (const r of order) {
    if (r.seal.kind !== 'sealed' || isMarkedFailed(actual.state, r.id)) continue
    for (const c of r.seal.seal.components) if (!sources.has(c.sha256) && sealedFileIntact(c, r.files[c.install_path])) sources.set(c.sha256, r.id)
  }
  return sources
}

function stagingSteps(desired: DesiredState, actual: ActualState, existing: ReleaseOnDisk | undefined, deltas: PlanOptions['deltas'] = {}): Step[] {
  const id = desired.releaseId
  const sources = linkSources(actual, id)
  const staged = actual.staging[id] ?? {}
  const unsealed = existing !== undefined
  const steps: Step[] = desired.components.map((c): Step => {
    const artifact = artifactRef(c)
    const st = staged[c.installPath]
    const from = sources.get(c.sha256)
    if (from !== undefined)
      return { id: `link:${c.name}`, action: 'link', target: c.name, reason: `same sha256 as sealed release ${from}`, bytes: 0, release_id: id, artifact, from_release: from }
    if (st?.kind === 'file' && st.stat.size === c.size)
      return { id: `fetch:${c.name}`, action: 'fetch', target: c.name, reason: 'staged by an interrupted run; re-verified before sealing', bytes: 0, release_id: id, artifact, resume_from: c.size, staged: true }
    if (unsealed)
      return { id: `adopt:${c.name}`, action: 'adopt', target: c.name, reason: `release ${id} is not sealed (untrusted): rehash its copy, fetch if it differs`, bytes: 0, release_id: id, artifact }
    const part = actual.parts[c.sha256]
    const resume = part !== undefined && part.size > 0 && part.size < c.size ? part.size : 0
    const delta = deltas[c.name]
    if (delta !== undefined && delta.fetch_bytes < c.size - resume)
      return {
        id: `delta:${c.name}`,
        action: 'delta',
        target: c.name,
        reason: `reuse ${delta.reused_bytes} bytes from ${delta.sources.map((x) => x.release_id).join(', ')}; fetch ${delta.fetch_bytes}`,
        bytes: delta.fetch_bytes,
        release_id: id,
        artifact,
        reused_bytes: delta.reused_bytes,
        chunk_size: delta.chunk_size,
        sources: delta.sources,
      }
    return {
      id: `fetch:${c.name}`,
      action: 'fetch',
      target: c.name,
      reason: resume > 0 ? `resume a partial download at byte ${resume}` : 'not on this host',
      bytes: c.size - resume,
      release_id: id,
      artifact,
      resume_from: resume,
      staged: false,
    }
  })
  steps.push({
    id: `seal:${id}`,
    action: 'seal',
    target: id,
    reason: unsealed ? `replace the unsealed release directory ${id}` : 'verify, seal and move the release into place',
    bytes: 0,
    release_id: id,
    manifest_digest: desired.manifestDigest,
    replaces_unsealed: unsealed,
  })
  return steps
}

function repairSteps(desired: DesiredState, release: ReleaseOnDisk): Step[] {
  if (release.seal.kind !== 'sealed') return []
  const sealed = release.seal.seal
  return desired.components.flatMap((c): Step[] => {
    const s = sealed.components.find((x) => x.install_path === c.installPath)
    if (!s || s.status === 'skipped') return []
    const st = release.files[c.installPath]
    if (sealedFileIntact(s, st)) return []
    const what =
      st === undefined || st.kind === 'absent' ? 'is missing' : st.kind !== 'file' ? `is now a ${st.kind}` : st.sha256 !== undefined && st.sha256 !== s.sha256 ? 'fails its sha256 (rehashed)' : 'changed since it was sealed'
    return [{ id: `repair:${c.name}`, action: 'repair', target: c.name, reason: `${c.installPath} ${what}: rehash, and fetch again if the bytes differ`, bytes: 0, release_id: release.id, artifact: artifactRef(c) }]
  })
}

function linkSteps(desired: DesiredState, actual: ActualState, skipped: ReadonlySet<string>, sealed: boolean): Step[] {
  const steps: Step[] = []
  const wanted = new Set(desired.links.map((l) => l.path))
  const ours = (st: PathState): st is Extract<PathState, { kind: 'symlink' }> => st.kind === 'symlink' && st.target.includes('releases/current/')
  for (const l of desired.links) {
    const st = actual.links[l.path] ?? { kind: 'absent' }
    if (skipped.has(l.component)) {
      // The sealed release has no such file: a link left by an earlier release would dangle.
      if (ours(st)) steps.push({ id: `compat-link:${l.path}`, action: 'compat-link', change: 'remove', target: l.path, reason: `${l.component} is optional and absent from this release`, bytes: 0, path: l.path, link_target: '', previous: st.target, component: null })
      continue
    }
    // Until the release is sealed, an optional component may turn out absent: keep a step so the executor can decide.
    const optionalUnsealed = !sealed && desired.components.some((c) => c.name === l.component && !c.required)
    if (st.kind === 'symlink' && st.target === l.target && !optionalUnsealed) continue
    if (st.kind === 'absent') steps.push({ id: `compat-link:${l.path}`, action: 'compat-link', change: 'create', target: l.path, reason: `compatibility link of ${l.component}`, bytes: 0, path: l.path, link_target: l.target, previous: null, component: l.component })
    else if (st.kind === 'symlink')
      steps.push({ id: `compat-link:${l.path}`, action: 'compat-link', change: 'repair', target: l.path, reason: st.target === l.target ? `optional ${l.component}: kept only if its artifact is present` : `points at ${st.target}, not ${l.target}`, bytes: 0, path: l.path, link_target: l.target, previous: st.target, component: l.component })
  }
  for (const [p, st] of Object.entries(actual.links)) {
    if (wanted.has(p) || !ours(st)) continue
    steps.push({ id: `compat-link:${p}`, action: 'compat-link', change: 'remove', target: p, reason: 'the active release no longer declares this path', bytes: 0, path: p, link_target: '', previous: st.target, component: null })
  }
  return steps
}

function renderSteps(desired: DesiredState, actual: ActualState): Step[] {
  return desired.rendered.flatMap((f): Step[] => {
    const now = actual.rendered[f.path] ?? null
    if (now === f.content) return []
    return [
      {
        id: `render:${f.path}`,
        action: 'render',
        change: now === null ? 'create' : 'update',
        target: f.path,
        reason: now === null ? 'not rendered yet' : 'rendered from another manifest',
        bytes: 0,
        path: f.path,
        content: f.content,
        mode: f.mode,
        diff: createPatch(f.path, now ?? '', f.content, 'on host', `release ${desired.releaseId}`, { context: 2 }),
      },
    ]
  })
}

/** The note every activation without a service manager carries (ARCHITECTURE.md section 8.1). */
export const SERVICES_NOT_MANAGED = 'services not restarted (service manager: none)'

/**
 * What systemd must learn after the render: `daemon-reload` when a unit file changed, `enable` for each
 * unit file written. `done` holds the steps an interrupted run of this activation finished (journal
 * progress): a unit it rendered before the kill is still reloaded and enabled, once.
 */
function unitFileSteps(desired: DesiredState, renders: readonly Step[], done: ReadonlySet<string>): Step[] {
  const written = desired.rendered.flatMap((f) => {
    const unit = unitOf(f)
    return unit !== null && (renders.some((r) => r.id === `render:${f.path}`) || done.has(`render:${f.path}`)) ? [unit] : []
  })
  const steps: Step[] = []
  if (written.length > 0 && !done.has('daemon-reload:systemd'))
    steps.push({ id: 'daemon-reload:systemd', action: 'daemon-reload', target: 'systemd', reason: `unit file written: ${written.join(', ')}`, bytes: 0 })
  for (const unit of written) if (!done.has(`enable:${unit}`)) steps.push({ id: `enable:${unit}`, action: 'enable', target: unit, reason: 'its unit file was written: start it at boot', bytes: 0, unit })
  return steps
}

/** Restart each managed unit and prove it healthy, unless an interrupted run of this activation already did. */
function restartSteps(desired: DesiredState, o: PlanOptions, done: ReadonlySet<string>): Step[] {
  return desired.rendered.flatMap((f): Step[] => {
    const unit = unitOf(f)
    if (unit === null) return []
    const steps: Step[] = []
    if (!done.has(`restart:${unit}`)) steps.push({ id: `restart:${unit}`, action: 'restart', target: unit, reason: `run release ${desired.releaseId} (reset-failed, then restart)`, bytes: 0, unit })
    if (!done.has(`health:${unit}`))
      steps.push({ id: `health:${unit}`, action: 'health', target: unit, reason: `active/running with a new MainPID, stable for ${o.service_settle_s} s`, bytes: 0, unit, settle_s: o.service_settle_s, timeout_s: o.service_timeout_s })
    return steps
  })
}

function pathBlockers(desired: DesiredState, actual: ActualState, operation: PlanOperation): Blocker[] {
  const blockers: Blocker[] = actual.unsafePaths.map((u) => ({ message: `${u.path} ${u.problem}`, exit: 1 }))
  const kind = actual.currentLink.kind
  if (kind !== 'absent' && kind !== 'symlink') blockers.push({ message: `${actual.root}/opt/nullspace/releases/current is a ${kind}, not a symlink; move it aside before installing`, exit: 1 })
  if (operation !== 'fetch') {
    for (const l of desired.links) {
      const st = actual.links[l.path]
      if (st && st.kind !== 'absent' && st.kind !== 'symlink') blockers.push({ message: `${l.path} (active_path of ${l.component}) is a ${st.kind}, not a symlink; move it aside`, exit: 1 })
    }
  }
  return blockers
}

/** Why `upgrade` refuses a host with no active release. */
export const NOT_INSTALLED = 'no active release to upgrade: this host is not installed yet; run install --manifest M first'

export function plan(desired: DesiredState, actual: ActualState, o: PlanOptions): Plan {
  const id = desired.releaseId
  const existing = actual.releases.find((r) => r.id === id)
  const blockers: Blocker[] = [...pathBlockers(desired, actual, o.operation), ...(o.blockers ?? [])]
  const warnings: string[] = [...(o.warnings ?? [])]
  // An unreadable journal may hold an unfinished operation: finishing or starting one on a guess is failing open.
  if (actual.journalProblem !== null) blockers.push({ message: actual.journalProblem, exit: 1 })
  // The release rules judge the new release against the active one's manifest: not against one its seal no longer vouches for.
  if ((o.operation === 'install' || o.operation === 'upgrade') && actual.currentManifestProblem !== null && actual.current !== id)
    blockers.push({
      message: `${actual.currentManifestProblem}: the release rules (downgrade, snapshot formats, architecture, a backup before a migration) cannot be checked against the active release; put back the manifest.json it was sealed with, or roll back`,
      exit: 1,
    })
  // What `upgrade` would do on this host (lib/upgrade.ts), so that a dry run says it too.
  if (o.operation === 'upgrade' && interruptedRollback(actual.journal, actual.current))
    blockers.push({ message: `an interrupted ${actual.journal.operation} to ${actual.journal.to} is not finished: upgrade finishes it first and upgrades nothing; run upgrade (or rollback) once, then upgrade`, exit: 1 })
  // The upgrade and its dry run refuse through this one blocker, so both say the same thing.
  else if (o.operation === 'upgrade' && actual.current === null && actual.currentLink.kind === 'absent') blockers.push({ message: NOT_INSTALLED, exit: 1 })
  const steps: Step[] = []
  // First: a temp file inside a staged release would otherwise be sealed into the release with it.
  const leftovers = abandonedTemps(actual)
  if (leftovers.length > 0) steps.push({ id: 'clean:temp', action: 'clean', target: 'releases', reason: 'temp files left by an interrupted run', bytes: 0, paths: leftovers })

  const sealed = existing?.seal.kind === 'sealed' ? existing.seal.seal : null
  if (sealed && sealed.manifest_digest !== desired.manifestDigest) {
    blockers.push({ message: `release ${id} is already sealed on this host with manifest ${sealed.manifest_digest}, not ${desired.manifestDigest}; a release id names one manifest forever`, exit: 65 })
  }
  if (existing?.seal.kind === 'invalid') warnings.push(`release ${id}: ${existing.seal.reason}; it is re-verified`)

  if (sealed) steps.push(...repairSteps(desired, existing!))
  else steps.push(...stagingSteps(desired, actual, existing, o.deltas))

  if (o.operation !== 'fetch') {
    const from = actual.current
    const switching = from !== id
    const j = actual.journal
    const unfinished = !switching && j !== null && !j.done && j.to === id && j.switched
    const op: HookOperation = unfinished ? (j.operation === 'fetch' ? 'install' : j.operation) : o.operation
    const previous = unfinished ? j.from : from
    if (switching && o.probe_binaries) {
      const binaries = desired.components
        .filter((c) => c.kind === 'firecracker' || c.kind === 'jailer')
        .map((c) => ({ component: c.name, install_path: c.installPath, expect: desired.manifest.runtime_compatibility.firecracker_version }))
      steps.push({ id: `probe:${id}`, action: 'probe', target: binaries.map((b) => b.component).join(', '), reason: 'the binaries must report firecracker_version before the switch', bytes: 0, release_id: id, binaries })
    }
    if (switching) steps.push({ id: `switch:${id}`, action: 'switch', target: 'current', reason: from === null ? 'no active release yet' : `active release is ${from}`, bytes: 0, from, to: id })
    const activating = switching || unfinished
    const managed = activating && o.service_manager === 'systemd'
    const done = new Set(unfinished ? j.progress ?? [] : [])
    const skipped = new Set(sealed?.components.filter((c) => c.status === 'skipped').map((c) => c.name) ?? [])
    steps.push(...linkSteps(desired, actual, skipped, sealed !== null))
    const renders = renderSteps(desired, actual)
    steps.push(...renders)
    // Hooks run as root: one that others could have changed refuses the activation before the switch.
    if (activating) for (const u of actual.unsafeHooks) blockers.push({ message: `post-switch hook path ${u.path} ${u.problem}`, exit: 1 })
    if (managed) steps.push(...unitFileSteps(desired, renders, done))
    if (activating && actual.hooks.length > 0)
      steps.push({ id: 'hooks:post-switch', action: 'hooks', target: 'post-switch.d', reason: switching ? 'after a switch' : 'an interrupted operation did not finish them', bytes: 0, operation: op, release_id: id, previous_release_id: previous, hooks: actual.hooks })
    if (managed) steps.push(...restartSteps(desired, o, done))
    if (activating && o.service_manager === 'none') warnings.push(SERVICES_NOT_MANAGED)
    if (activating && o.smoke_url !== null)
      steps.push({ id: 'smoke:ingress', action: 'smoke', target: o.smoke_url, reason: 'prove the new release answers', bytes: 0, release_id: id, url: o.smoke_url, timeout_s: o.smoke_timeout_s })
    const last = actual.state.history.at(-1)
    if (activating) steps.push({ id: `record:${id}`, action: 'record', target: 'state.json', reason: 'history of switches', bytes: 0, operation: op, from: previous, to: id, result: 'ok' })
    else if (actual.current !== null && last?.to !== actual.current)
      steps.push({ id: `record:${actual.current}`, action: 'record', target: 'state.json', reason: `current names ${actual.current} but state.json does not record it; the link is the truth`, bytes: 0, operation: op, from: last?.to ?? null, to: actual.current, result: 'recovered' })
  }

  const fetched = steps.filter(obtainsArtifact)
  const linked = steps.filter((s): s is Extract<Step, { action: 'link' }> => s.action === 'link')
  return {
    format_version: 1,
    operation: o.operation,
    manifest: { release_id: id, digest: desired.manifestDigest, path: desired.manifestPath },
    host_fingerprint: hostFingerprint(actual),
    current_release_id: actual.current,
    target_release_id: id,
    steps,
    summary: {
      steps: steps.length,
      fetch_bytes: steps.reduce((n, s) => n + s.bytes, 0),
      link_bytes: linked.reduce((n, s) => n + s.artifact.size, 0),
      reused_bytes: steps.reduce((n, s) => n + (s.action === 'delta' ? s.reused_bytes : 0), 0),
      components_fetched: fetched.length,
      components_linked: linked.length,
    },
    warnings,
    blockers,
    options: {
      allow_http: o.allow_http,
      allow_expired: o.allow_expired,
      allow_downgrade: o.allow_downgrade,
      accept_snapshot_format_change: o.accept_snapshot_format_change,
      smoke_url: o.smoke_url,
      smoke_timeout_s: o.smoke_timeout_s,
      service_manager: o.service_manager,
      service_settle_s: o.service_settle_s,
      service_timeout_s: o.service_timeout_s,
    },
  }
}
