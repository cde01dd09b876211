// The human reader of a DoctorReport.
import type { ChalkInstance } from 'chalk'
import type { DoctorReport } from './doctor.js'
import { formatBytes } from './bytes.js'

export function renderDoctor(r: DoctorReport, c: ChalkInstance): string {
  const lines: string[] = []
  const mark = (ok: boolean) => (ok ? c.green('ok') : c.red('!!'))
  // A sandbox root is named: a report about /tmp/x must not read as one about this host.
  if (r.root !== '/') lines.push(`Root ${r.root}`)
  if (r.active) {
    lines.push(c.bold(`Active release ${r.active.release_id}`) + ` (version ${r.active.version}, ${r.active.manifest_id})`)
    lines.push(`  manifest ${r.active.manifest_digest}, sealed ${r.active.sealed_at}${r.active.signed ? ', signed' : ''}`)
  } else lines.push(c.bold('No active release'))
  lines.push(`  rollback target: ${r.previous_release_id ?? '(none)'}`)
  if (r.components.length) {
    lines.push('', c.bold(`Components (${r.deep ? 'rehashed' : 'seal + stat check; --deep rehashes'}):`))
    const width = Math.max(...r.components.map((x) => x.version.length))
    for (const x of r.components) {
      const status = x.status === 'ok' ? '' : `  ${x.status}`
      lines.push(`  ${mark(x.status === 'ok' || x.status === 'skipped')} ${x.name.padEnd(18)} ${x.version.padEnd(width)} ${formatBytes(x.size).padStart(10)}  ${x.sha256.slice(0, 16)}…${status}`)
    }
  }
  if (r.compatibility) {
    lines.push('', c.bold('Compatibility:'))
    for (const [k, v] of Object.entries(r.compatibility)) lines.push(`  ${k.padEnd(30)} ${v}`)
  }
  if (r.links.length) {
    lines.push('', c.bold('Links:'))
    for (const l of r.links) lines.push(`  ${mark(l.status === 'ok')} ${l.path} -> ${l.target ?? '(none)'}${l.status === 'ok' ? '' : `  ${l.status}`}`)
  }
  if (r.service) {
    const x = r.service
    lines.push('', c.bold('Service:'))
    lines.push(`  ${mark(x.active_state === 'active' && x.sub_state === 'running' && !x.stale)} ${x.unit} ${x.active_state}/${x.sub_state}${x.main_pid ? `, MainPID ${x.main_pid} started ${x.started_at ?? '?'}` : ''}${x.stale ? '  STALE: started before the last switch' : ''}`)
  }
  if (r.releases.length) {
    lines.push('', c.bold('Releases:'))
    for (const x of r.releases) lines.push(`  ${x.active ? '*' : ' '} ${x.release_id.padEnd(24)} ${(x.version ?? '-').padEnd(12)} ${x.sealed ? 'sealed' : 'UNSEALED'}${x.rollback_target ? '  rollback target' : ''}${x.failed ? '  marked failed' : ''}`)
  }
  lines.push('')
  if (r.problems.length) lines.push(c.red(`${r.problems.length} problem(s):`), ...r.problems.map((p) => `  ${c.red('x')} ${p}`))
  if (r.warnings.length) lines.push(c.yellow(`${r.warnings.length} warning(s):`), ...r.warnings.map((w) => `  ${c.yellow('!')} ${w}`))
  if (!r.problems.length) lines.push(r.warnings.length ? c.green(`No problems found; ${r.warnings.length} warning(s) above.`) : c.green('No problems found.'))
  return lines.join('\n')
}
