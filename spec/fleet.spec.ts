// ARCHITECTURE.md section 8.6 end to end: the real `ansible-playbook` runs contrib/ansible/rollout.yml against a
// fleet of four sandbox appliances on this machine (ansible_connection=local). Each host is its own
// --root with its own stand-in systemd (spec/helpers/systemd.ts) running its own API process on
// its own port, and its own `nullspace_host_tool`: a wrapper that puts that stand-in first on PATH
// and runs the real CLI. Releases and the channel are served over loopback (spec/helpers/server.ts).
// The tests run in order on one fleet, as an operator's rollouts would: each starts where the
// previous one left the hosts.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fs from 'node:fs'
import path from 'node:path'
import { spawnSync } from 'node:child_process'
import { CLI, REPO, runProcess, type CliResult } from './helpers/cli.js'
import { buildServedRelease } from './helpers/artifacts.js'
import { HOOKS, addHook, cli, currentOf, historyOf, ok, stateOf, treeOf, within } from './helpers/hosts.js'
import { startServer, type TestServer } from './helpers/server.js'
import { type StandIn, standInSystemd } from './helpers/systemd.js'
import { apiContents, freePort } from './helpers/stand-in-api.js'
import { tempDir } from './helpers/tmp.js'

const T = 120_000
const UNIT = 'nullspace-api.service'
const timing = (what: string) => process.env.NULLSPACE_FLEET_TIMINGS && console.log(`fleet: ${what}`)
const PLAYBOOK = path.join(REPO, 'contrib/ansible/rollout.yml')
const HOSTS = ['h1', 'h2', 'h3', 'h4']
/** The batches of the default `serial: [1, "25%", "100%"]` over four hosts. */
const BATCHES = [['h1'], ['h2'], ['h3', 'h4']]

interface Host {
  name: string
  root: string
  sd: StandIn
  /** The host's nullspace_host_tool: the real CLI with this host's stand-in systemctl first on PATH. */
  tool: string
  /** Flags of every call on this host (nullspace_extra_args). */
  args: string[]
}

interface Release {
  id: string
  manifestPath: string
  manifestUrl: string
}

interface Fleet {
  server: TestServer
  hosts: Host[]
  releases: Record<'r1' | 'r2' | 'r3' | 'r4', Release>
  dir: string
}

/** What one ansible-playbook run printed, and what its PLAY RECAP says per host. */
interface Run {
  result: CliResult
  ms: number
  recap: Record<string, { ok: number; changed: number; failed: number; skipped: number; rescued: number }>
  /** The hosts each batch (PLAY) ran on, in order. */
  batches: string[][]
}

let made: Promise<Fleet> | undefined
const fleet = () => (made ??= makeFleet())

