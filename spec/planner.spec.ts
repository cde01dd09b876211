// The planner is pure: these specs are plain data in, plan out.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { plan, type PlanOptions } from '../lib/plan/planner.js'
import type { Step } from '../lib/plan/types.js'
import { convergedHost, desiredOf, emptyHost, manifestOf } from './helpers/states.js'

const opts = (operation: PlanOptions['operation'] = 'install'): PlanOptions => ({
  operation, allow_http: false, allow_expired: false, allow_downgrade: false, accept_snapshot_format_change: false, smoke_url: null, smoke_timeout_s: 60, service_manager: 'none', service_settle_s: 3, service_timeout_s: 60,
})
const actions = (steps: readonly Step[]) => steps.map((s) => s.action)
const count = (steps: readonly Step[], action: Step['action']) => steps.filter((s) => s.action === action).length

const A = manifestOf('2026.06.10', '0.1.0')
const B = manifestOf('2026.06.11', '0.2.0', Object.fromEntries(
  ['console.tar.gz', 'nullspace-guest-agent', 'rootfs.ext4', 'template.ext4', 'vmlinux', 'firecracker', 'jailer', 'migrations.tar.gz', 'nullspace-host'].map((f) => [f, `${f} of 2026.06.10`]),
))

test('fresh host: fetch all ten, seal, switch, seven links, two rendered files, record', () => {
  const p = plan(desiredOf(A), emptyHost(), opts())
  assert.is(count(p.steps, 'fetch'), 10)
  assert.is(count(p.steps, 'seal'), 1)
  assert.is(count(p.steps, 'switch'), 1)
  assert.is(count(p.steps, 'compat-link'), 7)
  assert.is(count(p.steps, 'render'), 2)
  assert.is(count(p.steps, 'record'), 1)
  assert.is(p.summary.fetch_bytes, A.components.reduce((n, c) => n + c.size, 0))
  assert.is(p.current_release_id, null)
  assert.equal(p.blockers, [])
  // Fetch and seal come before the switch, links and rendering after it.
  const order = actions(p.steps)
  assert.ok(order.lastIndexOf('fetch') < order.indexOf('seal') && order.indexOf('seal') < order.indexOf('switch') && order.indexOf('switch') < order.indexOf('compat-link'))
})

test('same release again on a converged host: zero steps', () => {
  const p = plan(desiredOf(A), convergedHost(A), opts())
  assert.equal(p.steps, [])
  assert.is(p.summary.fetch_bytes, 0)
})

test('the planner is deterministic: same inputs, same bytes', () => {
  assert.is(JSON.stringify(plan(desiredOf(A), emptyHost(), opts())), JSON.stringify(plan(desiredOf(A), emptyHost(), opts())))
})

test('new release with one changed component: one fetch, nine links', () => {
  const p = plan(desiredOf(B), convergedHost(A), opts())
  assert.is(count(p.steps, 'fetch'), 1)
  assert.is(count(p.steps, 'link'), 9)
  const fetch = p.steps.find((s) => s.action === 'fetch')!
  assert.is(fetch.target, 'api')
  assert.is(p.summary.fetch_bytes, B.components.find((c) => c.kind === 'api')!.size)
  assert.ok(p.steps.filter((s) => s.action === 'link').every((s) => s.action === 'link' && s.from_release === A.release_id))
  assert.is(count(p.steps, 'switch'), 1)
  // Links go through current, so they do not change; appliance.env names the new release.
  assert.is(count(p.steps, 'compat-link'), 0)
  assert.ok(p.steps.some((s) => s.action === 'render' && s.path === '/etc/nullspace/appliance.env' && s.diff.includes('+NULLSPACE_RELEASE_ID=2026.06.11')))
})

