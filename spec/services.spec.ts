// ARCHITECTURE.md section 8.1 end to end: the real CLI drives the stand-in systemctl (spec/helpers/systemd.ts),
// which really starts the release's API artifact (spec/helpers/stand-in-api.ts) as a process that
// answers the ingress fixture with the release id of the appliance.env it was started with. So
// "the smoke talks to the new process" is something a spec can see: the release id and the pid.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fs from 'node:fs'
import path from 'node:path'
import { json } from './helpers/cli.js'
import { tempDir } from './helpers/tmp.js'
import { type Rel, boundaryAfter, cli, currentOf, exits, makeRelease, ok, stateOf } from './helpers/hosts.js'
import { type StandIn, standInSystemd } from './helpers/systemd.js'
import { apiContents, freePort } from './helpers/stand-in-api.js'

const UNIT = 'nullspace-api.service'
const A_ID = '2026.06.10'
const B_ID = '2026.06.11'
/** Short enough for a fast suite, long enough to see a process that dies at once. */
const SETTLE = ['--service-settle', '0.5']

interface Appliance {
  root: string
  port: number
  sd: StandIn
  /** The real CLI with the stand-in systemctl first on PATH and --root. */
  run(...args: string[]): ReturnType<typeof cli>
  /** What the running API answers at the ingress fixture, or null when nothing answers. */
  fixture(): Promise<{ release_id: string; pid: number } | null>
  ingress: string
}

async function appliance(): Promise<Appliance> {
  const root = tempDir('root')
  const port = await freePort()
  const sd = standInSystemd(root, { extraEnv: { NULLSPACE_TEST_API_PORT: String(port) } })
  const ingress = `http://127.0.0.1:${port}/`
  return {
    root,
    port,
    sd,
    ingress,
    run: (...args) => cli([...args, '--root', root], { env: sd.env, timeoutMs: 60_000 }),
    fixture: async () => {
      try {
        const res = await fetch(`${ingress}.well-known/nullspace/ingress-fixture`, { signal: AbortSignal.timeout(2000) })
        return res.ok ? ((await res.json()) as { release_id: string; pid: number }) : null
      } catch {
        return null
      }
    },
  }
}

/** Runs `body` with a fresh appliance; every process the stand-in started is gone afterwards, pass or fail. */
async function withAppliance(body: (a: Appliance) => Promise<void>): Promise<void> {
  const a = await appliance()
  try {
    await body(a)
  } finally {
    await a.sd.stopAll()
  }
}

let releases: Promise<{ A: Rel; B: Rel; broken: Rel }> | undefined
/** Shared releases: A and B serve; `broken` (version 0.3.0) has an API that exits at once. */
const built = () =>
  (releases ??= (async () => ({
    A: await makeRelease({ id: A_ID, change: apiContents('serve', 'A') }),
    B: await makeRelease({ id: B_ID, version: '0.2.0', change: apiContents('serve', 'B') }),
    broken: await makeRelease({ id: '2026.06.12', version: '0.3.0', change: apiContents('exit-at-once', 'broken') }),
  }))())

const verbs = (sd: StandIn) => sd.calls().map((c) => c.filter((w) => !w.startsWith('--property')).join(' '))

