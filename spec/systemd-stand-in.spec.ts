// The stand-in systemd (spec/helpers/systemd.ts) that specs of ARCHITECTURE.md section 8.1 put first on PATH,
// checked through real processes: a unit under a temp root, its ExecStart reached through a
// relative symlink chain, its EnvironmentFile read at each start, a real HTTP server answering
// the ingress fixture, crash loops ending `failed`, and nothing left running afterwards.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fs from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { createRequire } from 'node:module'
import { tempDir } from './helpers/tmp.js'
import { standInSystemd, standInProcesses, type StandIn } from './helpers/systemd.js'
import { apiContents, freePort, standInApi, type ApiBehaviour } from './helpers/stand-in-api.js'
import { API_UNIT, installedRoot, makeRelease, treeOf } from './helpers/hosts.js'
import { REPO, runProcess, type CliResult, show } from './helpers/cli.js'

const UNIT = 'nullspace-api.service'
const PROPS = '--property=ActiveState,SubState,MainPID,NRestarts'

/** The unit as the tool renders it, with the restart settings a test needs. */
const unitText = (service: string[] = ['Restart=on-failure', 'RestartSec=2'], unitExtra: string[] = []) =>
  [
    '[Unit]',
    'Description=nullspace API',
    ...unitExtra,
    '',
    '[Service]',
    'Type=simple',
    'EnvironmentFile=/etc/nullspace/appliance.env',
    'ExecStart=/opt/nullspace/nullspace-api',
    ...service,
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n')

/** An appliance env file that takes systemd's quoting to read right. */
const envFile = (releaseId: string) => `# rendered for the stand-in spec\nNULLSPACE_RELEASE_ID="${releaseId.replace(/(["\\$`])/g, '\\$1')}"\nNULLSPACE_VERSION=0.1.0\n`

interface App {
  root: string
  port: number
  sd: StandIn
  /** Writes (or replaces) release `id` with an API of `behaviour` and points `current` at it. */
  release(id: string, behaviour: ApiBehaviour): void
}

/** A temp root laid out like an installed host: releases/<id>/bin/nullspace-api, current, the compat link, env file, unit. */
async function app(behaviour: ApiBehaviour, unit = unitText()): Promise<App> {
  const root = tempDir('root')
  const port = await freePort()
  const at = (p: string) => path.join(root, p)
  fs.mkdirSync(at('etc/systemd/system'), { recursive: true })
  fs.mkdirSync(at('etc/nullspace'), { recursive: true })
  fs.mkdirSync(at('opt/nullspace/releases'), { recursive: true })
  fs.symlinkSync('releases/current/bin/nullspace-api', at('opt/nullspace/nullspace-api'))
  const release = (id: string, b: ApiBehaviour) => {
    fs.mkdirSync(at(`opt/nullspace/releases/${id}/bin`), { recursive: true })
    fs.writeFileSync(at(`opt/nullspace/releases/${id}/bin/nullspace-api`), standInApi(b, id), { mode: 0o555 })
    fs.rmSync(at('opt/nullspace/releases/current'), { force: true })
    fs.symlinkSync(id, at('opt/nullspace/releases/current'))
    fs.writeFileSync(at('etc/nullspace/appliance.env'), envFile(id))
  }
  release('r1', behaviour)
  fs.writeFileSync(at(`etc/systemd/system/${UNIT}`), unit)
  return { root, port, sd: standInSystemd(root, { extraEnv: { NULLSPACE_TEST_API_PORT: String(port) } }), release }
}

function ok(r: CliResult, what: string): CliResult {
  assert.is(r.code, 0, `${what}: ${show(r)}`)
  return r
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** GET the ingress fixture once (2 s deadline): status and parsed body, or null when nothing answers. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the fixture answer as JSON, whatever it holds
function fixtureOnce(port: number): Promise<{ status: number; body: any } | null> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/.well-known/nullspace/ingress-fixture', timeout: 2_000 }, (res) => {
      let text = ''
      res.on('data', (d) => (text += d))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }))
    })
    req.on('timeout', () => req.destroy())
    req.on('error', () => resolve(null))
  })
}

