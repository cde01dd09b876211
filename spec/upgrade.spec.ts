// `upgrade` through the real CLI on temp roots: a one-component upgrade over HTTP (bytes
// counted by a real server, inodes shared with the old release), the ingress fixture smoke
// answered (or not) by a real fixture server, auto-rollback, post-switch hooks and their
// environment, --dry-run leaving the root byte-identical, the no-op upgrade, and an upgrade
// killed right after its switch and finished by the rerun.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fs from 'node:fs'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import { KIND_LAYOUT } from '../lib/manifest/kinds.js'
import { startServer } from './helpers/server.js'
import { deadIngressUrl, FIXTURE_PATH, startFixtureIngress, type FixtureAnswer } from './helpers/fixture-ingress.js'
import { tempDir } from './helpers/tmp.js'
import {
  RELEASES, activeView, boundaryAfter, cli, currentOf, envReleaseId, exits, historyOf, hookLog, installedRoot, install, loggingHook, addHook,
  makeRelease, ok, releasesOf, rollback, stateOf, treeOf, upgrade, within, type Rel,
} from './helpers/hosts.js'

const T = 90_000

/** r1 (0.1.0) and r2 (0.2.0, only the api differs), on file:// media; built once for the file. */
let pair: Promise<{ r1: Rel; r2: Rel }> | undefined
const releases = () =>
  (pair ??= (async () => ({
    r1: await makeRelease({ id: 'r1', version: '0.1.0' }),
    r2: await makeRelease({ id: 'r2', version: '0.2.0', change: { 'nullspace-api': 'nullspace-api r2\n' } }),
  }))())

test('upgrade where only the api changed fetches only the api over HTTP and shares inodes for the other nine', () =>
  within(T, 'http upgrade', (async () => {
    const server = await startServer()
    const ingress = await startFixtureIngress()
    try {
      // Sizeable, distinct bytes per file, the same in both releases except the api.
      const base = Object.fromEntries(KIND_LAYOUT.map((k, i) => [k.file, randomBytes(20_000 + i * 1000)]))
      const api2 = randomBytes(33_333)
      const r1 = await makeRelease({ id: 'r1', version: '0.1.0', base, flags: { baseUrl: server.url('/r1') } })
      const r2 = await makeRelease({ id: 'r2', version: '0.2.0', base, change: { 'nullspace-api': api2 }, flags: { baseUrl: server.url('/r2') } })
      for (const r of [r1, r2]) for (const [file, data] of Object.entries(r.files)) server.setFile(`/${r.id}/${file}`, data)

      const root = await installedRoot(r1, '--allow-http')
      const full = server.bytesSent()
      assert.is(full, Object.values(r1.files).reduce((n, b) => n + b.length, 0), 'the install fetched every byte once')
      const requestsBefore = server.requests.length

      ingress.answer({ releaseId: () => currentOf(root) ?? '' }) // the active API answers with its release
      const r = ok(await upgrade(root, r2, '--allow-http', '--ingress-url', ingress.url, '--smoke-timeout', '10', '--json'), 'upgrade r1 -> r2')
      const out = JSON.parse(r.stdout)
      assert.is(out.ok, true)
      assert.is(out.to, 'r2')
      assert.is(out.bytes_transferred, api2.length, 'the tool reports only the api as transferred')

      assert.is(server.bytesSent() - full, api2.length, "the server sent exactly the api's bytes")
      assert.equal([...new Set(server.requests.slice(requestsBefore).map((q) => q.path))], ['/r2/nullspace-api'], 'only the api was requested')

      for (const k of KIND_LAYOUT) {
        const a = fs.statSync(path.join(root, RELEASES, 'r1', k.installPath))
        const b = fs.statSync(path.join(root, RELEASES, 'r2', k.installPath))
        if (k.kind === 'api') assert.is.not(a.ino, b.ino, 'the api is a new file')
        else assert.is(b.ino, a.ino, `${k.installPath} is the same inode in r1 and r2`)
      }
      assert.equal(fs.readFileSync(path.join(root, RELEASES, 'r2/bin/nullspace-api')), api2, 'the new api bytes are installed')

      assert.is(currentOf(root), 'r2', 'current switched')
      assert.is(fs.realpathSync(path.join(root, 'opt/nullspace/nullspace-api')), fs.realpathSync(path.join(root, RELEASES, 'r2/bin/nullspace-api')), 'the api link reaches r2')
      assert.is(envReleaseId(root), 'r2', 'appliance.env names the new release')
      assert.equal(historyOf(root), ['install -->r1 ok', 'upgrade r1->r2 ok'])
      assert.ok(ingress.hits >= 1, 'the smoke asked the ingress')
    } finally {
      await server.close()
      await ingress.close()
    }
  })()))

