// What install and apply print once a plan was executed: one shape for both.
import type { Plan } from '../lib/plan/types.js'
import type { ExecResult } from '../lib/exec/executor.js'
import type { Output } from '../lib/output.js'
import { formatBytes } from '../lib/bytes.js'

export function printApplied(out: Output, plan: Plan, result: ExecResult): void {
  if (out.json) {
    out.document({
      ok: true,
      release_id: plan.target_release_id,
      previous_release_id: plan.current_release_id,
      changed: plan.steps.length > 0,
      steps: plan.steps.map((s) => s.id),
      bytes_transferred: result.bytesTransferred,
      skipped: result.skipped,
      warnings: plan.warnings,
    })
  } else if (plan.steps.length === 0) out.line(`No changes. The host matches release ${plan.target_release_id}.`)
  else if (plan.operation === 'fetch') out.line(`Release ${plan.target_release_id} is fetched and sealed; the active release is unchanged. ${formatBytes(result.bytesTransferred)} transferred.`)
  else out.line(`Installed release ${plan.target_release_id}; it is active. ${formatBytes(result.bytesTransferred)} transferred.`)
}
