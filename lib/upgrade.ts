// Upgrade: validate, check host and release compatibility, fetch what differs, switch,
// render, hooks, ingress smoke. A failed hook or smoke marks the release failed and, unless
// --no-auto-rollback, switches back to the previous release.
import type { HostFlags, Planned } from './operations.js'
import { executePlanned, planTrusted, type TrustedManifest } from './operations.js'
import { layout } from './layout.js'
import { Failure, EXIT, operationFailed } from './errors.js'
import { ActivationFailed } from './exec/hooks.js'
import type { ExecResult, Reporter } from './exec/executor.js'
import { rollback } from './rollback.js'
import { readCurrentId } from '../state/read.js'
import { recordFailedSwitch } from '../state/state-file.js'
import { interruptedRollback, readJournal, writeJournal } from '../state/journal.js'
import { invokingUser } from '../state/host-facts.js'
import { TOOL_VERSION } from './version.js'

export type UpgradeOutcome =
  | { readonly kind: 'upgraded'; readonly planned: Planned; readonly result: ExecResult }
  /**
   * The hooks, a unit or the smoke failed after the switch; `rolledBackTo` is null when the release stayed
   * active. `rollbackFailure` says why the previous release's units did not come up after switching back
   * to it (then neither release runs).
   */
  | {
      readonly kind: 'failed'
      readonly planned: Planned
      readonly failure: string
      readonly rolledBackTo: string | null
      readonly rollbackFailure: string | null
      readonly warnings: readonly string[]
      readonly servicesFailed: boolean
    }

export interface UpgradeOptions {
  readonly autoRollback: boolean
}

/** Call under the host lock. A failed activation is an outcome, not a throw, so the caller can report it in full. */
export async function upgrade(trusted: TrustedManifest, flags: HostFlags, o: UpgradeOptions, report: Reporter): Promise<UpgradeOutcome> {
  const l = layout(flags.root)
  // Only the journal and `current`: the whole host state is read by the plan below.
  const [j, current] = await Promise.all([readJournal(l.journalFile), readCurrentId(l)])
  if (interruptedRollback(j, current)) {
    // A rollback was interrupted after its switch: finish it, rather than upgrade from half of one.
    const done = await rollback(flags, undefined, report)
    const why = j.operation === 'auto-rollback' ? 'the upgrade before it had failed' : 'an operator asked for it'
    throw operationFailed(`an interrupted ${j.operation} to ${done.to} was finished first (${why}), so ${done.to} stays active. Run upgrade again to upgrade from it`)
  }

  const planned = await planTrusted('upgrade', trusted, flags)
  try {
    return { kind: 'upgraded', planned, result: await executePlanned(planned, flags, report) }
  } catch (e) {
    if (!(e instanceof ActivationFailed)) throw e
    const record = planned.plan.steps.find((s) => s.action === 'record')
    const from = record?.action === 'record' ? record.from : planned.plan.current_release_id
    const to = planned.plan.target_release_id
    const journal = await readJournal(l.journalFile)
    const switchedAt = journal?.to === to ? journal.switched_at ?? journal.started_at : undefined
    await recordFailedSwitch(l.stateFile, { op: 'upgrade', from, to, at: new Date().toISOString(), ...(switchedAt ? { switched_at: switchedAt } : {}), tool_version: TOOL_VERSION, user: invokingUser() }, e.message)
    if (journal && !journal.done) await writeJournal(l.journalFile, { ...journal, done: true })
    const servicesFailed = e.what === 'service'
    const failed = { kind: 'failed', planned, failure: e.message, servicesFailed } as const
    if (!o.autoRollback || from === null) return { ...failed, rolledBackTo: null, rollbackFailure: null, warnings: [] }
    try {
      const back = await rollback(flags, from, report, 'auto-rollback')
      return { ...failed, rolledBackTo: back.to, rollbackFailure: null, warnings: back.warnings }
    } catch (again) {
      const why = again instanceof Error ? again.message : String(again)
      // The previous release's units do not come up either: it stays active, switching again would only flap.
      if (again instanceof ActivationFailed && again.what === 'service') return { ...failed, rolledBackTo: from, rollbackFailure: why, warnings: [] }
      throw new Failure(EXIT.failed, `upgrade to ${to} failed (${e.message}), and the automatic rollback to ${from} failed too: ${why}. Run: nullspace-host rollback --to ${from}`, [], { code: 'activation_failed' })
    }
  }
}
