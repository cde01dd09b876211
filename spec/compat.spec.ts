// Host and release compatibility: the pure rules of lib/compat.ts directly, then each rule
// through the real CLI (`upgrade`, `upgrade --dry-run`, `install` over an active release),
// including the firecracker/jailer version probe before the switch.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fs from 'node:fs'
import path from 'node:path'
import { firecrackerMinor, hostArchitecture, hostFindings, migrationWarning, releaseFindings, type ReleaseRuleFlags } from '../lib/compat.js'
import type { Manifest } from '../lib/manifest/codec.js'
import { manifestOf } from './helpers/states.js'
import { tempDir } from './helpers/tmp.js'
import {
  RELEASES, activeView, currentOf, exits, historyOf, install, installedRoot, makeRelease, ok, treeOf, upgrade, versionScript, within, type Rel,
} from './helpers/hosts.js'

const T = 90_000
const STRICT: ReleaseRuleFlags = { allowDowngrade: false, acceptSnapshotFormatChange: false }
const HOST = { architecture: 'x86_64', kvm: true }

type RC = Manifest['runtime_compatibility']
const withRc = (m: Manifest, rc: Partial<RC>): Manifest => ({ ...m, runtime_compatibility: { ...m.runtime_compatibility, ...rc } })

// ---- the pure rules ----

test('hostArchitecture maps Node names to manifest names', () => {
  assert.is(hostArchitecture('x64'), 'x86_64')
  assert.is(hostArchitecture('arm64'), 'aarch64')
  assert.is(hostArchitecture('riscv64'), 'riscv64')
})

test('firecrackerMinor reads the minor from versions and snapshot formats', () => {
  assert.is(firecrackerMinor('v1.12.1'), '1.12')
  assert.is(firecrackerMinor('1.7.0'), '1.7')
  assert.is(firecrackerMinor('firecracker-v1.12'), '1.12')
  assert.is(firecrackerMinor('opaque'), null)
})

test('hostFindings: architecture mismatch blocks, a missing /dev/kvm warns, a snapshot format of another minor warns', () => {
  const m = manifestOf('r1')
  assert.equal(hostFindings(m, HOST), { warnings: [], blockers: [] }, 'a matching host with KVM has no findings')

  const arm = hostFindings({ ...m, architecture: 'aarch64' }, HOST)
  assert.is(arm.blockers.length, 1)
  assert.match(arm.blockers[0].message, /aarch64/)
  assert.match(arm.blockers[0].message, /x86_64/)
  assert.is(arm.blockers[0].exit, 1)

  const noKvm = hostFindings(m, { ...HOST, kvm: false })
  assert.equal(noKvm.blockers, [])
  assert.is(noKvm.warnings.length, 1)
  assert.match(noKvm.warnings[0], /\/dev\/kvm/)

  const skew = hostFindings(withRc(m, { snapshot_data_format: 'firecracker-v1.11' }), HOST)
  assert.equal(skew.blockers, [], 'a minor skew is a warning, not a blocker')
  assert.is(skew.warnings.length, 1)
  assert.match(skew.warnings[0], /snapshot_data_format/)
  assert.match(skew.warnings[0], /1\.11/)
  assert.equal(hostFindings(withRc(m, { snapshot_data_format: 'firecracker-v1.12-custom' }), HOST).warnings, [], 'same minor: no warning')
})

test('releaseFindings: nothing active, or the same release, has no findings', async () => {
  const m = manifestOf('r1')
  assert.equal(await releaseFindings(null, m, STRICT), { warnings: [], blockers: [] })
  assert.equal(await releaseFindings(m, m, STRICT), { warnings: [], blockers: [] })
  assert.equal(await releaseFindings(manifestOf('r1'), manifestOf('r2', '0.1.0'), STRICT), { warnings: [], blockers: [] }, 'same version, same facts')
})