test('a partial download present: resume from its size', () => {
  const rootfs = A.components.find((c) => c.kind === 'rootfs')!
  const host = { ...emptyHost(), parts: { [rootfs.sha256]: { size: 5, url: rootfs.url } } }
  const p = plan(desiredOf(A), host, opts())
  const step = p.steps.find((s) => s.id === 'fetch:rootfs')
  assert.ok(step && step.action === 'fetch')
  if (step?.action !== 'fetch') return
  assert.is(step.resume_from, 5)
  assert.is(step.bytes, rootfs.size - 5)
})

test('a part larger than the artifact is not resumed', () => {
  const api = A.components.find((c) => c.kind === 'api')!
  const p = plan(desiredOf(A), { ...emptyHost(), parts: { [api.sha256]: { size: api.size + 10, url: null } } }, opts())
  const step = p.steps.find((s) => s.id === 'fetch:api')
  assert.ok(step?.action === 'fetch' && step.resume_from === 0)
})

test('a seal missing: the release is not trusted, every file is re-verified', () => {
  const host = { ...emptyHost(), releases: [{ id: A.release_id, seal: { kind: 'missing' as const }, files: {} }] }
  const p = plan(desiredOf(A), host, opts())
  assert.is(count(p.steps, 'adopt'), 10)
  const seal = p.steps.find((s) => s.action === 'seal')
  assert.ok(seal?.action === 'seal' && seal.replaces_unsealed)
})

test('a modified installed file: the plan repairs it, nothing else', () => {
  const host = convergedHost(A)
  const rel = host.releases[0]
  const files = { ...rel.files, 'artifacts/rootfs.ext4': { kind: 'file' as const, stat: { size: 99, mtimeMs: 1, ino: 1, mode: 0o444 } } }
  const p = plan(desiredOf(A), { ...host, releases: [{ ...rel, files }] }, opts())
  assert.equal(actions(p.steps), ['repair'])
  assert.is(p.steps[0].target, 'rootfs')
})

test('a dangling or wrong compatibility link is repaired; a missing one created', () => {
  const host = convergedHost(A)
  const links = { ...host.links, '/opt/nullspace/nullspace-api': { kind: 'symlink' as const, target: 'releases/2026.06.09/bin/nullspace-api' }, '/opt/nullspace/bin/jailer': { kind: 'absent' as const } }
  const p = plan(desiredOf(A), { ...host, links }, opts())
  assert.equal(actions(p.steps), ['compat-link', 'compat-link'])
  const changes = p.steps.map((s) => (s.action === 'compat-link' ? `${s.change} ${s.path}` : ''))
  assert.equal(changes, ['repair /opt/nullspace/nullspace-api', 'create /opt/nullspace/bin/jailer'])
})

test('a regular file where a compatibility link belongs blocks the plan', () => {
  const host = convergedHost(A)
  const links = { ...host.links, '/opt/nullspace/nullspace-api': { kind: 'file' as const, stat: { size: 1, mtimeMs: 1, ino: 1, mode: 0o644 } } }
  const p = plan(desiredOf(A), { ...host, links }, opts())
  assert.is(p.blockers.length, 1)
  assert.match(p.blockers[0].message, /nullspace-api .*not a symlink/)
})

test('current disagreeing with state.json: the planner adds the missing record', () => {
  const host = convergedHost(B, [A])
  const p = plan(desiredOf(B), { ...host, state: { format_version: 1, history: [{ op: 'install', from: null, to: A.release_id, at: 'x', result: 'ok' }], failed: {} } }, opts())
  assert.equal(actions(p.steps), ['record'])
  const r = p.steps[0]
  assert.ok(r.action === 'record' && r.from === A.release_id && r.to === B.release_id && r.result === 'recovered')
})

test('a release id sealed with another manifest is refused with exit 65', () => {
  const other = manifestOf(A.release_id, '0.1.0', { 'nullspace-api': 'different bytes' })
  const p = plan(desiredOf(A), convergedHost(other), opts())
  assert.ok(p.blockers.some((b) => b.exit === 65 && /names one manifest forever/.test(b.message)))
})

