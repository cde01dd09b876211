// Rollback: switch to the release state.json names as the rollback target (or a sealed
// --to), re-render, run hooks, record. A rollback killed after its switch is finished by
// the rerun, never flipped back (ARCHITECTURE.md section 4, invariant 9).
import type { HostFlags, Planned } from './operations.js'
import { executePlanned, planLoaded } from './operations.js'
import { layout, type Layout } from './layout.js'
import { migrationWarning } from './compat.js'
import { verifiedBackupOf } from './backup/guard.js'
import { operationFailed } from './errors.js'
import type { Reporter, ExecResult } from './exec/executor.js'
import type { Plan, PlanOperation } from './plan/types.js'
import { ActivationFailed } from './exec/hooks.js'
import { readActualState, type ActualState } from '../state/read.js'
import { rollbackTarget } from '../state/state-file.js'
import { loadSealedRelease } from '../state/sealed-release.js'
import { interruptedRollback } from '../state/journal.js'

/** A hook or unit failed after the rollback's switch: with the plan it ran, so the command can say where the host stands. */
export class RollbackActivationFailed extends ActivationFailed {
  constructor(
    readonly plan: Plan,
    cause: ActivationFailed,
  ) {
    super(cause.message, cause.what)
  }
}

export interface RollbackOutcome {
  readonly from: string | null
  readonly to: string
  readonly warnings: readonly string[]
  readonly planned: Planned
  readonly result: ExecResult
}

interface Target {
  readonly to: string
  readonly from: string | null
  readonly operation: PlanOperation
}

function chooseTarget(actual: ActualState, requested: string | undefined): Target | null {
  const j = actual.journal
  // Finished first, unless the operator names another release: after a rollback whose hook or unit
  // failed, `rollback --to <the release before>` is the way back its message gives.
  if (interruptedRollback(j, actual.current) && (requested === undefined || requested === j.to))
    return { to: j.to, from: j.from, operation: j.operation }
  const sealed = (id: string) => actual.releases.some((r) => r.id === id && r.seal.kind === 'sealed')
  if (requested !== undefined) {
    if (!sealed(requested)) throw operationFailed(`--to ${requested}: no sealed release with that id on this host; see releases list`)
    return { to: requested, from: actual.current, operation: 'rollback' }
  }
  const to = rollbackTarget(actual.state, actual.current, sealed)
  return to === null ? null : { to, from: actual.current, operation: 'rollback' }
}

async function manifestOf(l: Layout, id: string | null) {
  if (id === null) return null
  return loadSealedRelease(l, id).then(
    (m) => m.manifest,
    () => null,
  )
}

/** Switches back to `requested`, the recorded rollback target, or finishes an interrupted rollback. Call under the host lock. */
export async function rollback(flags: HostFlags, requested: string | undefined, report: Reporter, operation: PlanOperation = 'rollback'): Promise<RollbackOutcome> {
  const l = layout(flags.root)
  const actual = await readActualState(l)
  const target = chooseTarget(actual, requested)
  if (target === null)
    throw operationFailed('no previous release to roll back to: state.json records no earlier release that is still sealed and not marked failed (see releases list, or pass --to ID)')
  const loaded = await loadSealedRelease(l, target.to)
  const warning = migrationWarning(await manifestOf(l, target.from), loaded.manifest)
  // Name the backup to restore: one of the release rolled back to (a restore needs its schema active).
  const backup = warning ? await verifiedBackupOf(l, target.to, null, new Date()) : null
  const warnings = warning ? [`${warning}; ${backup ? `the newest verified backup of ${target.to} is ${backup}: nullspace-host backup restore ${backup} --yes` : `no verified backup of ${target.to} is on this host`}`] : []
  const noSmoke = { ...flags, smokeUrl: null }
  const planned = await planLoaded(target.operation === 'rollback' ? operation : target.operation, loaded, noSmoke, warnings)
  const result = await executePlanned(planned, noSmoke, report).catch((e: unknown) => {
    throw e instanceof ActivationFailed ? new RollbackActivationFailed(planned.plan, e) : e
  })
  return { from: target.from, to: target.to, warnings, planned, result }
}
