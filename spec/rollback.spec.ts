// `rollback` through the real CLI on temp roots: back to the recorded target, twice returns
// to where you started, `--to` a sealed release, refusals (unknown id, nothing to go back to),
// never onto a release marked failed, the migration-bundle warning, `--json`, and a rollback
// killed right after its switch that the rerun finishes without flipping back.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fs from 'node:fs'
import path from 'node:path'
import { startFixtureIngress } from './helpers/fixture-ingress.js'
import { tempDir } from './helpers/tmp.js'
import {
  RELEASES, activeView, cli, currentOf, envReleaseId, exits, historyOf, hookLog, installedRoot, loggingHook, makeRelease, ok, releasesOf, rollback, treeOf,
  upgrade, within, type Rel,
} from './helpers/hosts.js'

const T = 90_000

/** r1 -> r2 -> r3, each changing only the api (same migration bundle); r4 also changes the migration bundle. */
let built: Promise<Record<'r1' | 'r2' | 'r3' | 'r4', Rel>> | undefined
const releases = () =>
  (built ??= (async () => ({
    r1: await makeRelease({ id: 'r1', version: '0.1.0' }),
    r2: await makeRelease({ id: 'r2', version: '0.2.0', change: { 'nullspace-api': 'api r2\n' } }),
    r3: await makeRelease({ id: 'r3', version: '0.3.0', change: { 'nullspace-api': 'api r3\n' } }),
    r4: await makeRelease({ id: 'r4', version: '0.4.0', change: { 'nullspace-api': 'api r4\n', 'migrations.tar.gz': 'migrations r4: 0002_add_column\n' } }),
  }))())

const up = async (root: string, rel: Rel, ...extra: string[]) => ok(await upgrade(root, rel, '--skip-ingress-smoke', ...extra), `upgrade to ${rel.id}`)

test('rollback returns to the previous release: current, links, rendered files and history', () =>
  within(T, 'rollback', (async () => {
    const { r1, r2 } = await releases()
    const root = await installedRoot(r1)
    const onR1 = activeView(root)
    await up(root, r2)
    const r = ok(await rollback(root, '--json'), 'rollback --json')
    const out = JSON.parse(r.stdout)
    assert.is(out.ok, true)
    assert.is(out.from, 'r2')
    assert.is(out.to, 'r1')
    assert.equal(out.warnings, [], 'the same migration bundle: no warning')
    assert.is(currentOf(root), 'r1')
    assert.is(envReleaseId(root), 'r1')
    assert.is(fs.realpathSync(path.join(root, 'opt/nullspace/nullspace-api')), fs.realpathSync(path.join(root, RELEASES, 'r1/bin/nullspace-api')))
    assert.equal(activeView(root), onR1, 'the appliance is exactly as it was on r1')
    assert.equal(historyOf(root), ['install -->r1 ok', 'upgrade r1->r2 ok', 'rollback r2->r1 ok'])
    const rows = (await releasesOf(root)).releases
    assert.is(rows.find((x) => x.release_id === 'r2')?.rollback_target, true, 'r2 is now the rollback target')
    assert.is(rows.find((x) => x.release_id === 'r2')?.failed, false, 'a manual rollback does not mark the release failed')
  })()))

test('rollback twice returns to where you started', () =>
  within(T, 'rollback twice', (async () => {
    const { r1, r2 } = await releases()
    const root = await installedRoot(r1)
    await up(root, r2)
    const onR2 = activeView(root)
    ok(await rollback(root), 'first rollback')
    assert.is(currentOf(root), 'r1')
    const r = ok(await rollback(root), 'second rollback')
    assert.match(r.stdout, /r1 to r2/)
    assert.is(currentOf(root), 'r2')
    assert.equal(activeView(root), onR2)
    ok(await rollback(root), 'third rollback')
    assert.is(currentOf(root), 'r1')
    assert.equal(historyOf(root), ['install -->r1 ok', 'upgrade r1->r2 ok', 'rollback r2->r1 ok', 'rollback r1->r2 ok', 'rollback r2->r1 ok'])
  })()))

