// `releases list` and `prune` through the real CLI on temp roots: the listing's fields and
// sizes (hard links counted once), which releases prune keeps (only good sealed ones count,
// never current or the rollback target), abandoned staging, --dry-run, and that the bytes it
// reports are the bytes that left the disk.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fs from 'node:fs'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import { KIND_LAYOUT } from '../lib/manifest/kinds.js'
import {
  RELEASES, addHook, cli, currentOf, exits, historyOf, inodesUnder, installedRoot, makeRelease, ok, releasesOf, rollback, sumSizes, treeOf, upgrade,
  within, type Rel,
} from './helpers/hosts.js'

const T = 90_000

/** Four releases sharing nine sizeable files; each has its own api. r5 reuses r1's api bytes. */
let built: Promise<Record<'r1' | 'r2' | 'r3' | 'r4' | 'r5', Rel>> | undefined
const releases = () =>
  (built ??= (async () => {
    const base = Object.fromEntries(KIND_LAYOUT.map((k, i) => [k.file, randomBytes(4096 * (i + 1))]))
    const api = (n: number) => randomBytes(10_000 + n * 1111)
    const api1 = api(1)
    return {
      r1: await makeRelease({ id: 'r1', version: '0.1.0', base, change: { 'nullspace-api': api1 } }),
      r2: await makeRelease({ id: 'r2', version: '0.2.0', base, change: { 'nullspace-api': api(2) } }),
      r3: await makeRelease({ id: 'r3', version: '0.3.0', base, change: { 'nullspace-api': api(3) } }),
      r4: await makeRelease({ id: 'r4', version: '0.4.0', base, change: { 'nullspace-api': api(4) } }),
      r5: await makeRelease({ id: 'r5', version: '0.5.0', base, change: { 'nullspace-api': api1, 'console.tar.gz': randomBytes(7777) } }),
    }
  })())

const up = async (root: string, rel: Rel, ...extra: string[]) => ok(await upgrade(root, rel, '--skip-ingress-smoke', ...extra), `upgrade to ${rel.id}`)
const prune = (root: string, ...extra: string[]) => cli(['prune', '--root', root, ...extra])
const releaseDirs = (root: string) => fs.readdirSync(path.join(root, RELEASES)).filter((n) => n !== 'current' && !n.startsWith('.')).sort()

/** r1, r2 good; r3's hook fails so it is rolled back to r2 and marked failed; r4 good and active. Target: r2. */
async function fourReleases(): Promise<string> {
  const { r1, r2, r3, r4 } = await releases()
  const root = await installedRoot(r1)
  addHook(root, '50-gate', '#!/bin/sh\n[ "$NULLSPACE_OPERATION" = upgrade ] && [ "$NULLSPACE_RELEASE_ID" = r3 ] && exit 1\nexit 0\n')
  await up(root, r2)
  exits(await upgrade(root, r3, '--skip-ingress-smoke'), 1, 'the failing upgrade to r3')
  await up(root, r4)
  assert.equal(historyOf(root), ['install -->r1 ok', 'upgrade r1->r2 ok', 'upgrade r2->r3 failed', 'auto-rollback r3->r2 ok', 'upgrade r2->r4 ok'])
  return root
}

/** Bytes of inodes present under `root` before and gone after. */
function freedBetween(before: Map<number, number>, after: Map<number, number>): number {
  let n = 0
  for (const [ino, size] of before) if (!after.has(ino)) n += size
  return n
}

