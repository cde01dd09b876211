// `doctor`: the host's verified state. Without --deep it trusts each seal plus a stat check
// (size, mtime, inode), never re-reading artifact bytes; with --deep it rehashes them.
import fs from 'node:fs/promises'
import path from 'node:path'
import type { Layout } from './layout.js'
import type { FailureJson } from './errors.js'
import { API_UNIT, EVIDENCE_KEY, MANIFEST_FILE, NAME_MAX, PATH_MAX, RELEASES } from './layout.js'
import type { ServiceManager } from './plan/types.js'
import { type UnitStatus, unitStatus } from './exec/services.js'
import { processStartedAt } from '../state/process.js'
import { readTrustedKeys } from './signature.js'
import { trustRootProblems } from './trust/root-store.js'
import { exposedSecretProblem } from './trust-material.js'
import type { RuntimeCompatibility } from './manifest/codec.js'
import { linksOf } from './desired.js'
import { renderApplianceFiles } from './appliance-files.js'
import { hashFileOffThread } from './hash-thread.js'
import { readActualState, type ActualState } from '../state/read.js'
import { holderAlive, readLock } from '../state/lock.js'
import { isMarkedFailed, rollbackTarget } from '../state/state-file.js'
import { sealedFileIntact, type Obtained } from '../state/seal.js'
import { readHostFacts } from '../state/host-facts.js'
import { NO_KVM } from './compat.js'

export interface DoctorComponent {
  readonly name: string
  readonly kind: string
  readonly version: string
  readonly sha256: string
  readonly size: number
  readonly install_path: string
  readonly status: 'ok' | 'modified' | 'missing' | 'mismatch' | 'skipped'
  /** How the status was established: `seal+stat` (trusted from the seal) or `sha256` (rehashed). */
  readonly evidence: 'seal+stat' | 'sha256' | 'none'
  readonly obtained: Obtained | null
}

export interface DoctorLink {
  readonly path: string
  readonly target: string | null
  readonly expected: string
  readonly status: 'ok' | 'missing' | 'wrong' | 'dangling' | 'not-a-symlink'
}

export interface DoctorReleaseRow {
  readonly release_id: string
  readonly version: string | null
  readonly sealed: boolean
  readonly active: boolean
  readonly rollback_target: boolean
  readonly failed: boolean
}

/** Told about the bytes `--deep` rehashes (a progress display); the report is the same without it. */
export interface HashProgress {
  begin(files: readonly { readonly name: string; readonly size: number }[]): void
  bytes(name: string, n: number): void
  end(): void
}

/** The API unit as systemd reports it (ARCHITECTURE.md section 8.1); null in the report when services are not managed. */
export interface DoctorService {
  readonly unit: string
  readonly active_state: string
  readonly sub_state: string
  readonly main_pid: number
  /** When MainPID started (from /proc), null when there is no process. */
  readonly started_at: string | null
  /** The process started before the last switch: it runs the previous release. */
  readonly stale: boolean
}

export interface DoctorReport {
  readonly ok: boolean
  /** Only when problems were found (exit 1): what every failure under --json carries. */
  readonly error?: FailureJson
  readonly root: string
  readonly deep: boolean
  readonly active: { readonly release_id: string; readonly manifest_id: string; readonly version: string; readonly manifest_digest: string; readonly sealed_at: string; readonly signed: boolean } | null
  readonly previous_release_id: string | null
  readonly components: readonly DoctorComponent[]
  readonly compatibility: RuntimeCompatibility | null
  readonly links: readonly DoctorLink[]
  readonly rendered: readonly { readonly path: string; readonly status: 'ok' | 'missing' | 'drifted' }[]
  readonly releases: readonly DoctorReleaseRow[]
  readonly service: DoctorService | null
  readonly problems: readonly string[]
  /** What may keep the appliance from working but is not wrong with the install: no /dev/kvm, binaries whose version was not verified. */
  readonly warnings: readonly string[]
}

