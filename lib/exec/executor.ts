// The executor: the only writer of a host. It applies a Plan's steps in order; every step
// checks whether it is already done, so rerunning a plan after a crash is safe. The journal
// records the operation in progress so a rerun finishes it (ARCHITECTURE.md section 3). This
// file keeps the loop, the journal and the context of a failure; the steps' bodies live in
// steps/ by purpose: obtain.ts (fetch, delta, link, adopt), seal.ts (seal, repair),
// activate.ts (probe, switch, compat links, render, services, hooks, smoke, record, clean).
import fs from 'node:fs/promises'
import type { Plan, Step } from '../plan/types.js'
import { mkdirUnder } from '../fsx.js'
import type { Obtained } from '../../state/seal.js'
import { type Journal, readJournal, writeJournal } from '../../state/journal.js'
import { unitOf } from '../appliance-files.js'
import { crashAtBoundary } from './crash-seam.js'
import { preflightSpace } from './preflight.js'
import { DIR_MODE, type ExecContext, type ExecResult, StepError, type StepRun, WAIT_NOTICE_MS, isSystemError } from './context.js'
import { adoptStep, deltaStep, fetchStep, linkStep } from './steps/obtain.js'
import { repairStep, sealStep } from './steps/seal.js'
import * as activate from './steps/activate.js'

export type { ExecContext, ExecResult, Reporter } from './context.js'
export { WAIT_NOTICE_MS } from './context.js'

/** Remote fetches that run at once, at most. */
export const PARALLEL_FETCHES = 4

/** How many steps from `at` form a run of http(s) fetches to do together (1 when none). */
export function remoteFetchRun(steps: readonly Step[], at: number): number {
  const remote = (s: Step | undefined) => s?.action === 'fetch' && /^https?:/i.test(s.artifact.url)
  let n = 0
  while (n < PARALLEL_FETCHES && remote(steps[at + n])) n++
  return Math.max(1, n)
}

class Run implements StepRun {
  private bytesTransferred = 0
  readonly skipped = new Set<string>()
  readonly obtained = new Map<string, Obtained>()
  journal: Journal | null = null
  readonly unverified: string[] = []
  readonly pidBefore = new Map<string, number>()

  constructor(
    readonly plan: Plan,
    readonly ctx: ExecContext,
  ) {}

  mkdirs(dir: string): Promise<void> {
    return mkdirUnder(this.ctx.layout.root, dir, DIR_MODE)
  }

  transferred(n: number): void {
    this.bytesTransferred += n
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

  async noticed<T>(work: () => Promise<T>, o: { start?: string; still: (elapsedS: number) => string }): Promise<T> {
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
        return fetchStep(this, step.release_id, step.artifact, step.staged)
      case 'delta':
        return deltaStep(this, step.release_id, step.artifact)
      case 'link':
        return linkStep(this, step.release_id, step.artifact, step.from_release)
      case 'adopt':
        return adoptStep(this, step.release_id, step.artifact)
      case 'seal':
        return sealStep(this, step.release_id, step.replaces_unsealed)
      case 'repair':
        return repairStep(this, step.release_id, step.artifact)
      case 'probe':
        return activate.probeStep(this, step)
      case 'switch': {
        const detail = await activate.switchStep(this, step)
        if (this.journal) {
          this.journal = { ...this.journal, switched: true, switched_at: this.ctx.now().toISOString(), progress: [] }
          await writeJournal(this.ctx.layout.journalFile, this.journal)
        }
        return detail
      }
      case 'compat-link':
        return activate.compatLinkStep(this, step)
      case 'render':
        return activate.renderStep(this, step)
      case 'daemon-reload':
        return activate.daemonReloadStep()
      case 'enable':
        return activate.enableStep(step)
      case 'restart':
        return activate.restartStep(this, step)
      case 'health':
        return activate.healthStep(this, step)
      case 'hooks':
        return activate.hooksStep(this, step)
      case 'smoke':
        return activate.smokeStep(this, step)
      case 'record':
        return activate.recordStep(this, step)
      case 'clean':
        return activate.cleanStep(this, step)
      default:
        return unreachable(step)
    }
  }

  /** A system error (disk full, permissions) named by its step and by where the host now stands. */
  private named(step: Step, e: unknown): unknown {
    return isSystemError(e) && !(e instanceof StepError) ? new StepError(`${step.id}: ${e.message}; ${this.hostStands()}`, e.code) : e
  }

  /** Whether the switch happened decides what an operator does next. */
  hostStands(): string {
    if (this.journal?.switched) return `release ${this.plan.target_release_id} is active; run the same command again to finish`
    return `nothing was switched, ${this.activeNote()}`
  }

  activeNote(): string {
    const cur = this.plan.current_release_id
    return cur ? `the active release is still ${cur}` : 'no release is active'
  }
}

function unreachable(step: never): never {
  throw new Error(`unknown plan step ${JSON.stringify(step)}`)
}

export const execute = (plan: Plan, ctx: ExecContext): Promise<ExecResult> => new Run(plan, ctx).execute()