test('the smoke passes when the ingress answers the new release_id, also after a few failed tries', () =>
  within(T, 'smoke ok', (async () => {
    const { r1, r2 } = await releases()
    const ingress = await startFixtureIngress({ releaseId: 'r2' })
    try {
      const root = await installedRoot(r1)
      ingress.answerFirst(2, { status: 503, body: 'starting' })
      const r = ok(await upgrade(root, r2, '--ingress-url', ingress.url, '--smoke-timeout', '20'), 'upgrade with smoke')
      assert.match(r.stdout, /Upgraded to r2/)
      assert.ok(ingress.hits >= 3, `the smoke retried until it passed (${ingress.hits} requests)`)
      assert.ok(ingress.paths.every((p) => p === FIXTURE_PATH), `only the fixture path was asked: ${ingress.paths.join(', ')}`)
      assert.is(currentOf(root), 'r2')
      const rows = (await releasesOf(root)).releases
      assert.is(rows.find((x) => x.release_id === 'r2')?.failed, false)
      assert.equal(historyOf(root), ['install -->r1 ok', 'upgrade r1->r2 ok'])
    } finally {
      await ingress.close()
    }
  })()))

/** Upgrades r1 -> r2 with a smoke that fails; everything an operator sees must be as before. */
async function smokeFailsAndRollsBack(answer: FixtureAnswer | 'nothing listens', says?: RegExp): Promise<void> {
  const { r1, r2 } = await releases()
  const ingress = await startFixtureIngress(answer === 'nothing listens' ? {} : answer)
  try {
    const url = answer === 'nothing listens' ? await deadIngressUrl() : ingress.url
    const root = await installedRoot(r1)
    const before = activeView(root)
    const r = exits(await upgrade(root, r2, '--ingress-url', url, '--smoke-timeout', '2'), 1, 'upgrade with a failing smoke')
    assert.match(r.stderr, /smoke/i, 'the message says the smoke failed')
    assert.match(r.stderr, /rolled back to r1/i, 'the message says it rolled back')
    if (says) assert.match(r.stderr, says, 'the message says what the ingress answered')
    assert.not.match(r.stderr, /\n\s+at /, 'no stack trace')

    assert.is(currentOf(root), 'r1', 'current is back on r1')
    assert.equal(activeView(root), before, 'current, links and rendered files are byte-identical to before the upgrade')
    const rows = (await releasesOf(root)).releases
    const row = (id: string) => rows.find((x) => x.release_id === id)!
    assert.is(row('r2').failed, true, 'r2 is marked failed')
    assert.is(row('r2').active, false)
    assert.is(row('r1').active, true)
    assert.is(row('r1').failed, false)
    assert.equal(historyOf(root), ['install -->r1 ok', 'upgrade r1->r2 failed', 'auto-rollback r2->r1 ok'], 'state.json has both switches')
    assert.ok('r2' in stateOf(root).failed, 'state.json marks r2 failed')
    assert.match(stateOf(root).failed.r2.reason, /smoke/)
  } finally {
    await ingress.close()
  }
}

test('a smoke answered with the wrong release_id rolls back and leaves the appliance as before', () =>
  within(T, 'wrong release_id', smokeFailsAndRollsBack({ releaseId: 'r1' })))