test('install with systemd: reload, enable, restart, health, then the smoke is answered by the started process', async () => {
  const { A } = await built()
  await withAppliance(async (a) => {
    const r = ok(await a.run('install', '--manifest', A.manifest, '--service-manager', 'systemd', '--ingress-url', a.ingress, ...SETTLE, '--json'), 'install')
    const out = json(r)
    assert.is(out.services, 'restarted')
    assert.is(out.changed, true)
    const ids: string[] = out.steps
    const at = (id: string) => ids.indexOf(id)
    assert.ok(
      at(`render:/etc/systemd/system/${UNIT}`) < at('daemon-reload:systemd') && at('daemon-reload:systemd') < at(`enable:${UNIT}`) && at(`enable:${UNIT}`) < at(`restart:${UNIT}`) && at(`restart:${UNIT}`) < at(`health:${UNIT}`) && at(`health:${UNIT}`) < at('smoke:ingress') && at('smoke:ingress') < at(`record:${A_ID}`),
      ids.join(', '),
    )
    const calls = verbs(a.sd)
    assert.equal(calls.filter((c) => !c.startsWith('show')), ['daemon-reload', `enable ${UNIT}`, `reset-failed ${UNIT}`, `restart ${UNIT}`])
    const answer = await a.fixture()
    assert.is(answer?.release_id, A_ID)
    assert.is(answer?.pid, a.sd.mainPid(UNIT), 'the process systemd reports is the one answering')
    const doctor = json(ok(await a.run('doctor', '--service-manager', 'systemd', '--json'), 'doctor'))
    assert.is(doctor.service.unit, UNIT)
    assert.is(doctor.service.active_state, 'active')
    assert.is(doctor.service.main_pid, answer?.pid)
    assert.is(doctor.service.stale, false)
    assert.ok(Date.parse(doctor.service.started_at) > 0)
  })
})

test('the health wait says what it waits for and how long at most, then a line a notice interval, on stderr', async () => {
  const { A } = await built()
  await withAppliance(async (a) => {
    const r = ok(await cli(['install', '--manifest', A.manifest, '--service-manager', 'systemd', '--service-settle', '2.5', '--root', a.root], { env: { ...a.sd.env, NULLSPACE_TEST_WAIT_NOTICE_MS: '1000' }, timeoutMs: 60_000 }), 'install')
    const lines = r.stderr.split('\n')
    assert.ok(lines.includes(`  waiting for ${UNIT} to run a new process and keep it 2.5 s (at most 60 s, --service-timeout)`), r.stderr)
    assert.ok(lines.includes(`  still waiting for ${UNIT} to be healthy... [1s elapsed]`), r.stderr)
    assert.ok(lines.includes(`  still waiting for ${UNIT} to be healthy... [2s elapsed]`), r.stderr)
    assert.not.match(r.stdout, /waiting/)
  })
})

test('upgrade restarts the unit: the smoke and the fixture see the new release from a new process; history says who and what', async () => {
  const { A, B } = await built()
  await withAppliance(async (a) => {
    ok(await a.run('install', '--manifest', A.manifest, '--service-manager', 'systemd', ...SETTLE), 'install A')
    const before = a.sd.mainPid(UNIT)
    const r = json(ok(await a.run('upgrade', '--manifest', B.manifest, '--service-manager', 'systemd', '--ingress-url', a.ingress, ...SETTLE, '--json'), 'upgrade to B'))
    assert.is(r.services, 'restarted')
    assert.not.ok(r.steps.includes('daemon-reload:systemd'), 'the unit file did not change: no daemon-reload')
    const answer = await a.fixture()
    assert.is(answer?.release_id, B_ID)
    assert.is.not(answer?.pid, before)
    assert.is(answer?.pid, a.sd.mainPid(UNIT))
    const history = json(ok(await a.run('history', '--json'), 'history')).history
    assert.equal(history.map((h: { op: string; to: string; result: string }) => `${h.op} ${h.to} ${h.result}`), [`upgrade ${B_ID} ok`, `install ${A_ID} ok`])
    assert.ok(history[0].user && history[0].tool_version && history[0].switched_at <= history[0].at, JSON.stringify(history[0]))
    const limited = await a.run('history', '--limit', '1')
    assert.match(ok(limited, 'history --limit 1').stdout.trim(), new RegExp(`^\\S+\\s+upgrade\\s+${A_ID}\\s+-> ${B_ID}\\s+ok`))
    assert.is(limited.stdout.trim().split('\n').length, 1)
  })
})

