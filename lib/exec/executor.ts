// The executor: the only writer of a host. It applies a Plan's steps in order; every step
// checks whether it is already done, so rerunning a plan after a crash is safe. The journal
// records the operation in progress so a rerun finishes it (DESIGN.md section 3).
import fs from 'node:fs/promises'
import path from 'node:path'
import type { Layout } from '../layout.js'
import { HOOKS_DIR, MANIFEST_FILE, SIGNATURE_FILE } from '../layout.js'
import type { ArtifactRef, Plan, Step } from '../plan/types.js'
import { fsyncDir, fsyncPath, mkdirUnder, renameDurable, switchSymlink, writeFileAtomic } from '../fsx.js'
import { hashFile } from '../hash.js'
import { errnoCode, operationFailed } from '../errors.js'
import { fetchArtifact } from '../fetch/index.js'
import { FetchError, type FetchRequest } from '../fetch/types.js'
import type { MinSpeed } from '../fetch/watch.js'
import { assembleDelta, type DeltaInput } from '../chunks/assemble.js'
import { CHUNK_INDEX_KIND } from '../desired.js'
import { type Obtained, type Seal, type SealedComponent, readSeal, writeSeal } from '../../state/seal.js'
import { readStateFile, writeStateFile } from '../../state/state-file.js'
import { type Journal, readJournal, writeJournal } from '../../state/journal.js'
import { runHook } from './hooks.js'
import { fixtureUrl, smokeIngress } from './smoke.js'
import { formatBytes } from '../bytes.js'
import { restartUnit, systemctl, waitHealthy } from './services.js'
import { unitOf } from '../appliance-files.js'
import { crashAfterBytes, crashAtBoundary } from './crash-seam.js'
import { preflightSpace } from './preflight.js'
import { probeVersion } from './probe.js'

/** A step's system error with its context; `code` stays for printFailure's advice (ENOSPC: prune ...). */
class StepError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message)
  }
}

/** Node's errors from a system call (they carry `syscall`), not a library's coded errors. */
const isSystemError = (e: unknown): e is Error & { code: string } => e instanceof Error && 'syscall' in e && errnoCode(e) !== undefined

export interface Reporter {
  /** Once, before the first step of a plan that has steps (a progress display sizes itself from it). */
  begin?(plan: Plan): void
  step(step: Step, phase: 'start' | 'done', detail?: string): void
  bytes(component: string, n: number): void
  warn(text: string): void
  /**
   * A wait that may last (the smoke, a unit's restart and health wait, a slow hook): what it waits
   * for and how long at most, then a line per notice interval. Progress, not a warning: --quiet drops it.
   */
  waiting?(text: string): void
  /** The change was stopped by a signal: where the host stands and how to resume. Printed even with --quiet. */
  interrupted?(text: string): void
}

/** How often a long wait says it is still waiting (terraform's "Still creating... [10s elapsed]"). */
export const WAIT_NOTICE_MS = 10_000

export interface ExecContext {
  readonly layout: Layout
  /** The verified manifest bytes (and detached signature) the release is sealed with. */
  readonly manifestBytes: Buffer
  readonly signatureBytes: Buffer | null
  /** null for a manifest fetched from a URL (FetchRequest.manifestDir). */
  readonly manifestDir: string | null
  readonly manifestId: string
  readonly version: string
  readonly fetch: { readonly allowHttp: boolean; readonly stallTimeoutMs: number; readonly minSpeed: MinSpeed; readonly retries: number; readonly backoffMs: number }
  readonly hookTimeoutMs: number
  /** Written into each switch record of state.json (`history`). */
  readonly toolVersion: string
  readonly user: string
  readonly report: Reporter
  readonly now: () => Date
  /** Chunk indexes read while planning, by component, for delta steps. */
  readonly deltas?: ReadonlyMap<string, DeltaInput>
  /** Verified bytes fetched while planning (chunk indexes), by sha256: not fetched twice. */
  readonly prefetched?: ReadonlyMap<string, Buffer>
  /** The interval of the still-waiting lines (WAIT_NOTICE_MS unless a spec shortens it). */
  readonly waitNoticeMs?: number
}

export interface ExecResult {
  /** Bytes that crossed the wire (or were read from file:// sources) in this run. */
  readonly bytesTransferred: number
  /** Optional components whose artifact was absent. */
  readonly skipped: readonly string[]
}