test('releases list --json: id, version, sealed, active, rollback target, failed, sizes counting hard links once', () =>
  within(T, 'releases list', (async () => {
    const root = await fourReleases()
    const listing = await releasesOf(root)
    const rows = Object.fromEntries(listing.releases.map((r) => [r.release_id, r]))
    assert.equal(Object.keys(rows).sort(), ['r1', 'r2', 'r3', 'r4'])
    const flags = (id: string) => {
      const r = rows[id]
      return { version: r.version, sealed: r.sealed, active: r.active, rollback_target: r.rollback_target, failed: r.failed }
    }
    assert.equal(flags('r1'), { version: '0.1.0', sealed: true, active: false, rollback_target: false, failed: false })
    assert.equal(flags('r2'), { version: '0.2.0', sealed: true, active: false, rollback_target: true, failed: false })
    assert.equal(flags('r3'), { version: '0.3.0', sealed: true, active: false, rollback_target: false, failed: true })
    assert.equal(flags('r4'), { version: '0.4.0', sealed: true, active: true, rollback_target: false, failed: false })

    const all = new Map<number, number>()
    for (const id of ['r1', 'r2', 'r3', 'r4']) {
      const inodes = inodesUnder(path.join(root, RELEASES, id))
      for (const [ino, size] of inodes) all.set(ino, size)
      assert.is(rows[id].bytes, sumSizes(inodes), `bytes of ${id}: each of its files once`)
    }
    assert.is(listing.total_bytes, sumSizes(all), 'total_bytes counts every shared file once')
    const naive = Object.values(rows).reduce((n, r) => n + r.bytes, 0)
    assert.ok(listing.total_bytes < naive, `hard links are not counted per release (${listing.total_bytes} < ${naive})`)

    const human = ok(await cli(['releases', 'list', '--root', root]), 'releases list')
    assert.match(human.stdout, /r3[^\n]*marked failed/)
    assert.match(human.stdout, /r2[^\n]*rollback target/)
    assert.match(human.stdout, /\* r4[^\n]*active/)
  })()))

test('prune --keep N counts only good sealed releases: the failed one goes first', () =>
  within(T, 'prune keep 3', (async () => {
    const root = await fourReleases()
    const r = JSON.parse(ok(await prune(root, '--keep', '3', '--json'), 'prune --keep 3').stdout)
    assert.equal(r.removed, ['r3'], 'the failed release does not count towards N and is removed')
    assert.equal([...r.kept].sort(), ['r1', 'r2', 'r4'])
    assert.equal(releaseDirs(root), ['r1', 'r2', 'r4'])
    assert.is(currentOf(root), 'r4')
  })()))

test('prune --keep 0 never removes current or the rollback target', () =>
  within(T, 'prune keep 0', (async () => {
    const root = await fourReleases()
    const r = JSON.parse(ok(await prune(root, '--keep', '0', '--json'), 'prune --keep 0').stdout)
    assert.equal([...r.removed].sort(), ['r1', 'r3'])
    assert.equal(releaseDirs(root), ['r2', 'r4'])
    assert.is(currentOf(root), 'r4')
    ok(await rollback(root), 'the rollback target still works after the prune')
    assert.is(currentOf(root), 'r2')
  })()))

test('prune --keep 1 keeps a rollback target that is not among the most recent', () =>
  within(T, 'prune keeps target', (async () => {
    const { r1, r2, r3 } = await releases()
    const root = await installedRoot(r1)
    await up(root, r2)
    await up(root, r3)
    ok(await rollback(root, '--to', 'r1'), 'rollback --to r1') // current r1, target r3
    const rows = (await releasesOf(root)).releases
    assert.is(rows.find((x) => x.rollback_target)?.release_id, 'r3')
    const r = JSON.parse(ok(await prune(root, '--keep', '1', '--json'), 'prune --keep 1').stdout)
    assert.equal(r.removed, ['r2'])
    assert.equal(releaseDirs(root), ['r1', 'r3'])
  })()))

test('prune --dry-run removes nothing and reports what the real prune then frees', () =>
  within(T, 'prune dry run', (async () => {
    const root = await fourReleases()
    const before = treeOf(root, { times: true })
    const dry = JSON.parse(ok(await prune(root, '--keep', '0', '--dry-run', '--json'), 'prune --dry-run').stdout)
    assert.equal(treeOf(root, { times: true }), before, 'the root is byte-identical')
    const human = ok(await prune(root, '--keep', '0', '--dry-run'), 'prune --dry-run (human)')
    assert.match(human.stdout, /would remove release r1/)
    assert.match(human.stdout, /would remove release r3/)
    assert.equal(treeOf(root, { times: true }), before)

    const inodes = inodesUnder(path.join(root, RELEASES))
    const real = JSON.parse(ok(await prune(root, '--keep', '0', '--json'), 'prune').stdout)
    assert.equal([...real.removed].sort(), [...dry.removed].sort())
    assert.is(real.bytes_freed, dry.bytes_freed, 'the dry run reports the same bytes')
    assert.is(real.bytes_freed, freedBetween(inodes, inodesUnder(path.join(root, RELEASES))), 'the bytes reported are the bytes whose last link was removed')
    assert.ok(real.bytes_freed > 0)
  })()))