test('artifacts fetch plans staging and seal only: no switch, links or rendering', () => {
  const p = plan(desiredOf(B), convergedHost(A), opts('fetch'))
  assert.equal([...new Set(actions(p.steps))], ['fetch', 'link', 'seal'])
})

test('an upgrade killed after its switch: the rerun plans hooks and record, no switch', () => {
  const host = { ...convergedHost(B, [A]), hooks: ['10-restart'], state: { format_version: 1 as const, history: [{ op: 'install' as const, from: null, to: A.release_id, at: 'x', result: 'ok' as const }], failed: {} }, journal: { format_version: 1 as const, operation: 'upgrade' as const, from: A.release_id, to: B.release_id, manifest_digest: 'd', started_at: 'x', switched: true, done: false } }
  const p = plan(desiredOf(B), host, { ...opts('upgrade'), smoke_url: 'http://127.0.0.1:1/' })
  assert.equal(actions(p.steps), ['hooks', 'smoke', 'record'])
  const hooks = p.steps[0]
  assert.ok(hooks.action === 'hooks' && hooks.operation === 'upgrade' && hooks.previous_release_id === A.release_id)
})

test('unsafe hooks block a plan that would run hooks (a switch), not one that would not (fetch, converged)', () => {
  const unsafeHooks = [{ path: '/tmp/root/etc/nullspace/hooks/post-switch.d', problem: 'is writable by group and others (mode 777); ...: chmod go-w' }]
  const upgrade = plan(desiredOf(B), { ...convergedHost(A), unsafeHooks }, opts('upgrade'))
  assert.equal(upgrade.blockers.map((b) => [b.exit, b.message.includes('post-switch.d is writable')]), [[1, true]])
  assert.equal(plan(desiredOf(B), { ...convergedHost(A), unsafeHooks }, opts('fetch')).blockers, [])
  assert.equal(plan(desiredOf(A), { ...convergedHost(A), unsafeHooks }, opts()).blockers, [])
})

test('an unreadable journal blocks every operation, fetch included (its journal write would hide the unfinished one)', () => {
  const journalProblem = '/tmp/root/var/lib/nullspace/journal.json is not valid JSON (cut short?): what operation it held is unknown'
  for (const op of ['install', 'fetch', 'upgrade', 'rollback'] as const) {
    const p = plan(desiredOf(B), { ...convergedHost(A), journalProblem }, opts(op))
    assert.equal(p.blockers.map((b) => b.message), [journalProblem], op)
  }
})

test('a sealed release with an intact hard-linked source: components linked from the active release first', () => {
  const p = plan(desiredOf(B), convergedHost(A, [manifestOf('2026.06.01')]), opts())
  assert.ok(p.steps.filter((s) => s.action === 'link').every((s) => s.action === 'link' && s.from_release === A.release_id))
})

test('a delta the caller measured replaces the full fetch, unless resuming a part is cheaper', () => {
  const rootfs = B.components.find((c) => c.kind === 'rootfs')!
  const changed = manifestOf('2026.06.12', '0.3.0', { 'rootfs.ext4': 'rootfs changed a little' })
  const deltas = { rootfs: { fetch_bytes: 3, reused_bytes: 20, chunk_size: 4096, sources: [{ release_id: A.release_id, install_path: 'artifacts/rootfs.ext4' }] } }
  const p = plan(desiredOf(changed), convergedHost(A), { ...opts('upgrade'), deltas })
  const step = p.steps.find((s) => s.target === 'rootfs')
  assert.ok(step?.action === 'delta' && step.bytes === 3 && step.reused_bytes === 20)
  assert.is(p.summary.reused_bytes, 20)
  const part = { [changed.components.find((c) => c.kind === 'rootfs')!.sha256]: { size: 22, url: null } }
  const resumed = plan(desiredOf(changed), { ...convergedHost(A), parts: part }, { ...opts('upgrade'), deltas })
  assert.is(resumed.steps.find((s) => s.target === 'rootfs')?.action, 'fetch', `rootfs is ${rootfs.size} bytes; resuming at 22 costs less than 3`)
})

