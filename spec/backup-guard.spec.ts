// The migration guard (ARCHITECTURE.md section 8.2) through the real CLI: an upgrade to a release whose
// migration bundle differs and is not reversible needs a fresh verified backup of the active
// release; --dry-run and plan show the blocker; upgrade --backup takes and verifies one; a
// rollback afterwards names the backup to restore.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { cli, currentOf, exits, installedRoot, makeRelease, ok, upgrade, within, type Rel } from './helpers/hosts.js'

const T = 60_000
const NONE = ['--service-manager', 'none', '--skip-ingress-smoke']

let built: Promise<{ r1: Rel; r2: Rel; r1b: Rel }> | undefined
const releases = () =>
  (built ??= (async () => ({
    r1: await makeRelease({ id: 'r1', version: '0.1.0' }),
    r2: await makeRelease({ id: 'r2', version: '0.2.0', change: { 'migrations.tar.gz': 'migrations of r2\n' } }),
    // Same migration bundle as r1: nothing to guard.
    r1b: await makeRelease({ id: 'r1b', version: '0.1.1', change: { 'nullspace-api': 'api of r1b\n' } }),
  }))())

const fresh = async () => installedRoot((await releases()).r1, '--service-manager', 'none')

test('an irreversible migration without a verified backup is refused before any change, naming upgrade --backup and --no-backup-check; --dry-run and plan show it', () =>
  within(T, 'refused', (async () => {
    const { r2 } = await releases()
    const root = await fresh()
    const r = exits(await upgrade(root, r2, ...NONE), 1, 'upgrade without a backup')
    assert.match(r.stderr, /no verified backup of r1 younger than 24 h/)
    assert.match(r.stderr, /upgrade --backup/)
    assert.match(r.stderr, /--no-backup-check/)
    assert.is(currentOf(root), 'r1')
    const dry = exits(await upgrade(root, r2, ...NONE, '--dry-run', '--json'), 1, 'dry run')
    const plan = JSON.parse(dry.stdout) as { blockers: { message: string }[] }
    assert.ok(plan.blockers.some((b) => b.message.includes('upgrade --backup')), dry.stdout)
    const p = await cli(['plan', '--root', root, '--manifest', r2.manifest, '--json', '--service-manager', 'none'])
    assert.ok((JSON.parse(p.stdout) as { blockers: { message: string }[] }).blockers.some((b) => b.message.includes('--no-backup-check')), p.stdout)
    // An install over the active release is guarded the same way.
    exits(await cli(['install', '--root', root, '--manifest', r2.manifest, '--service-manager', 'none']), 1, 'install over r1')
    assert.is(currentOf(root), 'r1')
    ok(await upgrade(root, r2, ...NONE, '--no-backup-check'), 'upgrade --no-backup-check')
    assert.is(currentOf(root), 'r2')
  })()))

test('a backup that is not verified, or older than --backup-max-age, does not count; a release with the same migration bundle needs none', () =>
  within(T, 'freshness', (async () => {
    const { r2, r1b } = await releases()
    const root = await fresh()
    const made = JSON.parse(ok(await cli(['backup', 'create', '--root', root, '--json']), 'create').stdout) as { backup_id: string }
    exits(await upgrade(root, r2, ...NONE), 1, 'an unverified backup does not count')
    ok(await cli(['backup', 'verify', made.backup_id, '--root', root]), 'verify')
    await new Promise((r) => setTimeout(r, 1500))
    const stale = exits(await upgrade(root, r2, ...NONE, '--backup-max-age', '0.0003'), 1, 'a backup older than the limit')
    assert.match(stale.stderr, /younger than 0.0003 h/)
    ok(await upgrade(root, r1b, ...NONE, '--backup-max-age', '0.0003'), 'same migration bundle: no guard')
    exits(await upgrade(root, r2, ...NONE), 1, 'the backup is of r1, and r1b is active now')
  })()))

test('upgrade --backup takes and verifies a backup first, then upgrades; rollback names the backup to restore', () =>
  within(T, 'upgrade --backup', (async () => {
    const { r2 } = await releases()
    const root = await fresh()
    // The preview of an upgrade --backup does not block on the backup it is about to take.
    const preview = ok(await upgrade(root, r2, ...NONE, '--backup', '--dry-run', '--json'), 'upgrade --backup --dry-run')
    assert.equal((JSON.parse(preview.stdout) as { blockers: unknown[] }).blockers, [])
    const r = ok(await upgrade(root, r2, ...NONE, '--backup', '--json'), 'upgrade --backup')
    const doc = JSON.parse(r.stdout) as { ok: boolean; to: string; backup: string }
    assert.is(doc.to, 'r2')
    assert.match(doc.backup, /^\d{8}T\d{6}Z-r1$/)
    const history = JSON.parse(ok(await cli(['history', '--root', root, '--json']), 'history').stdout) as { history: { op: string; result: string; backup_id: string | null }[] }
    assert.equal(history.history.map((h) => `${h.op} ${h.result}`), ['upgrade ok', 'verify ok', 'backup ok', 'install ok'])
    const back = ok(await cli(['rollback', '--root', root, '--service-manager', 'none']), 'rollback')
    assert.ok(back.stderr.includes(`nullspace-host backup restore ${doc.backup} --yes`), back.stderr)
    assert.is(currentOf(root), 'r1')
  })()))

test.run()