test('a smoke answered with 500 rolls back and leaves the appliance as before', () =>
  within(T, 'smoke 500', smokeFailsAndRollsBack({ status: 500, body: 'boom' })))

test('a smoke answered with a redirect reports the redirect, does not follow it, and rolls back', () =>
  within(T, 'smoke 301', smokeFailsAndRollsBack({ status: 301, body: 'moved' }, /ingress smoke failed: \S+ answered 301 \(gave up after 2 s\)/)))

test('a smoke that nothing answers rolls back within --smoke-timeout', () => within(T, 'dead ingress', smokeFailsAndRollsBack('nothing listens')))

test('a smoke that hangs is given up after --smoke-timeout and rolls back', () => within(T, 'hanging ingress', smokeFailsAndRollsBack({ hang: true })))

test('a smoke answered with a body that never ends is cut off at 64 KiB and fails, and the upgrade rolls back', () =>
  within(T, 'endless smoke body', (async () => {
    const { r1, r2 } = await releases()
    const ingress = await startFixtureIngress({ endless: true })
    try {
      const root = await installedRoot(r1)
      const r = exits(await upgrade(root, r2, '--ingress-url', ingress.url, '--smoke-timeout', '2'), 1, 'upgrade against an endless smoke body')
      assert.match(r.stderr, /ingress smoke failed: .* answered with more than 64 KiB/, r.stderr)
      assert.match(r.stderr, /rolled back to r1/i)
      assert.is(currentOf(root), 'r1')
      // Each probe stops reading at the cap; what the server got rid of beyond it sits in socket buffers.
      assert.ok(ingress.bytesSent < 32 * 1024 * 1024, `the smoke read a bounded amount (server sent ${ingress.bytesSent} bytes over ${ingress.hits} probes)`)
    } finally {
      await ingress.close()
    }
  })()))

test('a failed upgrade with --json prints one JSON document: ok false, the failure and where it rolled back to', () =>
  within(T, 'failed upgrade --json', (async () => {
    const { r1, r2 } = await releases()
    const ingress = await startFixtureIngress({ status: 500 })
    try {
      const log = path.join(tempDir('hooklog'), 'calls')
      const root = await installedRoot(r1)
      loggingHook(root, '10-log', log) // hook output must not reach stdout
      addHook(root, '20-chatty', '#!/bin/sh\necho "hook says hello"\n')
      const r = exits(await upgrade(root, r2, '--ingress-url', ingress.url, '--smoke-timeout', '1', '--json'), 1, 'failed upgrade --json')
      const out = JSON.parse(r.stdout)
      assert.is(out.ok, false)
      assert.is(out.to, 'r2')
      assert.is(out.rolled_back_to, 'r1')
      assert.match(out.failure, /500/)
      assert.ok(Array.isArray(out.warnings))
      assert.match(r.stderr, /hook says hello/, 'hook output goes to stderr')
    } finally {
      await ingress.close()
    }
  })()))

test('a hook that outlives --hook-timeout fails the activation and the upgrade rolls back', () =>
  within(T, 'hook timeout', (async () => {
    const { r1, r2 } = await releases()
    const root = await installedRoot(r1)
    addHook(root, '50-slow', '#!/bin/sh\n[ "$NULLSPACE_OPERATION" = upgrade ] && exec sleep 20\nexit 0\n')
    const started = Date.now()
    const r = exits(await upgrade(root, r2, '--skip-ingress-smoke', '--hook-timeout', '1'), 1, 'upgrade with a slow hook')
    assert.ok(Date.now() - started < 15_000, 'the hook was cut off, not waited for')
    assert.match(r.stderr, /50-slow/)
    assert.match(r.stderr, /rolled back to r1/i)
    assert.is(currentOf(root), 'r1')
    assert.equal(historyOf(root), ['install -->r1 ok', 'upgrade r1->r2 failed', 'auto-rollback r2->r1 ok'])
  })()))