const DIR_MODE = 0o755

/** Remote fetches that run at once, at most. */
export const PARALLEL_FETCHES = 4

/** How many steps from `at` form a run of http(s) fetches to do together (1 when none). */
export function remoteFetchRun(steps: readonly Step[], at: number): number {
  const remote = (s: Step | undefined) => s?.action === 'fetch' && /^https?:/i.test(s.artifact.url)
  let n = 0
  while (n < PARALLEL_FETCHES && remote(steps[at + n])) n++
  return Math.max(1, n)
}

class Run {
  private bytesTransferred = 0
  private readonly skipped = new Set<string>()
  private readonly obtained = new Map<string, Obtained>()
  private journal: Journal | null = null
  /** What the probe could not verify (firecracker, jailer), kept in the switch record for `doctor`. */
  private readonly unverified: string[] = []
  /** MainPID of each unit before this run restarted it: the health wait wants another. */
  private readonly pidBefore = new Map<string, number>()

  constructor(
    private readonly plan: Plan,
    private readonly ctx: ExecContext,
  ) {}

  /** Creates directories below the root, never through a planted symlink. */
  private mkdirs(dir: string): Promise<void> {
    return mkdirUnder(this.ctx.layout.root, dir, DIR_MODE)
  }

  async execute(): Promise<ExecResult> {
    const { plan, ctx } = this
    if (plan.steps.length === 0) return this.result()
    await preflightSpace(ctx.layout, plan)
    await this.openJournal()
    const stopSignals = this.sayWhereOnStop()
    try {
      return await this.executeSteps()
    } finally {
      stopSignals()
    }
  }

  private async executeSteps(): Promise<ExecResult> {
    const { plan, ctx } = this
    ctx.report.begin?.(plan)
    for (let i = 0; i < plan.steps.length; ) {
      const group = plan.steps.slice(i, i + remoteFetchRun(plan.steps, i))
      if (group.length > 1) {
        await this.applyTogether(group, i)
        i += group.length
        continue
      }
      const step = plan.steps[i]
      crashAtBoundary(i + 1)
      ctx.report.step(step, 'start')
      const detail = await this.apply(step).catch((e: unknown) => Promise.reject(this.named(step, e)))
      await this.progressed(step)
      ctx.report.step(step, 'done', detail)
      i++
    }
    crashAtBoundary(plan.steps.length + 1)
    await this.closeJournal()
    await this.removeEmptyStaging()
    return this.result()
  }

  /**
   * Ctrl-C (or TERM, HUP) during the change: one line saying where the host stands and that the
   * same command resumes, then the process dies of the same signal (a shell sees 130 for SIGINT).
   * The handler removes itself and re-raises, as hooks.ts (which kills running hook groups) and
   * the progress bars (which give the terminal back) do: every listener of the signal runs once.
   * Returns the function that stops listening.
   */
  private sayWhereOnStop(): () => void {
    const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const
    const stop = () => {
      for (const sig of signals) process.removeListener(sig, onSignal)
    }
    const onSignal = (signal: NodeJS.Signals) => {
      stop()
      const where = this.journal?.switched
        ? `release ${this.plan.target_release_id} is active but its activation did not finish`
        : `nothing was switched, ${this.activeNote()}`
      this.ctx.report.interrupted?.(`interrupted by ${signal}: ${where}; run the same command again to ${this.journal?.switched ? 'finish' : 'resume'}`)
      process.kill(process.pid, signal)
    }
    for (const sig of signals) process.once(sig, onSignal)
    return stop
  }

  /**
   * Runs `work`; while it lasts, says `start` (if any) at once and `still(elapsed s)` every notice interval.
   */
  private async noticed<T>(work: () => Promise<T>, o: { start?: string; still: (elapsedS: number) => string }): Promise<T> {
    const say = this.ctx.report.waiting?.bind(this.ctx.report)
    if (!say) return work()
    const began = Date.now()
    if (o.start) say(o.start)
    const timer = setInterval(() => say(o.still(Math.round((Date.now() - began) / 1000))), this.ctx.waitNoticeMs ?? WAIT_NOTICE_MS)
    try {
      return await work()
    } finally {
      clearInterval(timer)
    }
  }