test('releaseFindings: a lower version is blocked unless --allow-downgrade, which leaves a warning', async () => {
  const active = manifestOf('r2', '0.2.0')
  const older = manifestOf('r1', '0.1.10')
  const blocked = await releaseFindings(active, older, STRICT)
  assert.is(blocked.blockers.length, 1)
  assert.match(blocked.blockers[0].message, /--allow-downgrade/)
  assert.match(blocked.blockers[0].message, /0\.1\.10/)
  const allowed = await releaseFindings(active, older, { ...STRICT, allowDowngrade: true })
  assert.equal(allowed.blockers, [])
  assert.ok(allowed.warnings.some((w) => /downgrade/.test(w)))
  // semver order, not string order: 0.10.0 is newer than 0.9.0; a prerelease is older than its release.
  assert.equal((await releaseFindings(manifestOf('a', '0.9.0'), manifestOf('b', '0.10.0'), STRICT)).blockers, [])
  assert.is((await releaseFindings(manifestOf('a', '1.0.0'), manifestOf('b', '1.0.0-rc.1'), STRICT)).blockers.length, 1)
})

test('releaseFindings: a snapshot format change warns and is blocked unless accepted', async () => {
  const active = manifestOf('r1')
  for (const field of ['snapshot_data_format', 'snapshot_metadata_format'] as const) {
    const next = withRc(manifestOf('r2', '0.2.0'), { [field]: `${active.runtime_compatibility[field]}-next` })
    const blocked = await releaseFindings(active, next, STRICT)
    assert.is(blocked.blockers.length, 1, `${field}: blocked`)
    assert.match(blocked.blockers[0].message, new RegExp(field))
    assert.match(blocked.blockers[0].message, /--accept-snapshot-format-change/)
    assert.ok(blocked.warnings.some((w) => w.includes(field) && /snapshots will not restore/.test(w)), `${field}: warns`)
    const accepted = await releaseFindings(active, next, { ...STRICT, acceptSnapshotFormatChange: true })
    assert.equal(accepted.blockers, [], `${field}: accepted`)
    assert.ok(accepted.warnings.some((w) => /snapshots will not restore/.test(w)), `${field}: the warning stays`)
  }
})

test('releaseFindings: a guest agent protocol change warns; architecture and runtime_class changes block', async () => {
  const active = manifestOf('r1')
  const ga = await releaseFindings(active, withRc(manifestOf('r2'), { guest_agent_protocol_version: '2' }), STRICT)
  assert.equal(ga.blockers, [])
  assert.is(ga.warnings.length, 1)
  assert.match(ga.warnings[0], /guest_agent_protocol_version/)
  assert.match(ga.warnings[0], /restart/)

  const rc = await releaseFindings(active, withRc(manifestOf('r2'), { runtime_class: 'cloud-hypervisor' }), { allowDowngrade: true, acceptSnapshotFormatChange: true })
  assert.is(rc.blockers.length, 1, 'no flag lifts a runtime_class change')
  assert.match(rc.blockers[0].message, /runtime_class/)

  const arch = await releaseFindings(active, { ...manifestOf('r2'), architecture: 'aarch64' }, { allowDowngrade: true, acceptSnapshotFormatChange: true })
  assert.is(arch.blockers.length, 1, 'no flag lifts an architecture change')
  assert.match(arch.blockers[0].message, /architecture/)
})

test('releaseFindings: every component whose compatibility_class changed is listed by name', async () => {
  const active = manifestOf('r1', '0.1.0')
  const next = manifestOf('r2', '1.0.0') // the builder's class for most kinds follows the major version
  const f = await releaseFindings(active, next, STRICT)
  assert.equal(f.blockers, [])
  const listed = f.warnings.filter((w) => /compatibility_class/.test(w))
  const changed = next.components.filter((c) => active.components.find((a) => a.kind === c.kind)!.compatibility_class !== c.compatibility_class)
  assert.ok(changed.length > 0)
  assert.is(listed.length, changed.length)
  for (const c of changed) assert.ok(listed.some((w) => w.startsWith(`${c.name}:`)), `${c.name} is listed`)
  assert.not.ok(listed.some((w) => w.startsWith('firecracker:')), 'firecracker keeps its class')
})