test('a release that failed and is then upgraded to successfully is no longer marked failed', () =>
  within(T, 'retry after failure', (async () => {
    const { r1, r2 } = await releases()
    const ingress = await startFixtureIngress({ status: 503 })
    try {
      const root = await installedRoot(r1)
      exits(await upgrade(root, r2, '--ingress-url', ingress.url, '--smoke-timeout', '1'), 1, 'first try: the ingress is not ready')
      assert.is(currentOf(root), 'r1')
      ingress.answer({ releaseId: 'r2' })
      ok(await upgrade(root, r2, '--ingress-url', ingress.url, '--smoke-timeout', '10'), 'second try passes the smoke')
      assert.is(currentOf(root), 'r2')
      const rows = (await releasesOf(root)).releases
      assert.is(rows.find((x) => x.release_id === 'r2')?.failed, false, 'r2 proved itself: releases list no longer shows it failed')
      assert.not.ok('r2' in stateOf(root).failed, 'state.json no longer marks r2 failed')
      ok(await rollback(root), 'rollback to r1')
      ok(await rollback(root), 'rollback again')
      assert.is(currentOf(root), 'r2', 'rollback twice returns to the proven r2')
    } finally {
      await ingress.close()
    }
  })()))

test('--no-auto-rollback stays on the failed release and says how to roll back', () =>
  within(T, 'no auto rollback', (async () => {
    const { r1, r2 } = await releases()
    const ingress = await startFixtureIngress({ releaseId: 'not-r2' })
    try {
      const root = await installedRoot(r1)
      const before = activeView(root)
      const r = exits(await upgrade(root, r2, '--ingress-url', ingress.url, '--smoke-timeout', '2', '--no-auto-rollback'), 1, 'upgrade --no-auto-rollback')
      assert.match(r.stderr, /nullspace-host rollback/, 'names the command that rolls back')
      assert.not.match(r.stderr, /rolled back to/i)
      assert.is(currentOf(root), 'r2', 'stays on r2')
      assert.is(envReleaseId(root), 'r2')
      const rows = (await releasesOf(root)).releases
      assert.is(rows.find((x) => x.release_id === 'r2')?.failed, true, 'r2 is marked failed')
      assert.is(rows.find((x) => x.release_id === 'r1')?.rollback_target, true, 'r1 is the rollback target')
      assert.equal(historyOf(root), ['install -->r1 ok', 'upgrade r1->r2 failed'])

      ok(await rollback(root), 'the rollback it names')
      assert.is(currentOf(root), 'r1')
      assert.equal(activeView(root), before, 'the manual rollback restores the appliance')
    } finally {
      await ingress.close()
    }
  })()))

test('--skip-ingress-smoke does not ask the ingress', () =>
  within(T, 'skip smoke', (async () => {
    const { r1, r2 } = await releases()
    const ingress = await startFixtureIngress({ status: 500 })
    try {
      const root = await installedRoot(r1)
      ok(await upgrade(root, r2, '--ingress-url', ingress.url, '--smoke-timeout', '2', '--skip-ingress-smoke'), 'upgrade --skip-ingress-smoke')
      assert.is(ingress.hits, 0, 'no smoke request')
      assert.is(currentOf(root), 'r2')
      assert.equal(historyOf(root), ['install -->r1 ok', 'upgrade r1->r2 ok'])
    } finally {
      await ingress.close()
    }
  })()))