  /**
   * Remote fetches run together: over a distant link each transfer is bound by its round
   * trips, not by this host. Their step boundaries are crossed before any starts (a boundary
   * inside the group would not be a quiet point), every transfer is let finish or fail before
   * the first failure is thrown, and 'done' is reported in plan order.
   */
  private async applyTogether(group: Step[], first: number): Promise<void> {
    group.forEach((_, k) => crashAtBoundary(first + k + 1))
    for (const step of group) this.ctx.report.step(step, 'start')
    const results = await Promise.allSettled(group.map((step) => this.apply(step)))
    for (const [k, r] of results.entries()) {
      if (r.status === 'rejected') throw this.named(group[k], r.reason)
      this.ctx.report.step(group[k], 'done', r.value)
    }
  }

  private result(): ExecResult {
    return { bytesTransferred: this.bytesTransferred, skipped: [...this.skipped] }
  }

  private async openJournal(): Promise<void> {
    const { plan, ctx } = this
    await this.mkdirs(ctx.layout.stateDir)
    const previous = await readJournal(ctx.layout.journalFile)
    const resuming = previous !== null && !previous.done && previous.to === plan.target_release_id
    const switchStep = plan.steps.find((s) => s.action === 'switch')
    this.journal = {
      format_version: 1,
      operation: plan.operation === 'fetch' ? 'fetch' : resuming && previous.operation !== 'fetch' ? previous.operation : plan.operation,
      from: resuming ? previous.from : switchStep?.action === 'switch' ? switchStep.from : plan.current_release_id,
      to: plan.target_release_id,
      manifest_digest: plan.manifest.digest,
      started_at: resuming ? previous.started_at : ctx.now().toISOString(),
      switched: plan.current_release_id === plan.target_release_id && plan.operation !== 'fetch',
      done: false,
      // A rerun finishing the activation keeps what the interrupted run proved.
      ...(resuming && previous.switched_at !== undefined ? { switched_at: previous.switched_at } : {}),
      ...(resuming && previous.progress !== undefined ? { progress: previous.progress } : {}),
    }
    await writeJournal(ctx.layout.journalFile, this.journal)
  }

  /**
   * The steps after the switch a rerun must not repeat or skip are journaled one by one: a unit file
   * rendered (it still needs its daemon-reload), the reload, enable, restart and health wait. The rest
   * are idempotent and cheap to check again, so they cost no journal write.
   */
  private async progressed(step: Step): Promise<void> {
    const journaled = step.action === 'daemon-reload' || step.action === 'enable' || step.action === 'restart' || step.action === 'health' || (step.action === 'render' && unitOf(step.path) !== null)
    if (!this.journal?.switched || !journaled) return
    this.journal = { ...this.journal, progress: [...(this.journal.progress ?? []), step.id] }
    await writeJournal(this.ctx.layout.journalFile, this.journal)
  }

  private async closeJournal(): Promise<void> {
    if (!this.journal) return
    this.journal = { ...this.journal, done: true }
    await writeJournal(this.ctx.layout.journalFile, this.journal)
  }

  private async removeEmptyStaging(): Promise<void> {
    for (const dir of [this.ctx.layout.parts, this.ctx.layout.staging]) await fs.rmdir(dir).catch(() => undefined)
  }

