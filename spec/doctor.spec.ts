// `doctor` through the real CLI: what an operator reads after an install, and what it
// reports when someone changed the host underneath the tool.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fs from 'node:fs'
import path from 'node:path'
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { CLI, type CliResult, json, runCli, runProcess } from './helpers/cli.js'
import { tempDir } from './helpers/tmp.js'
import { buildRelease, type BuiltRelease } from './helpers/artifacts.js'
import { KIND_LAYOUT } from '../lib/manifest/kinds.js'
import { RELEASES } from './helpers/hosts.js'

const digestOf = (file: string) => `sha256:${createHash('sha256').update(fs.readFileSync(file)).digest('hex')}`

const doctor = (root: string, ...extra: string[]) => runCli(['doctor', '--root', root, ...extra])

interface Installed extends BuiltRelease {
  root: string
  /** The active release directory. */
  releaseDir: string
}

async function installedHost(): Promise<Installed> {
  const rel = await buildRelease()
  const root = tempDir('root')
  const r = await runCli(['install', '--manifest', rel.manifest, '--root', root])
  assert.is(r.code, 0, `install: ${r.stderr}`)
  return { ...rel, root, releaseDir: path.join(root, RELEASES, rel.releaseId) }
}

const component = (report: { components: { name: string }[] }, name: string) => report.components.find((c) => c.name === name) as Record<string, unknown>

function problemsOf(r: CliResult): string[] {
  return json<{ problems: string[] }>(r).problems
}

test('doctor --json on an installed root: ok, the active release, ten verified components, links, releases', async () => {
  const h = await installedHost()
  const r = await doctor(h.root, '--json')
  assert.is(r.code, 0, r.stdout + r.stderr)
  const d = json(r)
  const m = JSON.parse(fs.readFileSync(h.manifest, 'utf8'))
  assert.is(d.ok, true)
  assert.equal(d.problems, [])
  assert.is(d.active.release_id, h.releaseId)
  assert.is(d.active.manifest_id, m.manifest_id)
  assert.is(d.active.version, m.version)
  assert.is(d.active.manifest_digest, digestOf(h.manifest))
  assert.ok('previous_release_id' in d)
  assert.is(d.components.length, 10)
  for (const c of m.components) {
    const row = component(d, c.name)
    assert.ok(row, `a row for ${c.name}`)
    assert.equal(
      { name: row.name, kind: row.kind, version: row.version, sha256: row.sha256, size: row.size, status: row.status, evidence: row.evidence },
      { name: c.name, kind: c.kind, version: c.version, sha256: c.sha256, size: c.size, status: 'ok', evidence: 'seal+stat' },
    )
  }
  assert.equal(d.compatibility, m.runtime_compatibility)
  assert.is(d.links.length, KIND_LAYOUT.filter((k) => k.activePath).length)
  for (const l of d.links) assert.is(l.status, 'ok', `${l.path} is ok`)
  assert.ok(d.links.some((l: { path: string }) => l.path === '/opt/nullspace/nullspace-api'))
  assert.equal(
    d.releases.map((x: { release_id: string; active: boolean; sealed: boolean }) => ({ release_id: x.release_id, active: x.active, sealed: x.sealed })),
    [{ release_id: h.releaseId, active: true, sealed: true }],
  )
  const human = await doctor(h.root)
  assert.is(human.code, 0)
  assert.match(human.stdout, /No problems found/)
})