async function makeFleet(): Promise<Fleet> {
  const which = spawnSync('ansible-playbook', ['--version'], { encoding: 'utf8', timeout: 30_000 })
  if (which.status !== 0) throw new Error(`ansible-playbook is not installed (Debian package ansible-core; .ci/run installs it): ${which.error?.message ?? which.stderr}`)
  const server = await startServer()
  const releases = {} as Fleet['releases']
  await Promise.all(
    ([['r1', '0.1.0'], ['r2', '0.2.0'], ['r3', '0.3.0'], ['r4', '0.4.0']] as const).map(async ([id, version]) => {
      const built = await buildServedRelease(server, { releaseId: id, version, contents: apiContents('serve', id) })
      server.setFile(`/${id}/manifest.json`, fs.readFileSync(built.manifest))
      releases[id] = { id, manifestPath: built.manifest, manifestUrl: server.url(`/${id}/manifest.json`) }
    }),
  )
  const dir = tempDir('fleet')
  const hosts = await Promise.all(
    HOSTS.map(async (name) => {
      const root = tempDir(`root-${name}`)
      const port = await freePort()
      const sd = standInSystemd(root, { extraEnv: { NULLSPACE_TEST_API_PORT: String(port) } })
      const tool = path.join(dir, `nullspace-host-${name}`)
      const exports = Object.entries(sd.env).map(([k, v]) => `export ${k}=${shellQuote(v ?? '')}`)
      fs.writeFileSync(tool, `#!/bin/sh\n${exports.join('\n')}\nexec ${shellQuote(process.execPath)} ${shellQuote(CLI)} "$@"\n`, { mode: 0o755 })
      const args = ['--allow-http', '--service-manager', 'systemd', '--service-settle', '0.2', '--ingress-url', `http://127.0.0.1:${port}/`, '--smoke-timeout', '10']
      return { name, root, sd, tool, args }
    }),
  )
  await Promise.all(hosts.map(async (h) => ok(await cli(['install', '--root', h.root, '--manifest', releases.r1.manifestPath, ...h.args], { env: h.sd.env, timeoutMs: 60_000 }), `install r1 on ${h.name}`)))
  return { server, hosts, releases, dir }
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`

/** Runs the playbook with `vars` as extra vars (and `--check` when asked) against the fleet's inventory. */
async function rollout(f: Fleet, vars: Record<string, unknown>, o: { check?: boolean } = {}): Promise<Run> {
  const inventory = path.join(f.dir, 'inventory.json')
  const hostVars = Object.fromEntries(f.hosts.map((h) => [h.name, { ansible_connection: 'local', nullspace_root: h.root, nullspace_host_tool: h.tool, nullspace_extra_args: h.args }]))
  fs.writeFileSync(inventory, JSON.stringify({ nullspace: { hosts: hostVars } }))
  const extra = path.join(f.dir, 'vars.json')
  fs.writeFileSync(extra, JSON.stringify(vars))
  // ansible-core's home, temp dirs and config in the spec's temp dir; no retry files, cows or host keys.
  const home = path.join(f.dir, 'ansible')
  const config = path.join(f.dir, 'ansible.cfg')
  fs.writeFileSync(config, `[defaults]\nhost_key_checking = False\nretry_files_enabled = False\nnocows = True\npipelining = True\ninterpreter_python = /usr/bin/python3\nlocal_tmp = ${home}/tmp\nremote_tmp = ${home}/remote-tmp\nforks = 4\n`)
  const env = { ANSIBLE_CONFIG: config, ANSIBLE_HOME: home, ANSIBLE_FORCE_COLOR: '0', ANSIBLE_NOCOLOR: '1', HOME: home }
  const started = Date.now()
  const result = await runProcess('ansible-playbook', ['-i', inventory, '-e', `@${extra}`, ...(o.check ? ['--check'] : []), PLAYBOOK], { env, cwd: f.dir, timeoutMs: 90_000 })
  const ms = Date.now() - started
  const recap: Run['recap'] = {}
  for (const m of result.stdout.matchAll(/^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)\s+skipped=(\d+)\s+rescued=(\d+)/gm))
    recap[m[1]] = { ok: Number(m[2]), changed: Number(m[3]), failed: Number(m[4]), skipped: Number(m[5]), rescued: Number(m[6]) }
  const batches = result.stdout
    .split(/^PLAY \[/m)
    .slice(1)
    .filter((play) => !play.startsWith('PLAY RECAP') && !play.startsWith('RECAP'))
    .map((play) => [...new Set([...play.matchAll(/^(?:ok|changed|fatal|skipping|failed): \[(\S+?)\]/gm)].map((m) => m[1]))].sort())
    .filter((hosts) => hosts.length > 0)
  return { result, ms, recap, batches }
}

const showRun = (r: Run) => `ansible-playbook exit ${r.result.code}\n${r.result.stdout}\n${r.result.stderr}`

/** Each host's recap `changed` count, by host name. */
const changedBy = (r: Run) => Object.fromEntries(HOSTS.map((h) => [h, r.recap[h]?.changed ?? null]))
const currents = (f: Fleet) => Object.fromEntries(f.hosts.map((h) => [h.name, currentOf(h.root)]))
const trees = (f: Fleet) => Object.fromEntries(f.hosts.map((h) => [h.name, treeOf(h.root)]))
/** When each host's last successful switch to `id` began (`switched_at`) and was recorded (`at`), from its state.json history. */
function switchTimes(h: Host, id: string): { switched: number; recorded: number } {
  const history = stateOf(h.root).history as Array<{ to: string; result: string; at: string; switched_at?: string }>
  const rec = history.filter((r) => r.to === id && r.result === 'ok').at(-1)
  assert.ok(rec?.switched_at, `${h.name} has a successful switch to ${id} in its history: ${JSON.stringify(history)}`)
  return { switched: Date.parse(rec!.switched_at!), recorded: Date.parse(rec!.at) }
}

/** Each batch's hosts switched only after every host of the batch before had finished. */
function assertBatchOrder(f: Fleet, id: string, batches: string[][]): void {
  const byName = new Map(f.hosts.map((h) => [h.name, switchTimes(h, id)]))
  for (let i = 1; i < batches.length; i++) {
    const doneBefore = Math.max(...batches[i - 1].map((n) => byName.get(n)!.recorded))
    const startedNow = Math.min(...batches[i].map((n) => byName.get(n)!.switched))
    assert.ok(doneBefore < startedNow, `batch ${batches[i].join(',')} switched (${new Date(startedNow).toISOString()}) after batch ${batches[i - 1].join(',')} was done (${new Date(doneBefore).toISOString()})`)
  }
}

const manifestVars = (r: Release) => ({ nullspace_manifest_url: r.manifestUrl })

const published = new Set<string>()
/** Adds `r` to the fleet's channel (once) with the real `channel add`, serves the channel, and gives the playbook's variables for it. */
async function channelVars(f: Fleet, r: Release): Promise<Record<string, string>> {
  const file = path.join(f.dir, 'stable.json')
  if (!published.has(r.id)) {
    ok(await cli(['channel', 'add', '--channel-file', file, '--channel-name', 'stable', '--manifest', r.manifestPath, '--manifest-url', r.manifestUrl, '--allow-http']), `channel add ${r.id}`)
    published.add(r.id)
    f.server.setFile('/stable.json', fs.readFileSync(file))
  }
  return { nullspace_channel_url: f.server.url('/stable.json') }
}

const FAILING_HOOK = '50-fails-on-r3'

test('channel: a good release reaches every host in batch order (1, then 25%, then the rest), each reported changed by the tool', () =>
  within(T, 'rollout', (async () => {
    const f = await fleet()
    const run = await rollout(f, await channelVars(f, f.releases.r2))
    assert.is(run.result.code, 0, showRun(run))
    assert.equal(run.batches, BATCHES, `batches: ${showRun(run)}`)
    assert.equal(currents(f), { h1: 'r2', h2: 'r2', h3: 'r2', h4: 'r2' })
    assert.equal(changedBy(run), { h1: 1, h2: 1, h3: 1, h4: 1 }, showRun(run))
    assertBatchOrder(f, 'r2', BATCHES)
    for (const h of f.hosts) assert.is(h.sd.status(UNIT).ActiveState, 'active', `${h.name} runs its API`)
    timing(`4-host rollout ${run.ms} ms`)
  })()))

test('channel, again: every host is up to date and reported unchanged; the upgrade is skipped and nothing under any root changes', () =>
  within(T, 'no-op rerun', (async () => {
    const f = await fleet()
    const before = trees(f)
    const run = await rollout(f, await channelVars(f, f.releases.r2))
    assert.is(run.result.code, 0, showRun(run))
    assert.equal(changedBy(run), { h1: 0, h2: 0, h3: 0, h4: 0 }, showRun(run))
    assert.equal(Object.values(run.recap).map((r) => r.skipped), [1, 1, 1, 1], `the upgrade itself was skipped on every host: ${showRun(run)}`)
    assert.equal(trees(f), before)
    timing(`no-op rerun ${run.ms} ms`)
  })()))

test('channel: a release whose post-switch hook fails on the second host stops the rollout there: that host rolled itself back, later batches untouched, its error shown', () =>
  within(T, 'failed host', (async () => {
    const f = await fleet()
    const [h1, h2, h3, h4] = f.hosts
    addHook(h2.root, FAILING_HOOK, `#!/bin/sh\nif [ "$NULLSPACE_RELEASE_ID" = r3 ]; then echo 'migration 42 failed' >&2; exit 7; fi\n`)
    const later = { h3: treeOf(h3.root), h4: treeOf(h4.root) }
    const run = await rollout(f, await channelVars(f, f.releases.r3))
    assert.is(run.result.code, 2, `ansible-playbook exits 2 when a host failed: ${showRun(run)}`)
    assert.equal(currents(f), { h1: 'r3', h2: 'r2', h3: 'r2', h4: 'r2' })
    assert.equal(historyOf(h2.root).slice(-2), ['upgrade r2->r3 failed', 'auto-rollback r3->r2 ok'], 'h2 rolled itself back')
    assert.equal({ h3: treeOf(h3.root), h4: treeOf(h4.root) }, later, 'the later batch was not touched')
    assert.equal(run.batches, [['h1'], ['h2']], `no batch after the failed one: ${showRun(run)}`)
    assert.is(run.recap.h2?.failed, 1, showRun(run))
    // Ansible counts a failed task as failed, not changed; its result keeps the tool's `changed`.
    assert.match(run.result.stdout, /^fatal: \[h2\]: FAILED! => \{"changed": true, /m, `the failed upgrade changed h2 (switched and back), as the tool said: ${showRun(run)}`)
    assert.not.ok(run.recap.h3?.ok || run.recap.h4?.ok, `h3 and h4 ran nothing: ${showRun(run)}`)
    // The tool's JSON outcome and its one-line error, as the operator sees them in the play.
    assert.match(run.result.stdout, /h2: Upgrade \(the tool rolls back by itself when the new release fails\) failed \(exit 1\): upgrade to r3 failed: .*Rolled back to r2/)
    assert.match(run.result.stdout, /\\"rolled_back_to\\": \\"r2\\"/, 'the JSON outcome is in the play output')
    assert.equal(h1.sd.status(UNIT).ActiveState, 'active')
    assert.equal(h4.sd.status(UNIT).ActiveState, 'active')
  })()))