test('post-switch hooks run in lexical order with the documented environment for install, upgrade and rollback', () =>
  within(T, 'hook environment', (async () => {
    const { r1, r2 } = await releases()
    const root = tempDir('root')
    const log = path.join(tempDir('hooklog'), 'calls')
    for (const name of ['20-second', '10-first', '30-third']) loggingHook(root, name, log)
    loggingHook(root, 'README', log)
    fs.chmodSync(path.join(root, 'etc/nullspace/hooks/post-switch.d/README'), 0o644) // not executable: not a hook

    ok(await install(root, r1), 'install')
    const names = ['10-first', '20-second', '30-third']
    const at = (from: number) => hookLog(log).slice(from)
    assert.equal(at(0).map((c) => c.name), names, 'lexical order, non-executables skipped')
    for (const c of at(0)) {
      assert.equal([c.operation, c.release, c.previous], ['install', 'r1', ''], `${c.name} on install`)
      assert.is(c.root, root, 'NULLSPACE_ROOT is the root')
    }

    ok(await upgrade(root, r2, '--skip-ingress-smoke'), 'upgrade')
    assert.equal(at(3).map((c) => c.name), names)
    for (const c of at(3)) assert.equal([c.operation, c.release, c.previous, c.root], ['upgrade', 'r2', 'r1', root], `${c.name} on upgrade`)

    ok(await rollback(root), 'rollback')
    assert.equal(at(6).map((c) => c.name), names)
    for (const c of at(6)) assert.equal([c.operation, c.release, c.previous, c.root], ['rollback', 'r1', 'r2', root], `${c.name} on rollback`)
    assert.is(hookLog(log).length, 9)
  })()))

test('a failing hook rolls the upgrade back, and the auto-rollback runs the hooks with NULLSPACE_OPERATION=auto-rollback', () =>
  within(T, 'failing hook', (async () => {
    const { r1, r2 } = await releases()
    const root = tempDir('root')
    const log = path.join(tempDir('hooklog'), 'calls')
    loggingHook(root, '10-log', log)
    addHook(root, '50-gate', '#!/bin/sh\n[ "$NULLSPACE_OPERATION" = upgrade ] && exit 3\nexit 0\n')
    loggingHook(root, '90-log', log)
    ok(await install(root, r1), 'install')
    const before = activeView(root)
    const n = hookLog(log).length

    const r = exits(await upgrade(root, r2, '--skip-ingress-smoke'), 1, 'upgrade with a failing hook')
    assert.match(r.stderr, /50-gate/, 'names the failing hook')
    assert.match(r.stderr, /rolled back to r1/i)
    const calls = hookLog(log).slice(n).map((c) => `${c.name} ${c.operation} ${c.release} ${c.previous || '-'}`)
    assert.equal(calls, ['10-log upgrade r2 r1', '10-log auto-rollback r1 r2', '90-log auto-rollback r1 r2'], 'hooks stop at the failure; the auto-rollback reruns them')
    assert.is(currentOf(root), 'r1')
    assert.equal(activeView(root), before, 'the appliance is as before the upgrade')
    assert.equal(historyOf(root), ['install -->r1 ok', 'upgrade r1->r2 failed', 'auto-rollback r2->r1 ok'])
    assert.match(stateOf(root).failed.r2?.reason ?? '', /50-gate/)
  })()))

test('upgrade --dry-run prints the plan and findings and leaves the whole root byte-identical', () =>
  within(T, 'dry run', (async () => {
    const { r1, r2 } = await releases()
    const ingress = await startFixtureIngress({ releaseId: 'r2' })
    try {
      const log = path.join(tempDir('hooklog'), 'calls')
      const root = await installedRoot(r1)
      loggingHook(root, '10-log', log)
      const before = treeOf(root, { times: true })

      const human = ok(await upgrade(root, r2, '--dry-run', '--ingress-url', ingress.url), 'upgrade --dry-run')
      assert.match(human.stdout, /upgrade r2/)
      assert.match(human.stdout, /api/)
      assert.match(human.stdout, /\/dev\/kvm/, 'prints the host findings')
      assert.equal(treeOf(root, { times: true }), before, 'the root is byte-identical (files, links, modes, directory mtimes)')

      const j = JSON.parse(ok(await upgrade(root, r2, '--dry-run', '--json', '--ingress-url', ingress.url), 'upgrade --dry-run --json').stdout)
      assert.is(j.operation, 'upgrade')
      assert.is(j.current_release_id, 'r1')
      assert.is(j.target_release_id, 'r2')
      assert.ok(j.steps.some((s: { action: string }) => s.action === 'switch'), 'the plan switches')
      assert.ok(j.warnings.some((w: string) => /\/dev\/kvm/.test(w)), 'findings are in warnings[]')
      assert.equal(j.blockers, [])
      assert.equal(treeOf(root, { times: true }), before, 'still byte-identical after --json')

      assert.not.ok(fs.existsSync(path.join(root, 'var/lib/nullspace/lock')), 'no lock file')
      assert.not.ok(fs.existsSync(path.join(root, RELEASES, '.staging')), 'no staging')
      assert.not.ok(fs.existsSync(path.join(root, RELEASES, 'r2')), 'no new release')
      assert.is(ingress.hits, 0, 'no smoke')
      assert.equal(hookLog(log), [], 'no hooks')
    } finally {
      await ingress.close()
    }
  })()))