/** The fixture's answer once the API listens (5 s deadline). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the fixture answer as JSON, whatever it holds
async function fixture(a: App): Promise<{ status: number; body: any }> {
  for (const end = Date.now() + 5_000; Date.now() < end; await sleep(50)) {
    const r = await fixtureOnce(a.port)
    if (r) return r
  }
  throw new Error(`nothing answers on 127.0.0.1:${a.port} within 5 s; status ${JSON.stringify(a.sd.status(UNIT))}\n${a.sd.serviceLog(UNIT)}`)
}

const running = (pid: number) => {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2))
  } catch {
    return false
  }
}

test('EnvironmentFile= is read the way systemd reads it: quotes, escapes, comments, and what the tool\'s renderer writes round-trips', () => {
  const { parseEnvFile } = createRequire(import.meta.url)(path.join(REPO, 'spec/helpers/systemctl-stand-in/common.js')) as { parseEnvFile(text: string): Record<string, string> }
  const text = [
    '# a comment',
    '; another',
    'PLAIN=a value with spaces   ',
    '  SPACED = around ',
    'DQ="say \\"hi\\" \\$HOME \\` \\\\ \\n"',
    "SQ='no \\escapes \"here\"'",
    'UNQUOTED=a\\ b\\#c #not a comment',
    'MIDQUOTE=u"v"',
    'JOINED="x"  \'y\'z "w"',
    'CONT="one\\',
    'two"',
    'not an assignment',
    '1BAD=ignored',
    'EMPTY=',
    '',
  ].join('\n')
  assert.equal(parseEnvFile(text), {
    PLAIN: 'a value with spaces',
    SPACED: 'around',
    DQ: 'say "hi" $HOME ` \\ \\n',
    SQ: 'no \\escapes "here"',
    UNQUOTED: 'a b#c #not a comment',
    MIDQUOTE: 'u"v"',
    JOINED: 'xyz "w"', // quotes open only where the value starts or a quoted part ended
    CONT: 'onetwo',
    EMPTY: '',
  })
  // lib/appliance-files.ts quotes a value with characters outside [A-Za-z0-9_./:@+-] this way.
  const quote = (v: string) => (/^[A-Za-z0-9_./:@+-]*$/.test(v) ? v : `"${v.replace(/(["\\$`])/g, '\\$1')}"`)
  for (const v of ['2026.06.10', 'a b', 'q"uote', 'back\\slash', '$dollar', '`tick`', 'hash # x', "it's", ' lead']) {
    assert.equal(parseEnvFile(`K=${quote(v)}\n`), { K: v }, `round-trip of ${JSON.stringify(v)}`)
  }
})

test('daemon-reload then restart runs ExecStart through the symlink chain, with the env file read at start; show answers Key=Value in order', async () => {
  const a = await app('serve')
  try {
    ok(await a.sd.systemctl('daemon-reload'), 'daemon-reload')
    ok(await a.sd.systemctl('restart', UNIT), 'restart')
    const pid = a.sd.mainPid(UNIT)
    assert.ok(pid > 0 && running(pid), `a running MainPID: ${JSON.stringify(a.sd.status(UNIT))}`)
    const f = await fixture(a)
    assert.equal(f, { status: 200, body: { release_id: 'r1', pid, tag: 'r1' } })
    const r = ok(await a.sd.systemctl('show', UNIT, PROPS), 'show')
    assert.is(r.stdout, `ActiveState=active\nSubState=running\nMainPID=${pid}\nNRestarts=0\n`)
    ok(await a.sd.systemctl('show', UNIT, '--property=NRestarts,ActiveState'), 'show, other order')
    assert.equal(a.sd.calls(), [['daemon-reload'], ['restart', UNIT], ['show', UNIT, PROPS], ['show', UNIT, '--property=NRestarts,ActiveState']])
    // The service's cwd is the root, like a real host's `/`.
    assert.is(fs.readlinkSync(`/proc/${pid}/cwd`), a.root)
  } finally {
    await a.sd.stopAll()
  }
})

test('a release installed by the real CLI runs under the stand-in: its rendered unit and env file, the API answering with the rendered release id; `booted` needs no daemon-reload', async () => {
  const root = await installedRoot(await makeRelease({ id: '2026.06.10-rc.1', change: apiContents('serve', 'rc1') }))
  const port = await freePort()
  const sd = standInSystemd(root, { extraEnv: { NULLSPACE_TEST_API_PORT: String(port) } })
  try {
    assert.ok(fs.existsSync(path.join(root, API_UNIT)), 'install rendered the unit')
    ok(await sd.systemctl('daemon-reload'), 'daemon-reload')
    ok(await sd.systemctl('restart', UNIT), 'restart')
    const pid = sd.mainPid(UNIT)
    const f = await fixture({ root, port, sd, release: () => undefined })
    assert.equal(f, { status: 200, body: { release_id: '2026.06.10-rc.1', pid, tag: 'rc1' } })
  } finally {
    await sd.stopAll()
  }
  // A host booted with the unit already there knows it without a daemon-reload.
  const booted = standInSystemd(root, { booted: true, extraEnv: { NULLSPACE_TEST_API_PORT: String(port) } })
  try {
    ok(await booted.systemctl('restart', UNIT), 'restart on a booted host, no daemon-reload')
    assert.is((await fixture({ root, port, sd: booted, release: () => undefined })).body.release_id, '2026.06.10-rc.1')
    assert.equal(booted.calls(), [['restart', UNIT]])
  } finally {
    await booted.stopAll()
  }
})

test('restart gives a new MainPID, ends the old process, and reads the env file again; start of an active unit changes nothing', async () => {
  const a = await app('serve')
  try {
    ok(await a.sd.systemctl('daemon-reload'), 'daemon-reload')
    ok(await a.sd.systemctl('restart', UNIT), 'restart')
    const first = a.sd.mainPid(UNIT)
    assert.is((await fixture(a)).body.release_id, 'r1')
    a.release('r2', 'serve')
    ok(await a.sd.systemctl('restart', UNIT), 'restart onto r2')
    const second = a.sd.mainPid(UNIT)
    assert.ok(second > 0 && second !== first, `a new MainPID (${first} -> ${second})`)
    assert.not.ok(running(first), `the old process ${first} is gone`)
    assert.equal((await fixture(a)).body, { release_id: 'r2', pid: second, tag: 'r2' })
    ok(await a.sd.systemctl('start', UNIT), 'start while active')
    assert.is(a.sd.mainPid(UNIT), second, 'start of an active unit is a no-op')
  } finally {
    await a.sd.stopAll()
  }
})

test('a unit never loaded is not found (exit 5); a unit changed after daemon-reload runs its loaded copy, with the warning; an ExecStart leaving the root fails 203', async () => {
  const a = await app('serve')
  try {
    const r = await a.sd.systemctl('restart', UNIT)
    assert.is(r.code, 5, show(r))
    assert.is(r.stderr, `Failed to restart ${UNIT}: Unit ${UNIT} not found.\n`)
    assert.is((await a.sd.systemctl('start', UNIT)).code, 5, 'start before daemon-reload')
    ok(await a.sd.systemctl('daemon-reload'), 'daemon-reload')
    fs.writeFileSync(path.join(a.root, 'etc/systemd/system', UNIT), unitText().replace('ExecStart=/opt/nullspace/nullspace-api', 'ExecStart=/opt/nullspace/missing'))
    const changed = ok(await a.sd.systemctl('restart', UNIT), 'restart with a changed unit file')
    assert.match(changed.stderr, `Warning: The unit file, source configuration file or drop-ins of ${UNIT} changed on disk. Run 'systemctl daemon-reload' to reload units.`)
    assert.is((await fixture(a)).body.release_id, 'r1', 'the loaded copy (the old ExecStart) runs')
    assert.is((await a.sd.systemctl('show', UNIT, '--property=NeedDaemonReload')).stdout, 'NeedDaemonReload=yes\n')

    // An ExecStart that leaves the root through an absolute symlink never runs the host's file: 203/EXEC.
    fs.writeFileSync(path.join(a.root, 'etc/systemd/system', UNIT), unitText(['Restart=no']))
    ok(await a.sd.systemctl('daemon-reload'), 'daemon-reload')
    const outside = path.join(tempDir('outside'), 'nullspace-api')
    fs.writeFileSync(outside, standInApi('serve', 'outside'), { mode: 0o555 })
    fs.rmSync(path.join(a.root, 'opt/nullspace/nullspace-api'))
    fs.symlinkSync(outside, path.join(a.root, 'opt/nullspace/nullspace-api'))
    ok(await a.sd.systemctl('restart', UNIT), 'restart (Type=simple: the exec fails after the start job)')
    const s = await a.sd.waitFor(UNIT, 'failed', (x) => x.ActiveState === 'failed', 5_000)
    assert.equal([s.ExecMainStatus, s.MainPID], ['203', '0'])
    assert.match(a.sd.serviceLog(UNIT), 'resolves outside the root')
  } finally {
    await a.sd.stopAll()
  }
})

test('an API that exits at once crash-loops under Restart=on-failure into failed (start-limit-hit); reset-failed lets it start again', async () => {
  const a = await app('exit-at-once', unitText(['Restart=on-failure', 'RestartSec=100ms'], ['StartLimitIntervalSec=10', 'StartLimitBurst=3']))
  try {
    ok(await a.sd.systemctl('daemon-reload'), 'daemon-reload')
    ok(await a.sd.systemctl('restart', UNIT), 'restart (Type=simple: the start job succeeds, the process then fails)')
    const s = await a.sd.waitFor(UNIT, 'failed', (x) => x.ActiveState === 'failed', 5_000)
    assert.equal([s.SubState, s.MainPID, s.Result], ['failed', '0', 'start-limit-hit'])
    // Burst 3: the explicit start and two restarts ran; the third restart was refused.
    assert.is(s.NRestarts, '3')
    assert.is((a.sd.serviceLog(UNIT).match(/stand-in api: exiting at once/g) ?? []).length, 3, a.sd.serviceLog(UNIT))
    const refused = await a.sd.systemctl('restart', UNIT)
    assert.is(refused.code, 1, show(refused))
    assert.match(refused.stderr, 'failed because the start of the service was attempted too often')
    ok(await a.sd.systemctl('reset-failed', UNIT), 'reset-failed')
    assert.is((await a.sd.systemctl('show', UNIT, PROPS)).stdout.split('\n')[0], 'ActiveState=inactive')
    a.release('r2', 'serve')
    ok(await a.sd.systemctl('restart', UNIT), 'restart after reset-failed')
    assert.is((await fixture(a)).body.release_id, 'r2')
    assert.is(a.sd.status(UNIT).NRestarts, '0', 'an explicit restart flushes NRestarts')
  } finally {
    await a.sd.stopAll()
  }
})

test('the start limit at 1/10 scale: RestartSec=2 under systemd\'s defaults (10 s, burst 5) never ends failed; under 60 s, burst 5 it does', async () => {
  // Scaled 1:10. The 6th start comes 5 x (RestartSec + run time) after the first: past a window
  // of exactly 5 x RestartSec, so systemd opens a new window and the loop goes on forever.
  const current = await app('exit-at-once', unitText(['Restart=on-failure', 'RestartSec=200ms'], ['StartLimitIntervalSec=1s', 'StartLimitBurst=5']))
  try {
    ok(await current.sd.systemctl('daemon-reload'), 'daemon-reload')
    ok(await current.sd.systemctl('restart', UNIT), 'restart')
    const seen = new Set<string>()
    await current.sd.waitFor(UNIT, 'more restarts than the burst', (x) => (seen.add(x.ActiveState), Number(x.NRestarts) > 6), 8_000)
    assert.not.ok(seen.has('failed'), `never failed: ${[...seen].join(', ')}`)
  } finally {
    await current.sd.stopAll()
  }
  const suggested = await app('exit-at-once', unitText(['Restart=on-failure', 'RestartSec=200ms'], ['StartLimitIntervalSec=6s', 'StartLimitBurst=5']))
  try {
    ok(await suggested.sd.systemctl('daemon-reload'), 'daemon-reload')
    ok(await suggested.sd.systemctl('restart', UNIT), 'restart')
    const s = await suggested.sd.waitFor(UNIT, 'failed', (x) => x.ActiveState === 'failed', 5_000)
    assert.equal([s.Result, s.NRestarts], ['start-limit-hit', '5'])
  } finally {
    await suggested.sd.stopAll()
  }
})

test('a service that crashes after serving is restarted with a new MainPID and NRestarts=1; Restart=no leaves it failed', async () => {
  const a = await app({ crashAfterMs: 300 }, unitText(['Restart=on-failure', 'RestartSec=100ms']))
  try {
    ok(await a.sd.systemctl('daemon-reload'), 'daemon-reload')
    ok(await a.sd.systemctl('restart', UNIT), 'restart')
    const first = a.sd.mainPid(UNIT)
    const s = await a.sd.waitFor(UNIT, 'restarted once', (x) => x.NRestarts === '1' && x.SubState === 'running', 5_000)
    assert.ok(Number(s.MainPID) !== first && Number(s.MainPID) > 0, JSON.stringify(s))
    ok(await a.sd.systemctl('stop', UNIT), 'stop')
    fs.writeFileSync(path.join(a.root, 'etc/systemd/system', UNIT), unitText(['Restart=no']))
    ok(await a.sd.systemctl('daemon-reload'), 'daemon-reload')
    ok(await a.sd.systemctl('restart', UNIT), 'restart with Restart=no')
    const failed = await a.sd.waitFor(UNIT, 'failed', (x) => x.ActiveState === 'failed', 5_000)
    assert.equal([failed.SubState, failed.NRestarts, failed.Result, failed.ExecMainStatus], ['failed', '0', 'exit-code', '1'])
  } finally {
    await a.sd.stopAll()
  }
})

test('stop ends the service and leaves inactive/dead/0; one that ignores SIGTERM is SIGKILLed and left failed (timeout)', async () => {
  const a = await app('serve')
  try {
    ok(await a.sd.systemctl('daemon-reload'), 'daemon-reload')
    ok(await a.sd.systemctl('start', UNIT), 'start')
    const pid = a.sd.mainPid(UNIT)
    await fixture(a)
    ok(await a.sd.systemctl('stop', UNIT), 'stop')
    assert.not.ok(running(pid), `pid ${pid} is gone after stop`)
    assert.is((await a.sd.systemctl('show', UNIT, PROPS)).stdout, 'ActiveState=inactive\nSubState=dead\nMainPID=0\nNRestarts=0\n')
    assert.is(await fixtureOnce(a.port), null, 'nothing answers any more')

    a.release('r2', 'serve-ignoring-sigterm')
    ok(await a.sd.systemctl('start', UNIT), 'start r2')
    const stubborn = a.sd.mainPid(UNIT)
    await fixture(a)
    const t0 = Date.now()
    ok(await a.sd.systemctl('stop', UNIT), 'stop a service that ignores SIGTERM')
    assert.ok(Date.now() - t0 >= 2_500, 'it waited for the SIGTERM grace period')
    assert.not.ok(running(stubborn), `pid ${stubborn} was SIGKILLed`)
    assert.match(a.sd.serviceLog(UNIT), 'ignoring SIGTERM')
    // systemd too: a stop that ran into the SIGKILL leaves the unit failed, result 'timeout'.
    assert.equal([a.sd.status(UNIT).ActiveState, a.sd.status(UNIT).Result, a.sd.status(UNIT).MainPID], ['failed', 'timeout', '0'])
  } finally {
    await a.sd.stopAll()
  }
})

test('enable says what systemctl says and writes nothing under the root; forms outside ARCHITECTURE.md section 8.1 are refused (exit 1); show of an unknown unit is dead', async () => {
  const a = await app('serve')
  try {
    const before = treeOf(a.root)
    const e = ok(await a.sd.systemctl('enable', UNIT), 'enable')
    assert.is(e.stderr, `Created symlink /etc/systemd/system/multi-user.target.wants/${UNIT} \u2192 /etc/systemd/system/${UNIT}.\n`)
    assert.is(ok(await a.sd.systemctl('enable', UNIT), 'enable again').stderr, '', 'nothing to say the second time')
    assert.equal(treeOf(a.root), before, 'the root is unchanged')
    for (const args of [
      ['status', UNIT],
      ['show', UNIT],
      ['show', PROPS, UNIT],
      ['show', UNIT, '--property=ActiveState,Bogus'],
      ['start'],
      ['restart', UNIT, 'other.service'],
      ['restart', 'nullspace-api'],
      ['--no-block', 'restart', UNIT],
      ['is-active', UNIT],
      ['toString'],
    ]) {
      const r = await a.sd.systemctl(...args)
      assert.is(r.code, 1, `${args.join(' ')}: ${show(r)}`)
      assert.match(r.stderr, `stand-in systemctl: unsupported: systemctl ${args.join(' ')}`)
    }
    assert.is((await a.sd.systemctl('show', 'other.service', PROPS)).stdout, 'ActiveState=inactive\nSubState=dead\nMainPID=0\nNRestarts=0\n')
    assert.is(a.sd.calls().length, 13, 'every invocation is logged, refused ones too')
  } finally {
    await a.sd.stopAll()
  }
})

test('stopAll leaves no process of the stand-in alive, supervisors, services or their children (checked in /proc)', async () => {
  const a = await app({ crashAfterMs: 60_000 }, unitText(['Restart=always', 'RestartSec=100ms']))
  ok(await a.sd.systemctl('daemon-reload'), 'daemon-reload')
  ok(await a.sd.systemctl('start', UNIT), 'start')
  const service = a.sd.mainPid(UNIT)
  await fixture(a)
  const pids = standInProcesses(a.sd.stateDir)
  assert.ok(pids.includes(service) && pids.length === 2, `the supervisor and the service: ${pids.join(', ')}`)
  await a.sd.stopAll()
  await sleep(300) // a supervisor that survived would have restarted its service by now (RestartSec=100ms)
  assert.equal(standInProcesses(a.sd.stateDir), [])
  for (const pid of pids) assert.not.ok(running(pid), `pid ${pid} is gone`)
  assert.is(await fixtureOnce(a.port), null, 'nothing answers')
})

test('a spec process SIGKILLed before its cleanup takes the stand-in\'s processes with it (the supervisors watch their owner)', async () => {
  const a = await app('serve')
  // A spec in miniature, in its own process: it starts the unit through the helper, prints where, and dies by SIGKILL.
  const script = path.join(tempDir('owner'), 'owner.mjs')
  const helper = path.join(path.dirname(fileURLToPath(import.meta.url)), 'helpers/systemd.js')
  fs.writeFileSync(
    script,
    `import { standInSystemd } from ${JSON.stringify(helper)}
const sd = standInSystemd(${JSON.stringify(a.root)}, { extraEnv: { NULLSPACE_TEST_API_PORT: '${a.port}' } })
await sd.systemctl('daemon-reload')
const r = await sd.systemctl('restart', '${UNIT}')
process.stdout.write(JSON.stringify({ code: r.code, stderr: r.stderr, stateDir: sd.stateDir, pid: sd.mainPid('${UNIT}') }))
process.kill(process.pid, 'SIGKILL')
`,
  )
  let stateDir = ''
  try {
    const r = await runProcess(process.execPath, [script], { timeoutMs: 10_000 })
    assert.is(r.signal, 'SIGKILL', `the owner died by SIGKILL: exit ${r.code} ${r.stdout} ${r.stderr}`)
    const started = JSON.parse(r.stdout) as { code: number; stderr: string; stateDir: string; pid: number }
    stateDir = started.stateDir
    assert.ok(started.code === 0 && started.pid > 0, r.stdout)
    for (const end = Date.now() + 3_000; standInProcesses(started.stateDir).length && Date.now() < end; ) await sleep(100)
    assert.equal(standInProcesses(started.stateDir), [], 'the supervisor and its service are gone')
    assert.not.ok(running(started.pid), `service pid ${started.pid} is gone`)
  } finally {
    // Whatever the watchdog left (when this test fails), and the owner's temp dir: its exit hook never ran.
    if (stateDir)
      for (const pid of standInProcesses(stateDir))
        try {
          process.kill(pid, 'SIGKILL')
        } catch {
          // gone meanwhile
        }
    if (stateDir) fs.rmSync(stateDir, { recursive: true, force: true })
    await a.sd.stopAll()
  }
})

test.run()