test('a release whose API exits at once fails its health wait: rolled back, the old release answers again from a restarted process', async () => {
  const { A, broken } = await built()
  await withAppliance(async (a) => {
    ok(await a.run('install', '--manifest', A.manifest, '--service-manager', 'systemd', ...SETTLE), 'install A')
    const before = a.sd.mainPid(UNIT)
    const r = exits(await a.run('upgrade', '--manifest', broken.manifest, '--service-manager', 'systemd', '--ingress-url', a.ingress, ...SETTLE, '--json'), 1, 'upgrade to a broken API')
    const out = json(r)
    assert.is(out.services, 'failed')
    assert.is(out.rolled_back_to, A_ID)
    assert.match(r.stderr, new RegExp(`${UNIT.replace('.', '\\.')} (did not come up|restarted while it settled|changed its process|stopped running)`))
    assert.match(r.stderr, /last ActiveState=\w+ SubState=[\w-]+/)
    assert.is(currentOf(a.root), A_ID)
    assert.ok('2026.06.12' in stateOf(a.root).failed, 'the broken release is marked failed')
    const answer = await a.fixture()
    assert.is(answer?.release_id, A_ID)
    assert.is.not(answer?.pid, before, 'the rollback restarted the old release too')
    const restarts = verbs(a.sd).filter((c) => c === `restart ${UNIT}`).length
    assert.is(restarts, 3, 'install, upgrade, auto-rollback')
    ok(await a.run('doctor', '--service-manager', 'systemd'), 'doctor after the rollback')
  })
})

test('a rollback to a release whose API fails its health wait says the switch happened and how to finish (issue 21)', async () => {
  const { A, broken } = await built()
  await withAppliance(async (a) => {
    ok(await a.run('install', '--manifest', A.manifest, '--service-manager', 'systemd', ...SETTLE), 'install A')
    ok(await a.run('artifacts', 'fetch', '--manifest', broken.manifest), 'fetch and seal the broken release')
    const r = exits(await a.run('rollback', '--to', '2026.06.12', '--service-manager', 'systemd', ...SETTLE, '--json'), 1, 'rollback --to the broken release')
    assert.match(r.stderr, /Release 2026\.06\.12 is active but not proven; fix the cause and run the same command again, or switch back with: nullspace-host rollback --to ID/)
    const out = json(r)
    assert.equal([out.ok, out.services, out.error.code, out.error.exit], [false, 'failed', 'activation_failed', 1])
    assert.is(currentOf(a.root), '2026.06.12')
    ok(await a.run('rollback', '--to', A_ID, '--service-manager', 'systemd', ...SETTLE), 'switch back as the message says')
    assert.is((await a.fixture())?.release_id, A_ID)
  })
})

test('when the previous release does not come up either, the upgrade says neither runs and switches nothing more', async () => {
  const { broken } = await built()
  // Healthy for 1.5 s after each start: it passes a 0.5 s settle, not a 2.5 s one.
  const flaky = await makeRelease({ id: '2026.06.09', version: '0.0.9', change: apiContents({ crashAfterMs: 1500 }, 'flaky') })
  await withAppliance(async (a) => {
    ok(await a.run('install', '--manifest', flaky.manifest, '--service-manager', 'systemd', ...SETTLE), 'install the flaky release')
    const r = exits(await a.run('upgrade', '--manifest', broken.manifest, '--service-manager', 'systemd', '--service-settle', '2.5', '--json'), 1, 'upgrade')
    const out = json(r)
    assert.is(out.services, 'failed')
    assert.is(out.rolled_back_to, flaky.id)
    assert.match(out.rollback_failure, new RegExp(UNIT.replace('.', '\\.')))
    assert.match(r.stderr, /neither release is running/)
    assert.match(r.stderr, new RegExp(`automatic rollback to ${flaky.id} \\(now active\\)`))
    assert.is(r.stderr.trim().split('\n').filter((l) => l.startsWith('nullspace-host: ') && !l.includes('warning')).length, 1, r.stderr)
    assert.is(currentOf(a.root), flaky.id, 'switched back once, then nothing more')
    assert.is(verbs(a.sd).filter((c) => c === `restart ${UNIT}`).length, 3, 'install, upgrade, auto-rollback: no further flapping')
  })
})