test('rollback --to switches to any sealed release', () =>
  within(T, 'rollback --to', (async () => {
    const { r1, r2, r3 } = await releases()
    const root = await installedRoot(r1)
    await up(root, r2)
    await up(root, r3)
    const out = JSON.parse(ok(await rollback(root, '--to', 'r1', '--json'), 'rollback --to r1').stdout)
    assert.equal([out.from, out.to], ['r3', 'r1'])
    assert.is(currentOf(root), 'r1')
    assert.is(envReleaseId(root), 'r1')
    assert.equal(historyOf(root).at(-1), 'rollback r3->r1 ok')
    // The next plain rollback goes back to where --to came from.
    ok(await rollback(root), 'rollback')
    assert.is(currentOf(root), 'r3')
  })()))

test('rollback --to an unknown release id exits 1 and changes nothing', () =>
  within(T, 'rollback --to unknown', (async () => {
    const { r1, r2 } = await releases()
    const root = await installedRoot(r1)
    await up(root, r2)
    const before = treeOf(root)
    const r = exits(await rollback(root, '--to', 'no-such-release'), 1, 'rollback --to no-such-release')
    assert.match(r.stderr, /no-such-release/)
    assert.is(r.stderr.trim().split('\n').length, 1, 'one line')
    assert.equal(treeOf(root), before)
  })()))

test('rollback --to a release that is only staged (not sealed) exits 1', () =>
  within(T, 'rollback --to staged', (async () => {
    const { r1, r2 } = await releases()
    const root = await installedRoot(r1)
    // Kill an upgrade after its first fetch: r2 exists only as staging.
    const args = ['upgrade', '--root', root, '--manifest', r2.manifest, '--skip-ingress-smoke']
    const killed = await cli(args, { env: { NULLSPACE_TEST_CRASH_AT_STEP: '2' } })
    assert.is(killed.signal, 'SIGKILL')
    assert.ok(fs.existsSync(path.join(root, RELEASES, '.staging/r2')), 'r2 is staged')
    // (the killed run left its lock behind; the next command takes over a dead holder's lock)
    const withoutLock = () => Object.fromEntries(Object.entries(treeOf(root)).filter(([p]) => p !== 'var/lib/nullspace/lock'))
    const before = withoutLock()
    exits(await rollback(root, '--to', 'r2'), 1, 'rollback --to a staged release')
    assert.equal(withoutLock(), before)
    assert.is(currentOf(root), 'r1')
  })()))

test('rollback --to the release that is already active changes nothing and does not claim an interrupted rollback', () =>
  within(T, 'rollback --to current', (async () => {
    const { r1, r2 } = await releases()
    const root = await installedRoot(r1)
    const log = path.join(tempDir('hooklog'), 'calls')
    loggingHook(root, '10-log', log)
    await up(root, r2)
    const history = historyOf(root)
    const r = ok(await rollback(root, '--to', 'r2'), 'rollback --to the current release')
    assert.not.match(r.stdout, /interrupted/, `no rollback was interrupted: ${r.stdout}`)
    assert.is(currentOf(root), 'r2')
    assert.equal(historyOf(root), history, 'no switch recorded')
    assert.is(hookLog(log).length, 1, 'no hooks')
  })()))

test('rollback with no previous release exits 1 with a clear message and changes nothing', () =>
  within(T, 'nothing to roll back to', (async () => {
    const { r1 } = await releases()
    const root = await installedRoot(r1)
    const before = treeOf(root)
    const r = exits(await rollback(root), 1, 'rollback after a single install')
    assert.match(r.stderr, /no previous release/i)
    assert.not.match(r.stderr, /\n\s+at /, 'no stack trace')
    assert.equal(treeOf(root), before)
    assert.is(currentOf(root), 'r1')

    const empty = tempDir('root')
    const e = exits(await rollback(empty), 1, 'rollback on an empty root')
    assert.match(e.stderr, /no previous release/i)
    assert.is(currentOf(empty), null)
  })()))