const UNIT = 'nullspace-api.service'
const systemd = (operation: PlanOptions['operation'] = 'install'): PlanOptions => ({ ...opts(operation), service_manager: 'systemd' })

test('services: a first install renders the unit, reloads, enables, runs hooks, then restarts and waits for health before the smoke', () => {
  const p = plan(desiredOf(A), { ...emptyHost(), hooks: ['10-migrate'] }, { ...systemd(), smoke_url: 'http://127.0.0.1:1/' })
  const after = p.steps.slice(p.steps.findIndex((s) => s.action === 'render'))
  assert.equal(after.map((s) => s.id), [
    'render:/etc/nullspace/appliance.env', 'render:/etc/systemd/system/nullspace-api.service',
    'daemon-reload:systemd', `enable:${UNIT}`, 'hooks:post-switch', `restart:${UNIT}`, `health:${UNIT}`, 'smoke:ingress', `record:${A.release_id}`,
  ])
  const health = p.steps.find((s) => s.action === 'health')
  assert.ok(health?.action === 'health' && health.settle_s === 3 && health.timeout_s === 60)
  assert.is(p.warnings.length, 0)
})

test('services: an upgrade whose unit file is unchanged restarts and health-checks without daemon-reload or enable', () => {
  const p = plan(desiredOf(B), convergedHost(A), systemd('upgrade'))
  assert.equal(p.steps.filter((s) => ['daemon-reload', 'enable', 'restart', 'health'].includes(s.action)).map((s) => s.id), [`restart:${UNIT}`, `health:${UNIT}`])
})

test('services: with no service manager nothing is restarted and the plan says so', () => {
  const p = plan(desiredOf(B), convergedHost(A), opts('upgrade'))
  assert.not.ok(p.steps.some((s) => ['daemon-reload', 'enable', 'restart', 'health'].includes(s.action)))
  assert.ok(p.warnings.includes('services not restarted (service manager: none)'))
})

test('services: a converged host plans no restart and no warning', () => {
  for (const manager of ['systemd', 'none'] as const) {
    const p = plan(desiredOf(A), convergedHost(A), { ...opts(), service_manager: manager })
    assert.equal(p.steps, [])
    assert.equal(p.warnings, [])
  }
})

test('services: a rerun after a kill skips what the journal says was done and reloads a unit rendered before the kill', () => {
  const journal = (progress: string[]) => ({ format_version: 1 as const, operation: 'install' as const, from: null, to: A.release_id, manifest_digest: 'd', started_at: 'x', switched: true, done: false, progress })
  const host = (progress: string[]) => ({ ...convergedHost(A), state: { format_version: 1 as const, history: [], failed: {} }, journal: journal(progress) })
  const ids = (progress: string[]) => plan(desiredOf(A), host(progress), systemd()).steps.map((s) => s.id)
  // Killed after rendering the unit, before daemon-reload: the rendered file is current, but systemd has not read it.
  assert.equal(ids(['render:/etc/systemd/system/nullspace-api.service']), ['daemon-reload:systemd', `enable:${UNIT}`, `restart:${UNIT}`, `health:${UNIT}`, `record:${A.release_id}`])
  // Killed between the restart and the health wait: the wait runs, the restart does not run twice.
  assert.equal(ids(['render:/etc/systemd/system/nullspace-api.service', 'daemon-reload:systemd', `enable:${UNIT}`, `restart:${UNIT}`]), [`health:${UNIT}`, `record:${A.release_id}`])
  // Killed after the health wait, before the smoke and record.
  assert.equal(ids(['daemon-reload:systemd', `restart:${UNIT}`, `health:${UNIT}`]), [`record:${A.release_id}`])
})

test.run()