test('--service-manager none leaves the old process running and says so; doctor with systemd calls it stale', async () => {
  const { A, B } = await built()
  await withAppliance(async (a) => {
    ok(await a.run('install', '--manifest', A.manifest, '--service-manager', 'systemd', ...SETTLE), 'install A')
    const before = a.sd.mainPid(UNIT)
    const calls = a.sd.calls().length
    const r = ok(await a.run('upgrade', '--manifest', B.manifest, '--service-manager', 'none', '--skip-ingress-smoke', '--json'), 'upgrade without a service manager')
    assert.is(json(r).services, 'not managed')
    assert.match(r.stderr, /warning: services not restarted \(service manager: none\)/)
    assert.is(a.sd.calls().length, calls, 'systemctl was not run')
    assert.is(a.sd.mainPid(UNIT), before)
    assert.is((await a.fixture())?.release_id, A_ID, 'the old release still answers')
    const d = exits(await a.run('doctor', '--service-manager', 'systemd', '--json'), 1, 'doctor sees the stale process')
    const doctor = json(d)
    assert.is(doctor.service.stale, true)
    assert.ok(doctor.problems.some((p: string) => p.includes('before the switch') && p.includes(`systemctl restart ${UNIT}`)), doctor.problems.join('\n'))
    assert.match(d.stderr, /still runs the previous release/)
    // With NULLSPACE_SERVICE_MANAGER=none (as a container would set it) doctor does not ask.
    assert.is(json(ok(await cli(['doctor', '--root', a.root, '--json'], { env: { ...a.sd.env, NULLSPACE_SERVICE_MANAGER: 'none' } }), 'doctor, none')).service, null)
    // The fix the problem names works.
    ok(await a.sd.systemctl('restart', UNIT), 'systemctl restart')
    await a.sd.waitFor(UNIT, 'the restarted unit running', (s) => s.SubState === 'running' && Number(s.MainPID) !== before)
    ok(await a.run('doctor', '--service-manager', 'systemd'), 'doctor after the restart')
  })
})

test('--service-manager systemd with no systemctl on PATH is refused before any change', async () => {
  const { A } = await built()
  const root = tempDir('root')
  // The CLI's interpreter is run by its path: PATH can be an empty directory, with no systemctl on it.
  const r = exits(await cli(['install', '--root', root, '--manifest', A.manifest, '--service-manager', 'systemd'], { env: { PATH: tempDir('empty-path') } }), 1, 'no systemctl')
  assert.match(r.stderr, /no systemctl is on PATH; on a host without systemd pass --service-manager none\. Nothing was changed/)
  assert.not.ok(fs.existsSync(path.join(root, 'opt/nullspace/releases/current')), 'nothing was switched')
})

test('an unknown --service-manager is a usage error', async () => {
  const { A } = await built()
  const root = tempDir('root')
  const r = exits(await cli(['install', '--root', root, '--manifest', A.manifest, '--service-manager', 'upstart']), 64, 'bad manager')
  assert.match(r.stderr, /--service-manager must be one of auto, systemd, none/)
  assert.not.ok(fs.existsSync(path.join(root, 'opt')), 'nothing was installed')
})