test('rollback never goes to a release marked failed', () =>
  within(T, 'never to failed', (async () => {
    const { r1, r2, r3 } = await releases()
    const ingress = await startFixtureIngress({ releaseId: 'wrong' })
    try {
      const root = await installedRoot(r1)
      await up(root, r2)
      // r3's smoke fails, and it stays active: r3 is marked failed.
      exits(await upgrade(root, r3, '--ingress-url', ingress.url, '--smoke-timeout', '1', '--no-auto-rollback'), 1, 'failing upgrade to r3')
      assert.is(currentOf(root), 'r3')
      ok(await rollback(root), 'rollback from the failed r3')
      assert.is(currentOf(root), 'r2')
      let rows = (await releasesOf(root)).releases
      assert.is(rows.find((x) => x.release_id === 'r3')?.rollback_target, false, 'the failed r3 is not the rollback target')
      assert.is(rows.find((x) => x.release_id === 'r1')?.rollback_target, true, 'r1 is')
      ok(await rollback(root), 'rollback from r2')
      assert.is(currentOf(root), 'r1', 'the second rollback skips the failed r3')

      // After an auto-rollback, the failed release is not the target either.
      const other = await installedRoot(r1)
      await up(other, r2)
      exits(await upgrade(other, r3, '--ingress-url', ingress.url, '--smoke-timeout', '1'), 1, 'failing upgrade with auto-rollback')
      assert.is(currentOf(other), 'r2')
      rows = (await releasesOf(other)).releases
      assert.is(rows.find((x) => x.release_id === 'r3')?.rollback_target, false)
      ok(await rollback(other), 'rollback after the auto-rollback')
      assert.is(currentOf(other), 'r1')
    } finally {
      await ingress.close()
    }
  })()))

test('rollback across a changed migration bundle warns on stderr and in --json warnings[]', () =>
  within(T, 'migration warning', (async () => {
    const { r1, r4 } = await releases()
    const root = await installedRoot(r1)
    // r4's migrations are irreversible: without a backup, the migration guard (backup-guard.spec) needs its override.
    await up(root, r4, '--no-backup-check')
    const r = ok(await rollback(root, '--json'), 'rollback --json across the migration bundle')
    const out = JSON.parse(r.stdout)
    assert.equal([out.ok, out.from, out.to], [true, 'r4', 'r1'])
    assert.is(out.warnings.length, 1)
    assert.match(out.warnings[0], /migrations are not rolled back/i)
    assert.match(out.warnings[0], /backup/i)
    assert.match(r.stderr, /migrations are not rolled back/i, 'also on stderr')

    const human = ok(await rollback(root), 'rollback back to r4 (human)')
    assert.match(human.stderr, /migrations are not rolled back/i)
    assert.match(human.stderr, /backup/i)
    assert.is(currentOf(root), 'r4')
  })()))

test('an automatic rollback across a changed migration bundle warns too (human and --json)', () =>
  within(T, 'auto-rollback migration warning', (async () => {
    const { r1, r4 } = await releases()
    const ingress = await startFixtureIngress({ status: 500 })
    try {
      const root = await installedRoot(r1)
      // --backup: the migration guard wants a verified backup of r1, and the warning then names it.
      const j = exits(await upgrade(root, r4, '--ingress-url', ingress.url, '--smoke-timeout', '1', '--json', '--backup'), 1, 'failing upgrade --json')
      const out = JSON.parse(j.stdout)
      assert.is(out.rolled_back_to, 'r1')
      assert.ok(out.warnings.some((w: string) => /migrations are not rolled back/i.test(w)), `--json warnings[]: ${out.warnings.join(' | ')}`)
      assert.ok(out.warnings.some((w: string) => w.includes(`nullspace-host backup restore ${out.backup} --yes`)), `the backup to restore is named: ${out.warnings.join(' | ')}`)

      const other = await installedRoot(r1)
      const h = exits(await upgrade(other, r4, '--ingress-url', ingress.url, '--smoke-timeout', '1', '--backup'), 1, 'failing upgrade (human)')
      assert.match(h.stderr, /rolled back to r1/i)
      assert.match(h.stderr, /migrations are not rolled back/i, 'the operator is told the migrations the hooks ran stay applied')
      assert.match(h.stderr, /nullspace-host backup restore \d{8}T\d{6}Z-r1 --yes/)
    } finally {
      await ingress.close()
    }
  })()))