/** Group- or other-writable directories and files from the root down through the release trees (invariant 7). */
async function writableByOthers(l: Layout): Promise<string[]> {
  const found: string[] = []
  const check = async (p: string) => {
    const st = await fs.lstat(p).catch(() => null)
    if (st && !st.isSymbolicLink() && (st.mode & 0o022) !== 0) found.push(`${p} is writable by ${st.mode & 0o020 ? 'group' : 'others'} (mode ${(st.mode & 0o7777).toString(8)}); the jailer trusts this path: chmod go-w`)
    return st
  }
  let p = l.root
  await check(p)
  for (const seg of RELEASES.split('/')) await check((p = path.join(p, seg)))
  const walk = async (dir: string): Promise<void> => {
    for (const e of await fs.readdir(dir, { withFileTypes: true }).catch(() => [])) {
      const child = path.join(dir, e.name)
      await check(child)
      if (e.isDirectory()) await walk(child)
    }
  }
  for (const e of await fs.readdir(l.releases, { withFileTypes: true }).catch(() => [])) {
    if (!e.isDirectory()) continue
    const dir = path.join(l.releases, e.name)
    await check(dir)
    await walk(dir)
  }
  return found
}

/** The root's evidence key, when there is one, must be its owner's alone (the launch gate will not sign with it). */
async function evidenceKeyProblems(l: Layout): Promise<string[]> {
  const key = l.host(EVIDENCE_KEY)
  const st = await fs.stat(key).catch(() => null)
  const exposed = st ? exposedSecretProblem(key, st) : null
  return exposed ? [exposed] : []
}

async function linkStatus(l: Layout, linkPath: string, expected: string, st: ActualState['links'][string] | undefined): Promise<DoctorLink> {
  if (!st || st.kind === 'absent') return { path: linkPath, target: null, expected, status: 'missing' }
  if (st.kind !== 'symlink') return { path: linkPath, target: null, expected, status: 'not-a-symlink' }
  if (st.target !== expected) return { path: linkPath, target: st.target, expected, status: 'wrong' }
  const resolves = await fs.stat(l.host(linkPath)).then(
    () => true,
    () => false,
  )
  return { path: linkPath, target: st.target, expected, status: resolves ? 'ok' : 'dangling' }
}

/** How much earlier than the switch a unit's process must have started to be called stale. */
const STALE_MARGIN_MS = 100

/**
 * The unit's state and whether its process predates the last switch (recorded as `switched_at`, or the
 * record's time for records older than it). Problems get the command that fixes them.
 */
async function serviceStatus(state: ActualState['state'], problems: string[]): Promise<DoctorService> {
  const unit = path.basename(API_UNIT)
  const restart = `systemctl restart ${unit}`
  let s: UnitStatus
  try {
    s = await unitStatus(unit)
  } catch (e) {
    problems.push(`cannot read the state of ${unit}: ${(e as Error).message}`)
    return { unit, active_state: 'unknown', sub_state: 'unknown', main_pid: 0, started_at: null, stale: false }
  }
  const started = s.main_pid > 0 ? processStartedAt(s.main_pid) : null
  const last = state.history.at(-1)
  const switchedAt = last ? Date.parse(last.switched_at ?? last.at) : NaN
  // /proc places a start to about 20 ms: a process started that close to the switch is not judged stale.
  const stale = started !== null && Number.isFinite(switchedAt) && started.getTime() < switchedAt - STALE_MARGIN_MS
  if (s.active_state !== 'active' || s.sub_state !== 'running')
    problems.push(`${unit} is not running (ActiveState=${s.active_state} SubState=${s.sub_state}); start it: ${restart}, and read why it stopped: journalctl -u ${unit}`)
  else if (stale)
    problems.push(`${unit} runs a process (MainPID ${s.main_pid}) started ${started!.toISOString()}, before the switch to ${last!.to} at ${last!.switched_at ?? last!.at}: it still runs the previous release; restart it: ${restart}`)
  return { unit, active_state: s.active_state, sub_state: s.sub_state, main_pid: s.main_pid, started_at: started?.toISOString() ?? null, stale }
}