test('prune removes leftover staging of an abandoned upgrade and counts its bytes', () =>
  within(T, 'prune staging', (async () => {
    const { r1, r2, r5 } = await releases()
    const root = await installedRoot(r1)
    await up(root, r2)
    // An upgrade to r5 killed after its first steps leaves .staging/r5 behind.
    const killed = await cli(['upgrade', '--root', root, '--manifest', r5.manifest, '--skip-ingress-smoke'], { env: { NULLSPACE_TEST_CRASH_AT_STEP: '3' } })
    assert.is(killed.signal, 'SIGKILL')
    assert.ok(fs.existsSync(path.join(root, RELEASES, '.staging/r5')), 'abandoned staging exists')

    const inodes = inodesUnder(path.join(root, RELEASES))
    const r = JSON.parse(ok(await prune(root, '--keep', '5', '--json'), 'prune --keep 5').stdout)
    assert.equal(r.removed, [], 'no release is removed with --keep 5')
    assert.ok(r.staging_removed.includes('r5'), `reports the staging it removed: ${r.staging_removed}`)
    assert.not.ok(fs.existsSync(path.join(root, RELEASES, '.staging/r5')), 'the staging is gone')
    assert.equal(releaseDirs(root), ['r1', 'r2'])
    assert.is(r.bytes_freed, freedBetween(inodes, inodesUnder(path.join(root, RELEASES))), 'the bytes reported are the bytes freed')
  })()))

test('prune reports the bytes freed when a removed release and abandoned staging share a file', () =>
  within(T, 'prune shared staging', (async () => {
    const { r1, r2, r3, r5 } = await releases()
    const root = await installedRoot(r1)
    await up(root, r2)
    await up(root, r3)
    // r5's api has r1's bytes: its staging hard-links r1's api (only r1 has it). Kill right after that link.
    const args = ['upgrade', '--root', root, '--manifest', r5.manifest, '--skip-ingress-smoke']
    const plan = JSON.parse(ok(await cli([...args, '--dry-run', '--json']), 'dry run').stdout)
    assert.is(plan.steps[0].id, 'link:api')
    assert.is(plan.steps[0].from_release, 'r1')
    const killed = await cli(args, { env: { NULLSPACE_TEST_CRASH_AT_STEP: '2' } })
    assert.is(killed.signal, 'SIGKILL')
    const staged = fs.statSync(path.join(root, RELEASES, '.staging/r5/bin/nullspace-api'))
    assert.is(staged.ino, fs.statSync(path.join(root, RELEASES, 'r1/bin/nullspace-api')).ino, 'staging shares r1 api inode')

    const inodes = inodesUnder(path.join(root, RELEASES))
    const r = JSON.parse(ok(await prune(root, '--keep', '2', '--json'), 'prune --keep 2').stdout)
    assert.equal(r.removed, ['r1'])
    const freed = freedBetween(inodes, inodesUnder(path.join(root, RELEASES)))
    assert.ok(freed >= r5.files['nullspace-api'].length, 'the shared api left the disk')
    assert.is(r.bytes_freed, freed, 'the bytes reported are the bytes freed, shared file included')
  })()))

test('prune refuses a negative or fractional --keep', () =>
  within(T, 'prune usage', (async () => {
    const { r1 } = await releases()
    const root = await installedRoot(r1)
    exits(await prune(root, '--keep', '-1'), 64, 'prune --keep -1')
    exits(await prune(root, '--keep', '1.5'), 64, 'prune --keep 1.5')
    assert.equal(releaseDirs(root), ['r1'])
  })()))

test.run()