test('what install warned of (no /dev/kvm, firecracker and jailer versions not verified) doctor reports as warnings, not problems; the human report names the root', async () => {
  const h = await installedHost()
  const installWarned = (await runCli(['install', '--manifest', h.manifest, '--root', h.root])).stderr
  const r = await doctor(h.root, '--json')
  assert.is(r.code, 0, r.stderr)
  const report = json<{ ok: boolean; problems: string[]; warnings: string[] }>(r)
  assert.is(report.ok, true)
  assert.equal(report.problems, [])
  const kvm = '/dev/kvm is not present on this host: microVMs will not start until KVM is available'
  const unverified = (c: string) => `${c} of release ${h.releaseId} could not be asked for its version (not an ELF binary or #! script); not verified`
  assert.equal(report.warnings, [kvm, unverified('firecracker'), unverified('jailer')])
  // install said the same when it ran (its no-op rerun says the kvm one again).
  assert.ok(installWarned.includes(kvm), installWarned)
  const human = await doctor(h.root)
  assert.is(human.code, 0, human.stderr)
  assert.match(human.stdout, new RegExp(`^Root ${h.root.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'))
  assert.match(human.stdout, /^3 warning\(s\):$/m)
  assert.ok(human.stdout.includes(`  ! ${unverified('jailer')}`), human.stdout)
  assert.match(human.stdout, /^No problems found; 3 warning\(s\) above\.$/m)
  // KVM made available: that warning goes.
  fs.mkdirSync(path.join(h.root, 'dev'))
  fs.writeFileSync(path.join(h.root, 'dev/kvm'), '')
  assert.equal(json<{ warnings: string[] }>(await doctor(h.root, '--json')).warnings, [unverified('firecracker'), unverified('jailer')])
})

test('doctor on a root that was never installed exits 1 and says to run install', async () => {
  const root = tempDir('root')
  const r = await doctor(root, '--json')
  assert.is(r.code, 1)
  const d = json(r)
  assert.is(d.ok, false)
  assert.is(d.active, null)
  assert.ok(d.problems.some((p: string) => /run install/.test(p)), d.problems.join('\n'))
  assert.equal(fs.readdirSync(root), [], 'doctor writes nothing')
})

test('a modified installed file: doctor names the component (seal+stat), --deep reports the sha256 mismatch, install repairs it', async () => {
  const h = await installedHost()
  const file = path.join(h.releaseDir, 'bin/nullspace-api')
  fs.chmodSync(file, 0o755)
  fs.appendFileSync(file, 'x')

  const plain = await doctor(h.root, '--json')
  assert.is(plain.code, 1)
  const api = component(json(plain), 'api')
  assert.is(api.status, 'modified')
  assert.is(api.evidence, 'seal+stat')
  assert.ok(problemsOf(plain).some((p) => p.startsWith('api:')), problemsOf(plain).join('\n'))

  const deep = await doctor(h.root, '--json', '--deep')
  assert.is(deep.code, 1)
  const deepApi = component(json(deep), 'api')
  assert.is(deepApi.status, 'mismatch')
  assert.is(deepApi.evidence, 'sha256')
  assert.ok(problemsOf(deep).some((p) => p.startsWith('api:') && /sha256/.test(p)), problemsOf(deep).join('\n'))
  for (const c of json(deep).components) if (c.name !== 'api') assert.is(c.status, 'ok', `${c.name} still verifies`)

  const repair = await runCli(['install', '--manifest', h.manifest, '--root', h.root])
  assert.is(repair.code, 0, repair.stderr)
  assert.equal(fs.readFileSync(file), fs.readFileSync(path.join(h.dir, 'nullspace-api')), 'the verified bytes are back')
  assert.is((fs.statSync(file).mode & 0o7777).toString(8), '555', 'and read-only again')
  for (const flags of [[], ['--deep']]) {
    const after = await doctor(h.root, '--json', ...flags)
    assert.is(after.code, 0, `doctor ${flags.join(' ')} after the repair: ${after.stdout}`)
  }
})

test('same-size corruption with the mtime put back passes the stat check but fails doctor --deep', async () => {
  const h = await installedHost()
  const file = path.join(h.releaseDir, 'artifacts/vmlinux')
  const st = fs.statSync(file)
  fs.chmodSync(file, 0o644)
  const fd = fs.openSync(file, 'r+')
  try {
    const first = Buffer.alloc(1)
    fs.readSync(fd, first, 0, 1, 0)
    fs.writeSync(fd, Buffer.from([first[0] ^ 0xff]), 0, 1, 0)
  } finally {
    fs.closeSync(fd)
  }
  fs.chmodSync(file, 0o444)
  fs.utimesSync(file, st.atimeMs / 1000, st.mtimeMs / 1000)
  const now = fs.statSync(file)
  assert.is(now.size, st.size)
  assert.is(now.ino, st.ino)
  assert.is(Math.trunc(now.mtimeMs), Math.trunc(st.mtimeMs))

  const plain = await doctor(h.root, '--json')
  assert.is(plain.code, 0, 'without --deep doctor trusts the seal and the stat, which still match')
  assert.is(component(json(plain), 'kernel').status, 'ok')

  const deep = await doctor(h.root, '--json', '--deep')
  assert.is(deep.code, 1, '--deep rehashes the bytes')
  const kernel = component(json(deep), 'kernel')
  assert.is(kernel.status, 'mismatch')
  assert.is(kernel.evidence, 'sha256')
})

test('a compatibility link pointing elsewhere, or gone, is reported; install puts it back', async () => {
  const h = await installedHost()
  const api = path.join(h.root, 'opt/nullspace/nullspace-api')
  fs.unlinkSync(api)
  fs.symlinkSync('releases/current/bin/no-such-file', api)
  fs.unlinkSync(path.join(h.root, 'opt/nullspace/artifacts/vmlinux'))

  const r = await doctor(h.root, '--json')
  assert.is(r.code, 1)
  const d = json(r)
  const link = (p: string) => d.links.find((l: { path: string }) => l.path === p)
  assert.is(link('/opt/nullspace/nullspace-api').status, 'wrong')
  assert.is(link('/opt/nullspace/nullspace-api').target, 'releases/current/bin/no-such-file')
  assert.is(link('/opt/nullspace/artifacts/vmlinux').status, 'missing')
  assert.ok(d.problems.some((p: string) => p.includes('/opt/nullspace/nullspace-api')), d.problems.join('\n'))
  assert.ok(d.problems.some((p: string) => p.includes('/opt/nullspace/artifacts/vmlinux')), d.problems.join('\n'))

  const repair = await runCli(['install', '--manifest', h.manifest, '--root', h.root])
  assert.is(repair.code, 0, repair.stderr)
  assert.is(fs.readlinkSync(api), 'releases/current/bin/nullspace-api')
  assert.is((await doctor(h.root)).code, 0)
})

test('a release directory writable by its group is reported (the jailer trusts these paths)', async () => {
  const h = await installedHost()
  fs.chmodSync(h.releaseDir, 0o775)
  const r = await doctor(h.root, '--json')
  assert.is(r.code, 1)
  const problems = problemsOf(r)
  assert.ok(problems.some((p) => p.includes(h.releaseDir) && /group/.test(p)), problems.join('\n'))
  fs.chmodSync(h.releaseDir, 0o755)
  assert.is((await doctor(h.root)).code, 0, 'and the report clears once it is fixed')
})

test('a rendered file edited by hand is reported as drifted; install renders it again', async () => {
  const h = await installedHost()
  const env = path.join(h.root, 'etc/nullspace/appliance.env')
  const rendered = fs.readFileSync(env)
  fs.appendFileSync(env, 'NULLSPACE_DEBUG=1\n')
  const r = await doctor(h.root, '--json')
  assert.is(r.code, 1)
  assert.ok(problemsOf(r).some((p) => p.includes('/etc/nullspace/appliance.env') && /drifted/.test(p)), problemsOf(r).join('\n'))
  const repair = await runCli(['install', '--manifest', h.manifest, '--root', h.root])
  assert.is(repair.code, 0, repair.stderr)
  assert.equal(fs.readFileSync(env), rendered)
  assert.is((await doctor(h.root)).code, 0)
})

test('after a second release is installed, doctor lists both and names the first as the rollback target', async () => {
  const h = await installedHost()
  const two = await buildRelease({ releaseId: '2026.06.11', version: '0.2.0' })
  const r = await runCli(['install', '--manifest', two.manifest, '--root', h.root])
  assert.is(r.code, 0, r.stderr)
  const d = json(await doctor(h.root, '--json'))
  assert.is(d.ok, true, d.problems.join('\n'))
  assert.is(d.active.release_id, '2026.06.11')
  assert.is(d.previous_release_id, h.releaseId)
  assert.equal(
    d.releases.map((x: { release_id: string; active: boolean; rollback_target: boolean }) => [x.release_id, x.active, x.rollback_target]),
    [[h.releaseId, false, true], ['2026.06.11', true, false]],
  )
})

// doctor without --deep must not read artifact bytes. Timing is a weak witness and making a
// file unreadable proves nothing as root, so ask the kernel: strace records every open(2).
const straceWorks = spawnSync('strace', ['-f', '-qq', '-e', 'trace=openat', '-o', '/dev/null', 'true'], { timeout: 10_000 }).status === 0

async function artifactOpens(h: Installed, deep: boolean): Promise<string[]> {
  const log = path.join(tempDir('strace'), 'opens.txt')
  const r = await runProcess('strace', ['-f', '-qq', '-e', 'trace=open,openat,openat2', '-o', log, process.execPath, CLI, 'doctor', '--root', h.root, ...(deep ? ['--deep'] : [])])
  assert.is(r.code, 0, r.stdout + r.stderr)
  const realDir = fs.realpathSync(h.releaseDir)
  const artifacts = new Set(KIND_LAYOUT.map((k) => path.join(realDir, k.installPath)))
  const opened = [...fs.readFileSync(log, 'utf8').matchAll(/open(?:at2?)?\([^"]*"([^"]+)"/g)].map((x) => x[1])
  return opened.filter((p) => artifacts.has(p) || artifacts.has(path.resolve(h.root, p)))
}

test('doctor without --deep never opens an artifact file; --deep opens every one (seen by strace)', async () => {
  if (!straceWorks) {
    console.log('  (skipped: strace is not usable here; doctor --deep vs plain is still covered by the corruption test)')
    return
  }
  const h = await installedHost()
  assert.equal(await artifactOpens(h, false), [], 'plain doctor opened no artifact')
  const deep = await artifactOpens(h, true)
  assert.is(new Set(deep).size, 10, `--deep opened each of the ten artifacts: ${deep.join(', ')}`)
})

test.run()