test('a blocked upgrade --dry-run exits 1, prints the blocker and changes nothing', () =>
  within(T, 'blocked dry run', (async () => {
    const { r1 } = await releases()
    const old = await makeRelease({ id: 'r0', version: '0.0.9', change: { 'nullspace-api': 'api r0\n' } })
    const root = await installedRoot(r1)
    const before = treeOf(root, { times: true })
    const r = exits(await upgrade(root, old, '--dry-run'), 1, 'dry-run of a downgrade')
    assert.match(`${r.stdout}${r.stderr}`, /--allow-downgrade/)
    const j = JSON.parse(exits(await upgrade(root, old, '--dry-run', '--json'), 1, 'dry-run --json of a downgrade').stdout)
    assert.ok(j.blockers.some((b: { message: string }) => /--allow-downgrade/.test(b.message)), 'the blocker is in blockers[]')
    assert.equal(treeOf(root, { times: true }), before)
  })()))

test('upgrading to the release that is already current is a no-op: no switch, no hooks, no smoke', () =>
  within(T, 'no-op upgrade', (async () => {
    const { r1 } = await releases()
    const ingress = await startFixtureIngress({ status: 500 })
    try {
      const root = tempDir('root')
      const log = path.join(tempDir('hooklog'), 'calls')
      loggingHook(root, '10-log', log)
      ok(await install(root, r1), 'install')
      const before = treeOf(root)
      const state = fs.readFileSync(path.join(root, 'var/lib/nullspace/state.json'))

      const r = ok(await upgrade(root, r1, '--ingress-url', ingress.url, '--smoke-timeout', '2'), 'upgrade to the current release')
      assert.match(r.stdout, /No changes/)
      assert.is(hookLog(log).length, 1, 'the hook ran only for the install')
      assert.is(ingress.hits, 0, 'no smoke')
      assert.equal(fs.readFileSync(path.join(root, 'var/lib/nullspace/state.json')), state, 'no new history')
      assert.equal(treeOf(root), before, 'nothing changed')

      const j = JSON.parse(ok(await upgrade(root, r1, '--json', '--ingress-url', ingress.url), 'again with --json').stdout)
      assert.is(j.changed, false)
    } finally {
      await ingress.close()
    }
  })()))

const crashAt = (n: number) => ({ env: { NULLSPACE_TEST_CRASH_AT_STEP: String(n) } })