test('check mode (--check) changes nothing and reports which hosts would change: the three still on r2, not the one on r3', () =>
  within(T, 'check mode', (async () => {
    const f = await fleet()
    fs.rmSync(path.join(f.hosts[1].root, HOOKS, FAILING_HOOK))
    const before = trees(f)
    const run = await rollout(f, await channelVars(f, f.releases.r3), { check: true })
    assert.is(run.result.code, 0, showRun(run))
    assert.equal(changedBy(run), { h1: 0, h2: 1, h3: 1, h4: 1 }, showRun(run))
    assert.equal(trees(f), before, 'nothing under any root changed')
    assert.equal(currents(f), { h1: 'r3', h2: 'r2', h3: 'r2', h4: 'r2' })
  })()))

test('after the fix, a second run finishes the remaining hosts and reports the already upgraded one unchanged', () =>
  within(T, 'second run', (async () => {
    const f = await fleet()
    const h1 = treeOf(f.hosts[0].root)
    const run = await rollout(f, await channelVars(f, f.releases.r3))
    assert.is(run.result.code, 0, showRun(run))
    assert.equal(currents(f), { h1: 'r3', h2: 'r3', h3: 'r3', h4: 'r3' })
    assert.equal(changedBy(run), { h1: 0, h2: 1, h3: 1, h4: 1 }, showRun(run))
    assert.equal(treeOf(f.hosts[0].root), h1, 'h1 was left as it was')
    assertBatchOrder(f, 'r3', [['h2'], ['h3', 'h4']])
  })()))