  private async apply(step: Step): Promise<string | undefined> {
    switch (step.action) {
      case 'fetch':
        return this.fetchStep(step.release_id, step.artifact, step.staged)
      case 'delta':
        return this.deltaStep(step.release_id, step.artifact)
      case 'link':
        return this.linkStep(step.release_id, step.artifact, step.from_release)
      case 'adopt':
        return this.adoptStep(step.release_id, step.artifact)
      case 'seal':
        return this.sealStep(step.release_id, step.replaces_unsealed)
      case 'repair':
        return this.repairStep(step.release_id, step.artifact)
      case 'probe':
        return this.probeStep(step)
      case 'switch':
        await switchSymlink(this.ctx.layout.current, step.to)
        if (this.journal) {
          this.journal = { ...this.journal, switched: true, switched_at: this.ctx.now().toISOString(), progress: [] }
          await writeJournal(this.ctx.layout.journalFile, this.journal)
        }
        return `current -> ${step.to}`
      case 'compat-link':
        return this.compatLinkStep(step)
      case 'render': {
        const file = this.ctx.layout.host(step.path)
        await this.mkdirs(path.dirname(file))
        await writeFileAtomic(file, step.content, step.mode)
        return undefined
      }
      case 'daemon-reload':
        await systemctl('daemon-reload')
        return undefined
      case 'enable':
        await systemctl('enable', step.unit)
        return undefined
      case 'restart': {
        const unit = step.unit
        this.pidBefore.set(unit, await this.noticed(() => restartUnit(unit), { still: (s) => `still restarting ${unit}... [${s}s elapsed]` }))
        return undefined
      }
      case 'health': {
        const w = { unit: step.unit, pidBefore: this.pidBefore.get(step.unit) ?? null, settleS: step.settle_s, timeoutS: step.timeout_s }
        const h = await this.noticed(() => waitHealthy(w), {
          start: `waiting for ${w.unit} to run a new process and keep it ${w.settleS} s (at most ${w.timeoutS} s, --service-timeout)`,
          still: (s) => `still waiting for ${w.unit} to be healthy... [${s}s elapsed]`,
        })
        return `MainPID ${h.pid} stable for ${step.settle_s} s; healthy after ${h.seconds.toFixed(1)} s`
      }
      case 'hooks': {
        const env = { root: this.ctx.layout.root, releaseId: step.release_id, previousReleaseId: step.previous_release_id, operation: step.operation }
        const atMostS = this.ctx.hookTimeoutMs / 1000
        // In lexical order; only a hook that lasts past a notice interval is talked about.
        for (const name of step.hooks)
          await this.noticed(() => runHook(this.ctx.layout.host(HOOKS_DIR), name, env, this.ctx.hookTimeoutMs), {
            still: (s) => `post-switch hook ${name} still running... [${s}s elapsed] (at most ${atMostS} s, --hook-timeout)`,
          })
        return `${step.hooks.length} hook(s) passed`
      }
      case 'smoke': {
        const { url, release_id: releaseId, timeout_s: timeoutS } = step
        await this.noticed(() => smokeIngress(url, releaseId, timeoutS), {
          start: `waiting for ${fixtureUrl(url)} to answer release ${releaseId} (at most ${timeoutS} s, --smoke-timeout)`,
          still: (s) => `still waiting for the ingress fixture to answer ${releaseId}... [${s}s elapsed]`,
        })
        return 'ingress fixture answered'
      }
      case 'record':
        return this.recordStep(step)
      case 'clean':
        // Files and links only (the state reader lists no directory): rm never recurses here.
        for (const p of step.paths) await fs.rm(this.ctx.layout.host(p), { force: true })
        return undefined
      default:
        return unreachable(step)
    }
  }

  private stagedPath(releaseId: string, a: ArtifactRef): string {
    return path.join(this.ctx.layout.staged(releaseId), a.install_path)
  }

  private fetchRequest(a: ArtifactRef, dest: string): FetchRequest {
    return {
      component: a.component,
      url: a.url,
      sha256: a.sha256,
      size: a.size,
      dest,
      mode: a.mode,
      partsDir: this.ctx.layout.parts,
      manifestDir: this.ctx.manifestDir,
      allowHttp: this.ctx.fetch.allowHttp,
      stallTimeoutMs: this.ctx.fetch.stallTimeoutMs,
      minSpeed: this.ctx.fetch.minSpeed,
      retries: this.ctx.fetch.retries,
      backoffMs: this.ctx.fetch.backoffMs,
      onBytes: (n) => {
        this.ctx.report.bytes(a.component, n)
        crashAfterBytes(n)
      },
    }
  }

  /** Assembles from local chunks plus fetched ranges; any failure falls back to a full, verified fetch. */
  private async deltaStep(releaseId: string, a: ArtifactRef): Promise<string> {
    const input = this.ctx.deltas?.get(a.component)
    if (!input) return this.fetchStep(releaseId, a, false)
    const dest = this.stagedPath(releaseId, a)
    await this.mkdirs(path.dirname(dest))
    await this.mkdirs(this.ctx.layout.parts)
    await fs.rm(dest, { force: true })
    try {
      const r = await assembleDelta(this.fetchRequest(a, dest), input)
      this.bytesTransferred += r.fetched
      this.obtained.set(a.component, { how: 'delta', bytes_fetched: r.fetched, bytes_reused: r.reused })
      return `delta: ${formatBytes(r.reused)} reused, ${formatBytes(r.fetched)} fetched`
    } catch (e) {
      this.ctx.report.warn(`${a.component}: delta failed (${(e as Error).message}); fetching it whole`)
      return this.fetchStep(releaseId, a, false)
    }
  }