test('migrationWarning: only when both releases have a migration bundle and it differs', () => {
  const a = manifestOf('r1')
  const b = manifestOf('r2', '0.2.0', { 'nullspace-api': 'other api', 'migrations.tar.gz': 'migrations.tar.gz of r1' })
  const c = manifestOf('r3', '0.3.0', { 'migrations.tar.gz': 'new migrations' })
  assert.is(migrationWarning(null, a), null)
  assert.is(migrationWarning(a, b), null, 'same bundle bytes (different release ids)')
  const w = migrationWarning(c, a)
  assert.ok(w)
  assert.match(w!, /not rolled back/)
  assert.match(w!, /backup/)
  assert.match(w!, /r3/)
  assert.match(w!, /r1/)
})

// ---- through the CLI ----

const base = () => makeRelease({ id: 'r1', version: '0.2.0' })
let r1: Promise<Rel> | undefined
const active = () => (r1 ??= base())

/** Asserts that a refused command left everything as it was. */
function unchanged(root: string, before: Record<string, string>, history: string[]) {
  assert.equal(treeOf(root), before, 'nothing under the root changed')
  assert.is(currentOf(root), 'r1')
  assert.equal(historyOf(root), history)
}

test('CLI: a lower version is refused naming --allow-downgrade, and goes through with it', () =>
  within(T, 'downgrade', (async () => {
    const root = await installedRoot(await active())
    const older = await makeRelease({ id: 'r0', version: '0.1.0', change: { 'nullspace-api': 'api r0\n' } })
    const before = treeOf(root)
    const r = exits(await upgrade(root, older, '--skip-ingress-smoke'), 1, 'upgrade to a lower version')
    assert.match(r.stderr, /--allow-downgrade/)
    unchanged(root, before, ['install -->r1 ok'])
    assert.not.ok(fs.existsSync(path.join(root, RELEASES, 'r0')), 'nothing fetched')

    const i = exits(await install(root, older), 1, 'install of a lower version over an active release')
    assert.match(i.stderr, /--allow-downgrade/)
    unchanged(root, before, ['install -->r1 ok'])

    ok(await upgrade(root, older, '--skip-ingress-smoke', '--allow-downgrade'), 'upgrade --allow-downgrade')
    assert.is(currentOf(root), 'r0')
    assert.equal(historyOf(root), ['install -->r1 ok', 'upgrade r1->r0 ok'])
  })()))

test('CLI: a snapshot_data_format change is refused unless --accept-snapshot-format-change', () =>
  within(T, 'snapshot format', (async () => {
    const root = await installedRoot(await active())
    const next = await makeRelease({ id: 'r2', version: '0.3.0', flags: { snapshotDataFormat: 'firecracker-v1.12-nullspace2' } })
    const before = treeOf(root)
    const r = exits(await upgrade(root, next, '--skip-ingress-smoke'), 1, 'upgrade across a snapshot format change')
    assert.match(r.stderr, /snapshot_data_format/)
    assert.match(r.stderr, /--accept-snapshot-format-change/)
    unchanged(root, before, ['install -->r1 ok'])

    const dry = exits(await upgrade(root, next, '--dry-run'), 1, 'dry run')
    assert.match(dry.stdout, /snapshots will not restore/)

    const a = ok(await upgrade(root, next, '--skip-ingress-smoke', '--accept-snapshot-format-change', '--json'), 'upgrade --accept-snapshot-format-change')
    assert.ok(JSON.parse(a.stdout).warnings.some((w: string) => /snapshots will not restore/.test(w)), 'the accepted change is still reported')
    assert.is(currentOf(root), 'r2')
  })()))

