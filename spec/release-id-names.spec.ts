// Release ids that are also names of Object.prototype (`constructor`, `toString`, `valueOf`,
// `hasOwnProperty`) are valid ids (ARCHITECTURE.md section 7) and must behave like any other: a
// lookup keyed by a release id from disk must never find the prototype chain's member and
// take the release for "marked failed" (which used to cost it its rollback target, put it
// first in line for prune and keep its files from being hard-linked). Through the real CLI.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fs from 'node:fs'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import { tempDir } from './helpers/tmp.js'
import { KIND_LAYOUT } from '../lib/manifest/kinds.js'
import { RELEASE_ID } from '../lib/manifest/codec.js'
import { RELEASES, baseContents, cli, currentOf, historyOf, installedRoot, makeRelease, ok, releasesOf, rollback, upgrade, within, type Rel } from './helpers/hosts.js'

const T = 90_000
const IDS = ['constructor', 'toString', 'hasOwnProperty', 'valueOf'] as const
type Id = (typeof IDS)[number]

let built: Promise<Record<Id, Rel>> | undefined
const releases = () =>
  (built ??= (async () => {
    const base = Object.fromEntries(KIND_LAYOUT.map((k, i) => [k.file, randomBytes(2048 * (i + 1))]))
    const out = {} as Record<Id, Rel>
    for (const [i, id] of IDS.entries()) out[id] = await makeRelease({ id, version: `0.${i + 1}.0`, base, change: { 'nullspace-api': randomBytes(9000 + i) } })
    return out
  })())

const flagsOf = async (root: string) =>
  Object.fromEntries((await releasesOf(root)).releases.map((r) => [r.release_id, `${r.active ? 'active' : ''}${r.rollback_target ? 'target' : ''}${r.failed ? 'FAILED' : ''}`]))

test('the release id pattern admits the prototype names, and refuses __proto__ (it starts with "_")', () => {
  for (const id of IDS) assert.ok(RELEASE_ID.test(id), id)
  assert.not.ok(RELEASE_ID.test('__proto__'))
})

test('ids named like Object.prototype members: install, upgrade, releases list, doctor, rollback and prune treat them as any id', () =>
  within(T, 'prototype-named ids', (async () => {
    const r = await releases()
    const root = await installedRoot(r.constructor)
    ok(await upgrade(root, r.toString, '--skip-ingress-smoke'), 'upgrade to toString')
    assert.equal(await flagsOf(root), { constructor: 'target', toString: 'active' }, 'nothing is marked failed; constructor is the rollback target')

    const doctor = JSON.parse(ok(await cli(['doctor', '--json', '--root', root]), 'doctor').stdout)
    assert.is(doctor.previous_release_id, 'constructor')
    assert.equal(doctor.releases.map((x: { release_id: string; failed: boolean }) => [x.release_id, x.failed]), [['constructor', false], ['toString', false]])

    ok(await rollback(root), 'rollback')
    assert.is(currentOf(root), 'constructor', 'rollback returns to the release named constructor')
    ok(await rollback(root), 'rollback again')
    assert.is(currentOf(root), 'toString', 'and back again (toString is a rollback target too)')

    ok(await upgrade(root, r.hasOwnProperty, '--skip-ingress-smoke'), 'upgrade to hasOwnProperty')
    ok(await upgrade(root, r.valueOf, '--skip-ingress-smoke'), 'upgrade to valueOf')
    assert.equal(await flagsOf(root), { constructor: '', hasOwnProperty: 'target', toString: '', valueOf: 'active' })

    // Every release is good: prune keeps the three most recently active and removes the oldest,
    // not a release it takes for "failed".
    const pruned = JSON.parse(ok(await cli(['prune', '--keep', '3', '--json', '--root', root]), 'prune --keep 3').stdout)
    assert.equal(pruned.removed, ['constructor'], 'only the oldest good release goes')
    assert.equal(fs.readdirSync(path.join(root, RELEASES)).filter((n) => n !== 'current' && !n.startsWith('.')).sort(), ['hasOwnProperty', 'toString', 'valueOf'])
    assert.equal(historyOf(root), [
      'install -->constructor ok',
      'upgrade constructor->toString ok',
      'rollback toString->constructor ok',
      'rollback constructor->toString ok',
      'upgrade toString->hasOwnProperty ok',
      'upgrade hasOwnProperty->valueOf ok',
    ])
  })()))

test('manifest build --arch constructor is an unknown architecture like any other (exit 64), not Object.prototype.constructor', () =>
  within(T, '--arch constructor', (async () => {
    const dir = tempDir('arch')
    for (const [file, data] of Object.entries(baseContents())) fs.writeFileSync(path.join(dir, file), data)
    const args = ['manifest', 'build', '--artifact-dir', dir, '--output', path.join(dir, 'm.json'), '--release-id', 'r1', '--version', '0.1.0', '--source-revision', 'x',
      '--firecracker-version', 'v1.12.1', '--firecracker-commit', 'c', '--snapshot-data-format', 'f', '--kernel-identity', 'k']
    for (const arch of ['constructor', 'toString']) {
      const r = await cli([...args, '--arch', arch])
      assert.is(r.code, 64, r.stderr)
      assert.is(r.stderr.trim(), `nullspace-host: --arch: unknown architecture "${arch}"; use x86_64 or aarch64`)
    }
  })()))

test.run()