test('one manifest URL (no channel), in one batch (nullspace_serial): the release reaches every host, and a rerun reports every host unchanged', () =>
  within(T, 'manifest URL', (async () => {
    const f = await fleet()
    const vars = { ...manifestVars(f.releases.r4), nullspace_serial: ['100%'] }
    const run = await rollout(f, vars)
    assert.is(run.result.code, 0, showRun(run))
    assert.equal(run.batches, [HOSTS], `one batch: ${showRun(run)}`)
    assert.equal(currents(f), { h1: 'r4', h2: 'r4', h3: 'r4', h4: 'r4' })
    assert.equal(changedBy(run), { h1: 1, h2: 1, h3: 1, h4: 1 }, showRun(run))
    const before = trees(f)
    const again = await rollout(f, vars)
    assert.is(again.result.code, 0, showRun(again))
    assert.equal(changedBy(again), { h1: 0, h2: 0, h3: 0, h4: 0 }, showRun(again))
    assert.equal(trees(f), before)
  })()))

test('both a channel and a manifest URL, neither, or extra args that are not a list: the first host fails naming the variables, and no host is called', () =>
  within(T, 'misconfigured', (async () => {
    const f = await fleet()
    const before = trees(f)
    const both = { nullspace_channel_url: 'http://127.0.0.1:1/c.json', nullspace_manifest_url: 'http://127.0.0.1:1/m.json' }
    const notAList = { nullspace_channel_url: 'http://127.0.0.1:1/c.json', nullspace_extra_args: '--allow-http' }
    for (const vars of [both, {}, notAList]) {
      const run = await rollout(f, vars)
      assert.is(run.result.code, 2, showRun(run))
      assert.match(run.result.stdout, /set exactly one of nullspace_channel_url \(a channel\) and nullspace_manifest_url/)
      assert.equal(run.batches, [['h1']], `the rollout stopped at the first batch: ${showRun(run)}`)
    }
    assert.equal(trees(f), before)
  })()))

test('a host tool that is not there fails the first host (its exit 2 is not read as "upgrade available"), naming the error', () =>
  within(T, 'no tool', (async () => {
    const f = await fleet()
    const before = trees(f)
    const missing = path.join(f.dir, 'no-such-nullspace-host')
    const run = await rollout(f, { ...(await channelVars(f, f.releases.r3)), nullspace_host_tool: missing })
    assert.is(run.result.code, 2, showRun(run))
    assert.match(run.result.stdout, /h1: Check whether an upgrade is due .* failed \(exit 2\): .*No such file or directory/)
    assert.equal(run.batches, [['h1']], `the rollout stopped at the first batch: ${showRun(run)}`)
    assert.equal(trees(f), before)
  })()))

test.after(async () => {
  if (!made) return
  const f = await made.catch(() => null)
  if (!f) return
  for (const h of f.hosts) await h.sd.stopAll()
  await f.server.close()
})

test.run()