test('CLI: a snapshot_metadata_format change is refused unless accepted', () =>
  within(T, 'snapshot metadata format', (async () => {
    const root = await installedRoot(await active())
    const next = await makeRelease({ id: 'r2', version: '0.3.0', flags: { snapshotMetadataFormat: 'nullspace-snapshot-metadata-v2' } })
    const r = exits(await upgrade(root, next, '--skip-ingress-smoke'), 1, 'upgrade across a metadata format change')
    assert.match(r.stderr, /snapshot_metadata_format/)
    ok(await upgrade(root, next, '--skip-ingress-smoke', '--accept-snapshot-format-change'), 'accepted')
    assert.is(currentOf(root), 'r2')
  })()))

test('CLI: a guest agent protocol change warns that running guests need a restart, and is not blocked', () =>
  within(T, 'guest agent protocol', (async () => {
    const root = await installedRoot(await active())
    const next = await makeRelease({ id: 'r2', version: '0.3.0', flags: { guestAgentProtocolVersion: '2' } })
    const dry = ok(await upgrade(root, next, '--dry-run'), 'dry run')
    assert.match(dry.stdout, /guest_agent_protocol_version[^\n]*restart/)
    const j = JSON.parse(ok(await upgrade(root, next, '--dry-run', '--json'), 'dry run --json').stdout)
    assert.ok(j.warnings.some((w: string) => /guest_agent_protocol_version/.test(w)))

    const r = ok(await upgrade(root, next, '--skip-ingress-smoke'), 'upgrade')
    assert.is(currentOf(root), 'r2')
    assert.match(r.stderr, /running guests need a restart/, 'the operator who upgrades (without --dry-run) is told too')
  })()))

test('CLI: a runtime_class change is blocked whatever the flags', () =>
  within(T, 'runtime class', (async () => {
    const root = await installedRoot(await active())
    const next = await makeRelease({ id: 'r2', version: '0.3.0', flags: { runtimeClass: 'cloud-hypervisor' } })
    const before = treeOf(root)
    const r = exits(await upgrade(root, next, '--skip-ingress-smoke', '--allow-downgrade', '--accept-snapshot-format-change'), 1, 'upgrade across a runtime class change')
    assert.match(r.stderr, /runtime_class/)
    unchanged(root, before, ['install -->r1 ok'])
  })()))

test('CLI: components whose compatibility_class changed are listed', () =>
  within(T, 'compatibility class', (async () => {
    const root = await installedRoot(await active())
    const next = await makeRelease({ id: 'r2', version: '1.0.0' })
    const dry = ok(await upgrade(root, next, '--dry-run'), 'dry run to a new major')
    assert.match(dry.stdout, /api: compatibility_class changes from api-v0 to api-v1/)
    assert.match(dry.stdout, /migration-bundle: compatibility_class changes/)
    assert.not.match(dry.stdout, /firecracker: compatibility_class/)
    const r = ok(await upgrade(root, next, '--skip-ingress-smoke', '--json'), 'upgrade')
    assert.ok(JSON.parse(r.stdout).warnings.some((w: string) => /^api: compatibility_class/.test(w)))
  })()))

test('CLI: an aarch64 manifest on this x86_64 host is blocked and nothing changes', () =>
  within(T, 'architecture', (async () => {
    if (process.arch !== 'x64') return // the rule is relative to the host; this case is written for x86_64 CI
    const root = await installedRoot(await active())
    const arm = await makeRelease({ id: 'r2', version: '0.3.0', flags: { arch: 'aarch64' } })
    const before = treeOf(root)
    const r = exits(await upgrade(root, arm, '--skip-ingress-smoke'), 1, 'upgrade to an aarch64 release')
    assert.match(r.stderr, /aarch64/)
    unchanged(root, before, ['install -->r1 ok'])
    const fresh = tempDir('root')
    exits(await install(fresh, arm), 1, 'install of an aarch64 release on a fresh x86_64 root')
    assert.is(currentOf(fresh), null)
  })()))