test('kill -9 at every point of the activation, then upgrade again: converges, and a done restart is not done twice', async () => {
  const { A, B } = await built()
  const planned = await withPlan(A, B)
  const points = ['switch', 'render', 'restart', 'health', 'smoke'].map((action) => ({ action, boundary: boundaryAfter(planned, action) }))
  for (const { action, boundary } of points) {
    await withAppliance(async (a) => {
      ok(await a.run('install', '--manifest', A.manifest, '--service-manager', 'systemd', ...SETTLE), 'install A')
      const args = ['upgrade', '--manifest', B.manifest, '--service-manager', 'systemd', '--ingress-url', a.ingress, ...SETTLE]
      const killed = await cli([...args, '--root', a.root], { env: { ...a.sd.env, NULLSPACE_TEST_CRASH_AT_STEP: String(boundary) }, timeoutMs: 60_000 })
      assert.is(killed.signal, 'SIGKILL', `killed after ${action}: ${killed.stderr}`)
      const restartsBefore = verbs(a.sd).filter((c) => c === `restart ${UNIT}`).length
      const again = ok(await a.run(...args), `upgrade again after a kill after ${action}`)
      const restarts = verbs(a.sd).filter((c) => c === `restart ${UNIT}`).length - restartsBefore
      const restartedBeforeKill = planned.findIndex((s) => s.action === 'restart') < planned.findIndex((s) => s.action === action)
      assert.is(restarts, restartedBeforeKill || action === 'restart' ? 0 : 1, `restarts by the rerun after a kill after ${action}: ${again.stdout}`)
      const answer = await a.fixture()
      assert.is(answer?.release_id, B_ID, `after a kill after ${action}`)
      assert.is(answer?.pid, a.sd.mainPid(UNIT))
      ok(await a.run('doctor', '--service-manager', 'systemd'), `doctor after a kill after ${action}`)
    })
  }
})

test('kill -9 at every point of a first install with systemd, then install again: the unit is reloaded, enabled and started once', async () => {
  const { A } = await built()
  let planned: { id: string }[] = []
  await withAppliance(async (a) => {
    planned = json(ok(await a.run('plan', '--manifest', A.manifest, '--service-manager', 'systemd', '--json'), 'plan')).steps
  })
  const after = (id: string) => {
    const i = planned.findIndex((s) => s.id === id)
    assert.ok(i >= 0, `${id} in ${planned.map((s) => s.id).join(', ')}`)
    return i + 2
  }
  for (const id of [`switch:${A_ID}`, `render:/etc/systemd/system/${UNIT}`, 'daemon-reload:systemd', `enable:${UNIT}`, `restart:${UNIT}`, `health:${UNIT}`]) {
    await withAppliance(async (a) => {
      const args = ['install', '--manifest', A.manifest, '--service-manager', 'systemd', '--ingress-url', a.ingress, ...SETTLE]
      const killed = await cli([...args, '--root', a.root], { env: { ...a.sd.env, NULLSPACE_TEST_CRASH_AT_STEP: String(after(id)) }, timeoutMs: 60_000 })
      assert.is(killed.signal, 'SIGKILL', `killed after ${id}: ${killed.stderr}`)
      ok(await a.run(...args), `install again after a kill after ${id}`)
      const calls = verbs(a.sd).filter((c) => !c.startsWith('show'))
      for (const verb of ['daemon-reload', `enable ${UNIT}`, `restart ${UNIT}`]) assert.is(calls.filter((c) => c === verb).length, 1, `${verb} once over both runs (killed after ${id}): ${calls.join(', ')}`)
      assert.ok(calls.indexOf('daemon-reload') < calls.indexOf(`restart ${UNIT}`), `the unit file is read before the restart (killed after ${id})`)
      assert.is((await a.fixture())?.release_id, A_ID, `after a kill after ${id}`)
      ok(await a.run('doctor', '--service-manager', 'systemd'), `doctor after a kill after ${id}`)
    })
  }
})

/** The upgrade's steps from A to B with systemd, as `plan` would order them (from a dry run on a scratch host). */
async function withPlan(A: Rel, B: Rel): Promise<{ action: string }[]> {
  let steps: { action: string }[] = []
  await withAppliance(async (a) => {
    ok(await a.run('install', '--manifest', A.manifest, '--service-manager', 'systemd', ...SETTLE), 'install A')
    steps = json(ok(await a.run('upgrade', '--manifest', B.manifest, '--service-manager', 'systemd', '--ingress-url', a.ingress, '--dry-run', '--json'), 'dry run')).steps
  })
  return steps
}

test.run()
