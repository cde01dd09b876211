// The human reader of a Plan: steps grouped by what they do, bytes to fetch, and the
// unified diffs of rendered files. It re-derives nothing the plan does not say.
import type { ChalkInstance } from 'chalk'
import type { Plan, Step, StepAction } from './types.js'
import { formatBytes } from '../bytes.js'

const GROUPS: readonly { actions: readonly StepAction[]; title: string }[] = [
  { actions: ['fetch', 'delta', 'adopt'], title: 'Fetch and verify' },
  { actions: ['link'], title: 'Hard-link from sealed releases' },
  { actions: ['repair'], title: 'Repair' },
  { actions: ['seal'], title: 'Seal' },
  { actions: ['probe', 'switch'], title: 'Switch' },
  { actions: ['compat-link'], title: 'Compatibility links' },
  { actions: ['render'], title: 'Render' },
  { actions: ['daemon-reload', 'enable', 'hooks', 'restart', 'health', 'smoke'], title: 'Activate' },
  { actions: ['record', 'clean'], title: 'Record' },
]

function stepLine(s: Step, c: ChalkInstance): string[] {
  switch (s.action) {
    case 'fetch':
      return [`${c.green('+')} ${s.target.padEnd(18)} ${formatBytes(s.artifact.size).padStart(10)}  ${s.staged ? 'verify staged copy' : s.resume_from > 0 ? `resume at ${formatBytes(s.resume_from)}` : 'fetch'} from ${s.artifact.url}`]
    case 'delta':
      return [`${c.green('Δ')} ${s.target.padEnd(18)} ${formatBytes(s.artifact.size).padStart(10)}  delta: ${formatBytes(s.reused_bytes)} reused from ${s.sources.map((x) => x.release_id).join(', ')}, ${formatBytes(s.bytes)} to fetch`]
    case 'adopt':
      return [`${c.yellow('?')} ${s.target.padEnd(18)} ${formatBytes(s.artifact.size).padStart(10)}  ${s.reason}`]
    case 'link':
      return [`${c.cyan('=')} ${s.target.padEnd(18)} ${formatBytes(s.artifact.size).padStart(10)}  from ${s.from_release}`]
    case 'repair':
      return [`${c.yellow('~')} ${s.target.padEnd(18)} ${formatBytes(s.artifact.size).padStart(10)}  ${s.reason}`]
    case 'seal':
      return [`${c.green('*')} release ${s.release_id} (${s.reason})`]
    case 'probe':
      return [`${c.magenta('?')} ask ${s.target} for --version (expect ${s.binaries[0]?.expect ?? '?'})`]
    case 'switch':
      return [`${c.magenta('>')} current: ${s.from ?? '(none)'} -> ${s.to}`]
    case 'compat-link': {
      const mark = s.change === 'create' ? c.green('+') : s.change === 'repair' ? c.yellow('~') : c.red('-')
      return [`${mark} ${s.path}${s.change === 'remove' ? ` (was -> ${s.previous})` : ` -> ${s.link_target}`}`]
    }
    case 'render':
      return [
        `${s.change === 'create' ? c.green('+') : c.yellow('~')} ${s.path}`,
        ...s.diff
          .split('\n')
          .slice(4)
          .filter((l) => l !== '' && !l.startsWith('\\'))
          .map((l) => `    ${l.startsWith('+') ? c.green(l) : l.startsWith('-') ? c.red(l) : l.startsWith('@@') ? c.cyan(l) : l}`),
      ]
    case 'daemon-reload':
      return [`${c.magenta('!')} systemctl daemon-reload (${s.reason})`]
    case 'enable':
      return [`${c.magenta('!')} systemctl enable ${s.unit}`]
    case 'restart':
      return [`${c.magenta('!')} systemctl reset-failed + restart ${s.unit}`]
    case 'health':
      return [`${c.magenta('!')} wait until ${s.unit} runs a new process, stable for ${s.settle_s} s (up to ${s.timeout_s} s)`]
    case 'hooks':
      return [`${c.magenta('!')} run ${s.hooks.length} post-switch hook(s): ${s.hooks.join(', ')} (NULLSPACE_OPERATION=${s.operation})`]
    case 'smoke':
      return [`${c.magenta('!')} ingress smoke ${s.url} (up to ${s.timeout_s} s)`]
    case 'record':
      return [`${c.dim('.')} state.json: ${s.operation} ${s.from ?? '(none)'} -> ${s.to}${s.result === 'recovered' ? ' (recovered: current was switched but not recorded)' : ''}`]
    case 'clean':
      return [`${c.dim('.')} remove ${s.paths.join(', ')} (${s.reason})`]
  }
}

export function renderPlan(plan: Plan, c: ChalkInstance): string {
  const lines: string[] = []
  const head = `${plan.operation} ${plan.target_release_id}`
  lines.push(c.bold(`Plan: ${head}`) + c.dim(`  manifest ${plan.manifest.digest}`))
  lines.push(`Active release: ${plan.current_release_id ?? '(none)'}`)
  if (plan.steps.length === 0 && plan.blockers.length === 0) {
    lines.push('', c.green(`No changes. The host matches release ${plan.target_release_id}.`))
  }
  for (const g of GROUPS) {
    const steps = plan.steps.filter((s) => g.actions.includes(s.action))
    if (steps.length === 0) continue
    lines.push('', c.bold(`${g.title}:`))
    for (const s of steps) for (const l of stepLine(s, c)) lines.push(`  ${l}`)
  }
  if (plan.warnings.length) lines.push('', c.yellow('Warnings:'), ...plan.warnings.map((w) => `  ${c.yellow('!')} ${w}`))
  if (plan.blockers.length) lines.push('', c.red('Blockers:'), ...plan.blockers.map((b) => `  ${c.red('x')} ${b.message}`))
  if (plan.steps.length > 0) {
    const s = plan.summary
    lines.push('', `Summary: ${s.steps} step(s); ${formatBytes(s.fetch_bytes)} to fetch (${s.components_fetched} component(s)), ${formatBytes(s.link_bytes)} hard-linked (${s.components_linked})${s.reused_bytes ? `, ${formatBytes(s.reused_bytes)} reused by deltas` : ''}.`)
  }
  return lines.join('\n')
}