test('CLI: host findings: /dev/kvm under --root silences its warning; a snapshot format of another minor warns', () =>
  within(T, 'host findings', (async () => {
    const root = await installedRoot(await active())
    const next = await makeRelease({ id: 'r2', version: '0.3.0' })
    assert.match(ok(await upgrade(root, next, '--dry-run'), 'dry run').stdout, /\/dev\/kvm/)
    fs.mkdirSync(path.join(root, 'dev'))
    fs.writeFileSync(path.join(root, 'dev/kvm'), '')
    assert.not.match(ok(await upgrade(root, next, '--dry-run'), 'dry run with kvm').stdout, /\/dev\/kvm/)

    const s1 = await makeRelease({ id: 's1', version: '0.1.0', flags: { snapshotDataFormat: 'firecracker-v1.11' } })
    const s2 = await makeRelease({ id: 's2', version: '0.2.0', flags: { snapshotDataFormat: 'firecracker-v1.11' }, change: { 'nullspace-api': 'api s2\n' } })
    const other = await installedRoot(s1)
    const dry = JSON.parse(ok(await upgrade(other, s2, '--dry-run', '--json'), 'dry run with a format of another minor').stdout)
    assert.equal(dry.blockers, [], 'the same format on both sides: no release rule')
    assert.ok(dry.warnings.some((w: string) => /snapshot_data_format[^]*1\.11/.test(w)), `warns: ${dry.warnings.join(' | ')}`)
  })()))

test('CLI: a firecracker that reports another version stops the upgrade before the switch', () =>
  within(T, 'probe wrong', (async () => {
    const root = await installedRoot(await active())
    const bad = await makeRelease({ id: 'r2', version: '0.3.0', change: { firecracker: versionScript('Firecracker v9.9.9') } })
    const view = activeView(root)
    const r = exits(await upgrade(root, bad, '--skip-ingress-smoke'), 1, 'upgrade with a wrong firecracker')
    assert.match(r.stderr, /v9\.9\.9/)
    assert.match(r.stderr, /v1\.12\.1/)
    assert.match(r.stderr, /[Nn]othing was switched/)
    assert.is(currentOf(root), 'r1')
    assert.equal(activeView(root), view, 'current, links and rendered files unchanged')
    assert.equal(historyOf(root), ['install -->r1 ok'], 'no switch recorded')
  })()))

test('CLI: firecracker and jailer reporting the manifest version pass the probe without a warning', () =>
  within(T, 'probe ok', (async () => {
    const root = await installedRoot(await active())
    const good = await makeRelease({ id: 'r2', version: '0.3.0', change: { firecracker: versionScript('Firecracker v1.12.1'), jailer: versionScript('Jailer v1.12.1') } })
    const r = ok(await upgrade(root, good, '--skip-ingress-smoke'), 'upgrade with answering binaries')
    assert.not.match(r.stderr, /could not be asked/)
    assert.match(r.stdout, /probe:r2\s+firecracker ok, jailer ok/)
    assert.is(currentOf(root), 'r2')
  })()))

test('CLI: a firecracker that cannot be run is a warning, not a pass and not a failure', () =>
  within(T, 'probe unrunnable', (async () => {
    const root = await installedRoot(await active())
    const odd = await makeRelease({ id: 'r2', version: '0.3.0', change: { firecracker: Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 0, 0, 0]) } })
    const r = ok(await upgrade(root, odd, '--skip-ingress-smoke'), 'upgrade with an unrunnable firecracker')
    assert.match(r.stderr, /firecracker of release r2 could not be asked for its version/)
    assert.match(r.stdout, /firecracker not verified/)
    assert.is(currentOf(root), 'r2')
  })()))

test.run()