  /** Downloads into the part, verifies, moves into staging. `staged` files are rehashed first. */
  private async fetchStep(releaseId: string, a: ArtifactRef, staged: boolean): Promise<string> {
    const dest = this.stagedPath(releaseId, a)
    if (staged && (await this.verifiedAt(dest, a, { ownInode: true }))) {
      await fs.chmod(dest, a.mode)
      this.obtained.set(a.component, { how: 'fetched', bytes_fetched: 0 })
      return 'already staged and verified'
    }
    await this.mkdirs(path.dirname(dest))
    await this.mkdirs(this.ctx.layout.parts)
    await fs.rm(dest, { force: true })
    const prefetched = this.ctx.prefetched?.get(a.sha256)
    if (prefetched && prefetched.length === a.size) {
      await writeFileAtomic(dest, prefetched, a.mode)
      this.bytesTransferred += a.size
      this.obtained.set(a.component, { how: 'fetched', bytes_fetched: a.size })
      return `${formatBytes(a.size)} (read while planning)`
    }
    try {
      const r = await fetchArtifact(this.fetchRequest(a, dest))
      this.bytesTransferred += r.bytesTransferred
      this.obtained.set(a.component, { how: 'fetched', bytes_fetched: r.bytesTransferred })
      return r.resumedFrom > 0 ? `resumed at ${formatBytes(r.resumedFrom)}, ${formatBytes(r.bytesTransferred)}` : formatBytes(r.bytesTransferred)
    } catch (e) {
      if (e instanceof FetchError && e.reason === 'absent' && !a.required) {
        this.skipped.add(a.component)
        return 'optional and absent: skipped'
      }
      if (e instanceof FetchError && a.kind === CHUNK_INDEX_KIND) {
        // A chunk index only speeds up later upgrades: without it this release just cannot be a delta source.
        this.skipped.add(a.component)
        this.ctx.report.warn(`${e.message}; the release is sealed without this chunk index`)
        return 'chunk index unusable: skipped'
      }
      if (e instanceof FetchError) throw operationFailed(`${e.message}. Nothing was switched; ${this.activeNote()}`)
      // A write error's system message names no file: say which directory it was writing.
      if (isSystemError(e)) throw new StepError(`${a.component}: ${e.message} (fetching into ${this.ctx.layout.parts}); ${this.hostStands()}`, e.code)
      throw e
    }
  }

  /** A system error (disk full, permissions) named by its step and by where the host now stands. */
  private named(step: Step, e: unknown): unknown {
    return isSystemError(e) && !(e instanceof StepError) ? new StepError(`${step.id}: ${e.message}; ${this.hostStands()}`, e.code) : e
  }

  /** Whether the switch happened decides what an operator does next. */
  private hostStands(): string {
    if (this.journal?.switched) return `release ${this.plan.target_release_id} is active; run the same command again to finish`
    return `nothing was switched, ${this.activeNote()}`
  }

  private activeNote(): string {
    const cur = this.plan.current_release_id
    return cur ? `the active release is still ${cur}` : 'no release is active'
  }

  /**
   * The bytes at `file` are the artifact's, in a regular file of the root's own (never through a
   * symlink; with `ownInode`, not an inode shared with a file elsewhere, whose writer could change it).
   */
  private async verifiedAt(file: string, a: ArtifactRef, o: { ownInode?: boolean } = {}): Promise<boolean> {
    try {
      const st = await fs.lstat(file)
      if (!st.isFile() || (o.ownInode && st.nlink !== 1)) return false
      const d = await hashFile(file)
      return d.sha256 === a.sha256 && d.size === a.size
    } catch {
      return false
    }
  }

  private async linkStep(releaseId: string, a: ArtifactRef, from: string): Promise<string> {
    const src = path.join(this.ctx.layout.release(from), a.install_path)
    const dest = this.stagedPath(releaseId, a)
    await this.mkdirs(path.dirname(dest))
    const [s, d] = await Promise.all([fs.stat(src), fs.lstat(dest).catch(() => null)])
    if (d?.ino !== s.ino) {
      await fs.rm(dest, { force: true })
      await fs.link(src, dest)
    }
    this.obtained.set(a.component, { how: 'linked', from_release: from })
    return `hard link to ${from}`
  }