test('an upgrade killed right after its switch is finished by the rerun: render, hooks, smoke, record, no flip back', () =>
  within(T, 'killed upgrade', (async () => {
    const { r1, r2 } = await releases()
    const root = await installedRoot(r1)
    const ingress = await startFixtureIngress({ releaseId: () => currentOf(root) ?? '' })
    try {
      const log = path.join(tempDir('hooklog'), 'calls')
      loggingHook(root, '10-log', log)
      const args = ['upgrade', '--root', root, '--manifest', r2.manifest, '--ingress-url', ingress.url, '--smoke-timeout', '10']
      const plan = JSON.parse(ok(await cli([...args, '--dry-run', '--json']), 'dry run').stdout)
      const n = boundaryAfter(plan.steps, 'switch')

      const killed = await cli(args, crashAt(n))
      assert.is(killed.signal, 'SIGKILL', `the seam killed the upgrade (exit ${killed.code}, ${killed.stderr})`)
      assert.is(currentOf(root), 'r2', 'killed after the switch')
      assert.is(envReleaseId(root), 'r1', 'but before the render')
      assert.equal(hookLog(log), [], 'and before the hooks')
      assert.is(ingress.hits, 0, 'and before the smoke')
      assert.equal(historyOf(root), ['install -->r1 ok'], 'and before the record')

      const again = ok(await cli(args), 'the same upgrade again')
      assert.not.match(again.stderr, /rolled back/i)
      assert.is(currentOf(root), 'r2', 'no flip back')
      assert.is(envReleaseId(root), 'r2', 'the rerun rendered')
      assert.equal(hookLog(log).map((c) => `${c.operation} ${c.release} ${c.previous}`), ['upgrade r2 r1'], 'the rerun ran the hooks once, as the upgrade from r1')
      assert.ok(ingress.hits >= 1, 'the rerun ran the smoke')
      assert.equal(historyOf(root), ['install -->r1 ok', 'upgrade r1->r2 ok'], 'the rerun recorded the upgrade once')
      const rows = (await releasesOf(root)).releases
      assert.is(rows.find((x) => x.release_id === 'r1')?.rollback_target, true)

      const third = ok(await cli(args), 'a third run')
      assert.match(third.stdout, /No changes/)
      assert.is(hookLog(log).length, 1, 'a finished upgrade is not finished twice')
    } finally {
      await ingress.close()
    }
  })()))

test('an upgrade killed after its switch whose journal is then cut short or malformed: the rerun refuses, says how to recover, and doctor says so too', () =>
  within(T, 'corrupt journal', (async () => {
    const { r1, r2 } = await releases()
    const spoils: [string, (text: string) => string][] = [
      ['truncated', (text) => text.slice(0, Math.floor(text.length / 2))],
      ['valid JSON the journal format refuses', () => '{"format_version": 1, "operation": "upgrade"}\n'],
    ]
    for (const [what, spoil] of spoils) {
      const root = await installedRoot(r1)
      const log = path.join(tempDir('hooklog'), 'calls')
      loggingHook(root, '10-log', log)
      const args = ['upgrade', '--root', root, '--manifest', r2.manifest, '--skip-ingress-smoke']
      const plan = JSON.parse(ok(await cli([...args, '--dry-run', '--json']), 'dry run').stdout)
      const killed = await cli(args, crashAt(boundaryAfter(plan.steps, 'switch')))
      assert.is(killed.signal, 'SIGKILL', `${what}: the seam killed the upgrade (exit ${killed.code}, ${killed.stderr})`)
      assert.is(currentOf(root), 'r2')
      const journal = path.join(root, 'var/lib/nullspace/journal.json')
      fs.writeFileSync(journal, spoil(fs.readFileSync(journal, 'utf8')))

      const again = exits(await cli(args), 1, `${what}: the rerun`)
      assert.ok(again.stderr.includes(journal), `${what}: names the journal: ${again.stderr}`)
      assert.match(again.stderr, /unknown/, `${what}: says what it held is unknown`)
      assert.match(again.stderr, /doctor/, `${what}: says to check doctor`)
      assert.match(again.stderr, /move it aside/, `${what}: says to move it aside`)
      assert.equal(hookLog(log), [], `${what}: no hook ran on a guess`)
      assert.is(envReleaseId(root), 'r1', `${what}: nothing rendered`)
      assert.equal(historyOf(root), ['install -->r1 ok'], `${what}: nothing recorded`)

      const doctor = exits(await cli(['doctor', '--json', '--root', root]), 1, `${what}: doctor`)
      const problems = (JSON.parse(doctor.stdout) as { problems: string[] }).problems
      assert.ok(problems.some((p) => p.includes(journal)), `${what}: doctor names the journal: ${problems.join(' | ')}`)

      // The operator's way out: move it aside; the rerun then sees no journal and records the switch current names.
      fs.renameSync(journal, `${journal}.bad`)
      ok(await cli(args), `${what}: the rerun once the journal is moved aside`)
      assert.is(currentOf(root), 'r2')
    }
  })()))

