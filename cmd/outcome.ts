// What install and apply print once a plan was executed: one shape for both.
import type { Plan } from '../lib/plan/types.js'
import type { ExecResult } from '../lib/exec/executor.js'
import type { Output } from '../lib/output.js'
import { formatBytes } from '../lib/bytes.js'
import { ActivationFailed } from '../lib/exec/hooks.js'
import { EXIT, Failure } from '../lib/errors.js'

/** What an activation did to the services (ARCHITECTURE.md section 8.1): the JSON outcome's `services`. */
export type ServicesOutcome = 'restarted' | 'not managed' | 'failed' | 'unchanged'

export function servicesOutcome(plan: Plan): ServicesOutcome {
  if (plan.options.service_manager === 'none') return 'not managed'
  return plan.steps.some((s) => s.action === 'restart' || s.action === 'health') ? 'restarted' : 'unchanged'
}

/** The human sentence about services, or '' when none were touched. */
export function servicesSentence(plan: Plan): string {
  const units = [...new Set(plan.steps.flatMap((s) => (s.action === 'health' ? [s.unit] : [])))]
  return units.length > 0 ? ` ${units.join(', ')} restarted and healthy.` : ''
}

export function printApplied(out: Output, plan: Plan, result: ExecResult): void {
  if (out.json) {
    out.document({
      ok: true,
      release_id: plan.target_release_id,
      previous_release_id: plan.current_release_id,
      changed: plan.steps.length > 0,
      services: servicesOutcome(plan),
      steps: plan.steps.map((s) => s.id),
      bytes_transferred: result.bytesTransferred,
      skipped: result.skipped,
      warnings: plan.warnings,
    })
  } else if (plan.steps.length === 0) out.line(`No changes. The host matches release ${plan.target_release_id}.`)
  else if (plan.operation === 'fetch') out.line(`Release ${plan.target_release_id} is fetched and sealed; the active release is unchanged. ${formatBytes(result.bytesTransferred)} transferred.`)
  else out.line(`Installed release ${plan.target_release_id}; it is active. ${formatBytes(result.bytesTransferred)} transferred.${servicesSentence(plan)}`)
}

/**
 * An activation that failed after its switch (hook, unit, smoke) with no automatic rollback (install,
 * apply, rollback): the error says where the host stands, and its JSON document what was done.
 */
export function activationFailed(plan: Plan, e: unknown): never {
  if (!(e instanceof ActivationFailed)) throw e
  const to = plan.target_release_id
  const back = plan.operation === 'rollback' || plan.operation === 'auto-rollback' ? 'rollback --to ID' : 'rollback'
  throw new Failure(EXIT.failed, `${e.message}. Release ${to} is active but not proven; fix the cause and run the same command again, or switch back with: nullspace-host ${back}`, [], {
    code: 'activation_failed',
    document: { release_id: to, previous_release_id: plan.current_release_id, changed: true, services: e.what === 'service' ? 'failed' : servicesOutcome(plan), failure: e.message, warnings: plan.warnings },
  })
}