test('a rollback killed right after its switch is finished by the rerun and does not flip back', () =>
  within(T, 'killed rollback', (async () => {
    const { r1, r2 } = await releases()
    const root = await installedRoot(r1)
    const log = path.join(tempDir('hooklog'), 'calls')
    loggingHook(root, '10-log', log)
    await up(root, r2)
    assert.is(hookLog(log).length, 1)

    // A rollback's plan starts with its switch (r1 is sealed and intact): boundary 2 is right after it.
    const killed = await cli(['rollback', '--root', root], { env: { NULLSPACE_TEST_CRASH_AT_STEP: '2' } })
    assert.is(killed.signal, 'SIGKILL', `the seam killed the rollback (exit ${killed.code}, ${killed.stderr})`)
    assert.is(currentOf(root), 'r1', 'killed after the switch')
    assert.is(envReleaseId(root), 'r2', 'before the render')
    assert.is(hookLog(log).length, 1, 'before the hooks')

    const again = ok(await cli(['rollback', '--root', root, '--json']), 'the same rollback again')
    const out = JSON.parse(again.stdout)
    assert.equal([out.from, out.to], ['r2', 'r1'], 'the rerun finishes the rollback from r2 to r1')
    assert.is(currentOf(root), 'r1', 'no flip back to r2')
    assert.is(envReleaseId(root), 'r1', 'rendered')
    assert.equal(hookLog(log).slice(1).map((c) => `${c.operation} ${c.release} ${c.previous}`), ['rollback r1 r2'], 'hooks ran once, as the rollback from r2')
    assert.equal(historyOf(root), ['install -->r1 ok', 'upgrade r1->r2 ok', 'rollback r2->r1 ok'])

    // Finished: the next rollback is a new one, back to r2.
    ok(await rollback(root), 'a new rollback')
    assert.is(currentOf(root), 'r2')
  })()))

/**
 * The state a kill (or a full disk) leaves between a rollback's rename of `current` and its
 * journal write: `current` names r1, the journal still says not switched.
 */
async function rollbackCutBeforeItsJournal(root: string): Promise<void> {
  const killed = await cli(['rollback', '--root', root], { env: { NULLSPACE_TEST_CRASH_AT_STEP: '2' } })
  assert.is(killed.signal, 'SIGKILL', `the seam killed the rollback (exit ${killed.code}, ${killed.stderr})`)
  const file = path.join(root, 'var/lib/nullspace/journal.json')
  const journal = JSON.parse(fs.readFileSync(file, 'utf8'))
  assert.equal([journal.operation, journal.to, journal.switched], ['rollback', 'r1', true])
  fs.writeFileSync(file, JSON.stringify({ ...journal, switched: false }))
  assert.is(currentOf(root), 'r1')
}

test('a rollback cut between its switch and its journal write is finished by the rerun, not flipped back', () =>
  within(T, 'rollback cut before its journal', (async () => {
    const { r1, r2 } = await releases()
    const root = await installedRoot(r1)
    await up(root, r2)
    await rollbackCutBeforeItsJournal(root)
    const out = JSON.parse(ok(await cli(['rollback', '--root', root, '--json']), 'the same rollback again').stdout)
    assert.equal([out.from, out.to], ['r2', 'r1'])
    assert.is(currentOf(root), 'r1', 'no flip back to r2')
    assert.is(envReleaseId(root), 'r1')
    assert.equal(historyOf(root), ['install -->r1 ok', 'upgrade r1->r2 ok', 'rollback r2->r1 ok'])

    // The same state met by an upgrade: the rollback is finished first and nothing is upgraded.
    const other = await installedRoot(r1)
    await up(other, r2)
    await rollbackCutBeforeItsJournal(other)
    const r = exits(await upgrade(other, r2, '--skip-ingress-smoke'), 1, 'upgrade after the cut rollback')
    assert.match(r.stderr, /an interrupted rollback to r1 was finished first/)
    assert.is(currentOf(other), 'r1')
    assert.equal(historyOf(other), ['install -->r1 ok', 'upgrade r1->r2 ok', 'rollback r2->r1 ok'])
  })()))

test('the rollback plan puts the switch first, which the killed-rollback case relies on', () =>
  within(T, 'rollback step order', (async () => {
    // Cross-check through the saved history of a normal rollback: the journal-free rerun
    // above assumed boundary 2; if a rollback ever gains steps before its switch, this fails first.
    const { r1, r2 } = await releases()
    const root = await installedRoot(r1)
    await up(root, r2)
    const r = ok(await rollback(root), 'rollback')
    const done = r.stdout.split('\n').filter((l) => /^\s+done /.test(l)).map((l) => l.trim().split(/\s+/)[1])
    assert.ok(done[0]?.startsWith('switch:'), `first step is the switch: ${done.join(', ')}`)
  })()))

test.run()