test('a killed upgrade whose smoke fails on the rerun rolls back to the release before the upgrade', () =>
  within(T, 'killed upgrade, failing smoke', (async () => {
    const { r1, r2 } = await releases()
    const ingress = await startFixtureIngress({ releaseId: 'r1' })
    try {
      const root = await installedRoot(r1)
      const before = activeView(root)
      const args = ['upgrade', '--root', root, '--manifest', r2.manifest, '--ingress-url', ingress.url, '--smoke-timeout', '2']
      const plan = JSON.parse(ok(await cli([...args, '--dry-run', '--json']), 'dry run').stdout)
      const killed = await cli(args, crashAt(boundaryAfter(plan.steps, 'switch')))
      assert.is(killed.signal, 'SIGKILL')
      assert.is(currentOf(root), 'r2')

      const again = exits(await cli(args), 1, 'the rerun, whose smoke fails')
      assert.match(again.stderr, /rolled back to r1/i)
      assert.is(currentOf(root), 'r1')
      assert.equal(activeView(root), before)
      assert.equal(historyOf(root), ['install -->r1 ok', 'upgrade r1->r2 failed', 'auto-rollback r2->r1 ok'])
    } finally {
      await ingress.close()
    }
  })()))

test('an upgrade on a host whose rollback was killed after its switch finishes that rollback first and upgrades nothing', () =>
  within(T, 'killed rollback, then upgrade', (async () => {
    const { r1, r2 } = await releases()
    const root = await installedRoot(r1)
    ok(await upgrade(root, r2, '--skip-ingress-smoke'), 'upgrade to r2')
    const killed = await cli(['rollback', '--root', root], crashAt(2))
    assert.is(killed.signal, 'SIGKILL', `the seam killed the rollback (exit ${killed.code}, ${killed.stderr})`)
    const journal = JSON.parse(fs.readFileSync(path.join(root, 'var/lib/nullspace/journal.json'), 'utf8'))
    assert.equal([journal.operation, journal.to, journal.switched, journal.done], ['rollback', 'r1', true, false], 'killed after the switch, before the end')
    assert.is(currentOf(root), 'r1')

    const dry = exits(await upgrade(root, r2, '--skip-ingress-smoke', '--dry-run'), 1, 'upgrade --dry-run after the killed rollback')
    assert.match(dry.stdout + dry.stderr, /an interrupted rollback to r1 is not finished: upgrade finishes it first and upgrades nothing/)
    const r = exits(await upgrade(root, r2, '--skip-ingress-smoke'), 1, 'upgrade after the killed rollback')
    assert.match(r.stderr, /an interrupted rollback to r1 was finished first \(an operator asked for it\), so r1 stays active\. Run upgrade again/)
    assert.is(currentOf(root), 'r1')
    assert.is(envReleaseId(root), 'r1', 'the rollback rendered r1')
    assert.equal(historyOf(root), ['install -->r1 ok', 'upgrade r1->r2 ok', 'rollback r2->r1 ok'], 'the rollback recorded once; no upgrade attempted')
    ok(await upgrade(root, r2, '--skip-ingress-smoke'), 'upgrade again')
    assert.is(currentOf(root), 'r2')
  })()))

test('upgrade on a host with nothing installed exits 1 and says to install first', () =>
  within(T, 'upgrade without install', (async () => {
    const { r2 } = await releases()
    const root = tempDir('root')
    const r = exits(await upgrade(root, r2, '--skip-ingress-smoke'), 1, 'upgrade on an empty root')
    assert.match(r.stderr, /install/)
    assert.is(currentOf(root), null)
  })()))

test.run()