  private async adoptStep(releaseId: string, a: ArtifactRef): Promise<string> {
    const local = path.join(this.ctx.layout.release(releaseId), a.install_path)
    if (await this.verifiedAt(local, a, { ownInode: true })) {
      const dest = this.stagedPath(releaseId, a)
      await this.mkdirs(path.dirname(dest))
      await fs.rm(dest, { force: true })
      await fs.link(local, dest)
      await fs.chmod(dest, a.mode)
      this.obtained.set(a.component, { how: 'verified-local' })
      return 'local copy verified'
    }
    return this.fetchStep(releaseId, a, false)
  }

  /** Collects what is staged into a seal, writes it, then renames the release into place. */
  private async sealStep(releaseId: string, replacesUnsealed: boolean): Promise<string> {
    const { layout } = this.ctx
    const dir = layout.staged(releaseId)
    const final = layout.release(releaseId)
    const components: SealedComponent[] = []
    for (const c of this.plan.steps.flatMap((s) => (s.action === 'fetch' || s.action === 'delta' || s.action === 'link' || s.action === 'adopt') && s.release_id === releaseId ? [s.artifact] : [])) {
      if (this.skipped.has(c.component)) {
        components.push({ name: c.component, kind: c.kind, install_path: c.install_path, status: 'skipped', sha256: c.sha256, size: c.size, reason: 'optional artifact absent at its source' })
        continue
      }
      const file = path.join(dir, c.install_path)
      const st = await fs.stat(file)
      if (st.size !== c.size) throw operationFailed(`${c.component}: staged file has ${st.size} bytes, not ${c.size}; run the command again`)
      components.push({
        name: c.component,
        kind: c.kind,
        install_path: c.install_path,
        status: 'installed',
        sha256: c.sha256,
        size: c.size,
        mtime_ms: Math.trunc(st.mtimeMs),
        ino: st.ino,
        obtained: this.obtained.get(c.component) ?? { how: 'fetched', bytes_fetched: 0 },
      })
    }
    await this.mkdirs(dir)
    await writeFileAtomic(path.join(dir, MANIFEST_FILE), this.ctx.manifestBytes, 0o444)
    if (this.ctx.signatureBytes) await writeFileAtomic(path.join(dir, SIGNATURE_FILE), this.ctx.signatureBytes, 0o444)
    await fsyncTree(dir)
    const seal: Seal = {
      format_version: 1,
      release_id: releaseId,
      manifest_id: this.ctx.manifestId,
      version: this.ctx.version,
      manifest_digest: this.plan.manifest.digest,
      sealed_at: this.ctx.now().toISOString(),
      signed: this.ctx.signatureBytes !== null,
      components,
    }
    await writeSeal(dir, seal)
    await fs.chmod(dir, DIR_MODE)
    if (replacesUnsealed) {
      const aside = path.join(layout.staging, `.replaced-${releaseId}`)
      await fs.rm(aside, { recursive: true, force: true })
      await renameDurable(final, aside).catch((e) => {
        if (errnoCode(e) !== 'ENOENT') throw e
      })
      await fs.rm(aside, { recursive: true, force: true })
    }
    await renameDurable(dir, final)
    return `sealed ${releaseId}`
  }

  private async repairStep(releaseId: string, a: ArtifactRef): Promise<string> {
    const { layout } = this.ctx
    const final = path.join(layout.release(releaseId), a.install_path)
    let how: Obtained
    if (await this.verifiedAt(final, a)) {
      how = { how: 'verified-local' }
    } else {
      await this.fetchStep(releaseId, a, false)
      const staged = this.stagedPath(releaseId, a)
      await this.mkdirs(path.dirname(final))
      await renameDurable(staged, final)
      await fs.rm(layout.staged(releaseId), { recursive: true, force: true })
      how = { how: 'repaired', bytes_fetched: this.obtained.get(a.component)?.how === 'fetched' ? (this.obtained.get(a.component) as { bytes_fetched: number }).bytes_fetched : 0 }
    }
    const read = await readSeal(layout.release(releaseId))
    if (read.kind !== 'sealed') throw operationFailed(`release ${releaseId}: ${read.kind === 'invalid' ? read.reason : 'the seal is missing'}`)
    const st = await fs.stat(final)
    const components = read.seal.components.map((c): SealedComponent =>
      c.install_path === a.install_path && c.status === 'installed' ? { ...c, mtime_ms: Math.trunc(st.mtimeMs), ino: st.ino, obtained: how } : c,
    )
    await writeSeal(layout.release(releaseId), { ...read.seal, components })
    return how.how === 'verified-local' ? 'bytes intact; seal updated' : 'replaced with a verified copy'
  }