export async function runDoctor(l: Layout, deep: boolean, progress?: HashProgress, serviceManager: ServiceManager = 'none'): Promise<DoctorReport> {
  const actual = await readActualState(l)
  const problems: string[] = []
  const current = actual.current
  const release = actual.releases.find((r) => r.id === current)
  const m = actual.currentManifest
  const components: DoctorComponent[] = []
  let active: DoctorReport['active'] = null

  if (actual.currentLink.kind === 'absent') problems.push('no active release: this host is not installed yet; run install --manifest M')
  else if (current === null) problems.push(`${l.current} is not a symlink to a release id`)
  else if (!release) problems.push(`current names ${current}, which is not a release directory`)
  else if (release.seal.kind !== 'sealed') problems.push(`the active release ${current} is not sealed: ${release.seal.kind === 'invalid' ? release.seal.reason : 'its seal is missing'}; run install --manifest M again`)
  else if (m === null) problems.push(actual.currentManifestProblem ?? `the active release ${current} has no readable ${MANIFEST_FILE}`)
  else {
    // state/ handed over the manifest only because its bytes hash to the seal's digest (a changed
    // one is currentManifestProblem above): nothing to read or check again.
    const seal = release.seal.seal
    active = { release_id: current, manifest_id: m.manifest_id, version: m.version, manifest_digest: seal.manifest_digest, sealed_at: seal.sealed_at, signed: seal.signed }
    const rehashed = deep ? m.components.filter((c) => release.files[c.install_path]?.kind === 'file' && seal.components.some((x) => x.install_path === c.install_path && x.sha256 === c.sha256 && x.status !== 'skipped')) : []
    if (deep) progress?.begin(rehashed)
    // Every file to rehash starts at once: the large ones hash side by side, one per core.
    const digests = new Map(rehashed.map((c) => [c.install_path, hashFileOffThread(path.join(l.release(current), c.install_path), progress ? (n) => progress.bytes(c.name, n) : undefined).catch(() => null)]))
    for (const c of m.components) {
      const s = seal.components.find((x) => x.install_path === c.install_path)
      const base = { name: c.name, kind: c.kind, version: c.version, sha256: c.sha256, size: c.size, install_path: c.install_path }
      if (!s || s.sha256 !== c.sha256) {
        problems.push(`${c.name}: the seal of ${current} does not record ${c.install_path} with the manifest's sha256`)
        components.push({ ...base, status: 'mismatch', evidence: 'none', obtained: null })
        continue
      }
      if (s.status === 'skipped') {
        components.push({ ...base, status: 'skipped', evidence: 'none', obtained: null })
        continue
      }
      const st = release.files[c.install_path]
      let status: DoctorComponent['status'] = st?.kind === 'file' ? (sealedFileIntact(s, st) ? 'ok' : 'modified') : 'missing'
      let evidence: DoctorComponent['evidence'] = 'seal+stat'
      const digest = digests.get(c.install_path)
      if (digest) {
        const d = await digest
        status = d && d.sha256 === c.sha256 && d.size === c.size ? 'ok' : 'mismatch'
        evidence = 'sha256'
      }
      if (status === 'modified') problems.push(`${c.name}: ${c.install_path} changed since it was sealed (size, mtime or inode); run doctor --deep, or install --manifest M to repair`)
      if (status === 'missing') problems.push(`${c.name}: ${c.install_path} is missing from release ${current}; run install --manifest M to repair`)
      if (status === 'mismatch') problems.push(`${c.name}: ${c.install_path} fails its sha256; run install --manifest M --deep to repair (a stat check alone does not see it)`)
      components.push({ ...base, status, evidence, obtained: s.obtained })
    }
  }

  if (deep) progress?.end()
  const links: DoctorLink[] = []
  // An optional component sealed as skipped has no file to link to: no link is the right state.
  const skipped = new Set(release?.seal.kind === 'sealed' ? release.seal.seal.components.flatMap((c) => (c.status === 'skipped' ? [c.name] : [])) : [])
  if (m) for (const want of linksOf(m)) {
    const link = await linkStatus(l, want.path, want.target, actual.links[want.path])
    if (link.status === 'missing' && skipped.has(want.component)) continue
    // A name too long to exist is reported once, below, with what to do.
    if (link.status !== 'ok' && !actual.tooLong.includes(want.path)) problems.push(`compatibility link ${want.path} is ${link.status}${link.target ? ` (-> ${link.target})` : ''}; expected -> ${want.target}`)
    links.push(link)
  }

  const rendered = m && active
    ? renderApplianceFiles(m, active.manifest_digest).map((f) => {
        const now = actual.rendered[f.path]
        const status = now === null || now === undefined ? ('missing' as const) : now === f.content ? ('ok' as const) : ('drifted' as const)
        if (status !== 'ok') problems.push(`${f.path} is ${status}; run install --manifest M to render it again`)
        return { path: f.path, status }
      })
    : []

  const target = rollbackTarget(actual.state, current, (id) => actual.releases.some((r) => r.id === id && r.seal.kind === 'sealed'))
  const last = actual.state.history.at(-1)
  if (current !== null && last !== undefined && last.to !== current) problems.push(`state.json last recorded ${last.to} as active, but current names ${current}; run the last command again to record it`)
  if (actual.journalProblem !== null) problems.push(actual.journalProblem)
  if (actual.journal && !actual.journal.done) {
    // An unfinished journal whose command still holds the lock is a change under way, not one to redo.
    const holder = await readLock(l.lockFile)
    const j = actual.journal
    if (holder !== null && holder.pid > 0 && holderAlive(holder)) problems.push(`${/^[aeiou]/.test(j.operation) ? 'an' : 'a'} ${j.operation} to ${j.to} is in progress (pid ${holder.pid}, since ${j.started_at}); wait for it to finish, then run doctor again`)
    else problems.push(`an interrupted ${j.operation} to ${j.to} did not finish; run the same command again`)
  }
  for (const u of actual.unsafePaths) problems.push(`${u.path} ${u.problem}`)
  for (const p of actual.tooLong)
    problems.push(`${p}: name too long for this filesystem (ENAMETOOLONG: a segment over ${NAME_MAX} bytes or a path over ${PATH_MAX}); a release names a path this host cannot hold: upgrade or roll back to a release that passes manifest validate`)
  for (const u of actual.unsafeHooks) problems.push(`post-switch hook path ${u.path} ${u.problem}`)
  problems.push(...(await writableByOthers(l)))
  // Unsafe trust material refuses every manifest; say so before the next upgrade finds out.
  problems.push(...(await readTrustedKeys(l.root)).problems)
  problems.push(...(await trustRootProblems(l.root, new Date())))
  problems.push(...(await evidenceKeyProblems(l)))
  const service = serviceManager === 'systemd' ? await serviceStatus(actual.state, problems) : null
  // Warnings: what install and upgrade warned of and still holds. Not problems: the install is as sealed.
  const warnings: string[] = []
  if (!(await readHostFacts(l)).kvm) warnings.push(NO_KVM)
  // The probe is not run again here (plain doctor opens no artifact): the switch recorded what it could not verify.
  if (current !== null && last?.to === current) warnings.push(...(last.unverified ?? []))

  return {
    ok: problems.length === 0,
    root: l.root,
    deep,
    active,
    previous_release_id: target,
    components,
    compatibility: m?.runtime_compatibility ?? null,
    links,
    rendered,
    releases: actual.releases.map((r) => ({
      release_id: r.id,
      version: r.seal.kind === 'sealed' ? r.seal.seal.version : null,
      sealed: r.seal.kind === 'sealed',
      active: r.id === current,
      rollback_target: r.id === target,
      failed: isMarkedFailed(actual.state, r.id),
    })),
    service,
    problems,
    warnings,
  }
}