  private async probeStep(step: Extract<Step, { action: 'probe' }>): Promise<string> {
    const notes: string[] = []
    // Asked side by side (each is a process start); judged in the plan's order.
    const answers = await Promise.all(step.binaries.map((b) => probeVersion(path.join(this.ctx.layout.release(step.release_id), b.install_path), b.expect)))
    for (const [k, b] of step.binaries.entries()) {
      const r = answers[k]
      if (r.kind === 'wrong')
        throw operationFailed(`${b.component} of release ${step.release_id} reports version ${r.reported}, but the manifest's firecracker_version is ${b.expect}. Nothing was switched; ${this.activeNote()}`)
      if (r.kind === 'unrunnable') {
        const text = `${b.component} of release ${step.release_id} could not be asked for its version (${r.why}); not verified`
        this.unverified.push(text)
        this.ctx.report.warn(text)
      }
      notes.push(`${b.component} ${r.kind === 'ok' ? 'ok' : 'not verified'}`)
    }
    return notes.join(', ')
  }

  private async compatLinkStep(step: Extract<Step, { action: 'compat-link' }>): Promise<string | undefined> {
    const file = this.ctx.layout.host(step.path)
    if (step.change === 'remove') {
      const st = await fs.lstat(file).catch(() => null)
      if (st?.isSymbolicLink()) {
        await fs.unlink(file)
        await fsyncDir(path.dirname(file))
      }
      return undefined
    }
    if (step.component !== null && this.skipped.has(step.component)) {
      // The optional file is absent: a link an earlier release left here would dangle.
      if ((await fs.lstat(file).catch(() => null))?.isSymbolicLink()) {
        await fs.unlink(file)
        await fsyncDir(path.dirname(file))
      }
      return 'component absent (optional): no link'
    }
    await this.mkdirs(path.dirname(file))
    const st = await fs.lstat(file).catch(() => null)
    if (st && !st.isSymbolicLink()) throw operationFailed(`${step.path} is not a symlink; move it aside and run the command again`)
    await switchSymlink(file, step.link_target)
    return `-> ${step.link_target}`
  }

  private async recordStep(step: Extract<Step, { action: 'record' }>): Promise<string> {
    const file = this.ctx.layout.stateFile
    const state = await readStateFile(file)
    // A kill between the rename and its journal entry leaves no switched_at: the operation's start is before the switch too.
    const switchedAt = this.journal?.to === step.to ? this.journal.switched_at ?? this.journal.started_at : undefined
    state.history.push({
      op: step.operation,
      from: step.from,
      to: step.to,
      at: this.ctx.now().toISOString(),
      result: step.result,
      ...(switchedAt ? { switched_at: switchedAt } : {}),
      tool_version: this.ctx.toolVersion,
      user: this.ctx.user,
      ...(this.unverified.length > 0 ? { unverified: [...this.unverified] } : {}),
    })
    // A release that activates and passes its checks is no longer failed; a rollback proves nothing (no smoke).
    if (step.result === 'ok' && (step.operation === 'install' || step.operation === 'upgrade')) delete state.failed[step.to]
    await this.mkdirs(path.dirname(file))
    await writeStateFile(file, state)
    return `${step.from ?? '(none)'} -> ${step.to}`
  }
}

function unreachable(step: never): never {
  throw new Error(`unknown plan step ${JSON.stringify(step)}`)
}

/** fsync every file and directory below `dir`, children first. */
async function fsyncTree(dir: string): Promise<void> {
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name)
    if (entry.isDirectory()) await fsyncTree(p)
    else if (entry.isFile()) await fsyncPath(p)
  }
  await fsyncDir(dir)
}

export const execute = (plan: Plan, ctx: ExecContext): Promise<ExecResult> => new Run(plan, ctx).execute()
