// `launch-gate` through the real CLI on prepared roots: an Ubuntu os-release, a /dev/kvm
// character device (mknod), an installed release, and a fixture console + ingress on
// 127.0.0.1 (https with a private CA and --resolve for owned-domain). The gate passes there,
// then fails on each check in turn with every other check still reported; its evidence
// verifies, and stops verifying once a byte of it changes.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fs from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import path from 'node:path'
import type { Socket } from 'node:net'
import { spawnSync } from 'node:child_process'
import { CLI, json, runCli, runProcess, type CliResult, exits, show } from './helpers/cli.js'
import { tempDir } from './helpers/tmp.js'
import { buildRelease, type BuiltRelease } from './helpers/artifacts.js'
import { KIND_LAYOUT } from '../lib/manifest/kinds.js'
import { TOOL_VERSION } from '../lib/version.js'
import { sha256 } from './helpers/hosts.js'

const PHRASE = 'run nullspace launch gate'
const RELEASE = '2026.06.10'
const EVIDENCE = 'var/lib/nullspace/evidence/launch-gate'
const RUN_FOLDER = /^\d{8}T\d{6}\.\d{3}Z$/
const CHECKS = ['manifest.trusted', 'host.os', 'host.architecture', 'host.kvm', 'doctor.deep', 'release.active', 'compatibility', 'console', 'ingress', 'evidence.signature']
const UBUNTU_2404 = 'PRETTY_NAME="Ubuntu 24.04.1 LTS"\nNAME="Ubuntu"\nVERSION_ID="24.04"\nVERSION="24.04.1 LTS (Noble Numbat)"\nID=ubuntu\nID_LIKE=debian\n'
const UBUNTU_2004 = 'PRETTY_NAME="Ubuntu 20.04.6 LTS"\nNAME="Ubuntu"\nVERSION_ID="20.04"\nID=ubuntu\nID_LIKE=debian\n'
const DEBIAN_12 = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nVERSION="12 (bookworm)"\nID=debian\n'

const cli = (args: string[]) => runCli(args, { timeoutMs: 60_000 })

/** Whether this machine lets us make a /dev/kvm node (root, and a filesystem without nodev) that opens read-write. */
const KVM = (() => {
  const dir = tempDir('kvm-probe')
  const node = path.join(dir, 'kvm')
  const r = spawnSync('mknod', [node, 'c', '10', '232'], { encoding: 'utf8', timeout: 10_000 })
  if (r.status !== 0) return { ok: false, why: `mknod failed: ${(r.stderr || r.error?.message || '').trim()}` }
  try {
    fs.closeSync(fs.openSync(node, fs.constants.O_RDWR | fs.constants.O_NONBLOCK))
    return { ok: true, why: '' }
  } catch (e) {
    return { ok: false, why: `a mknod'ed /dev/kvm does not open read-write here: ${(e as Error).message}` }
  }
})()
if (!KVM.ok) console.log(`launch-gate.spec: ${KVM.why}; host.kvm is expected to fail in every run below (and the passing runs exit 1)`)

// ---- fixtures -------------------------------------------------------------------------

interface Fixture {
  /** What GET /console/ answers; `endless` repeats the body for ever, `trickle` sends a byte a second. */
  console: { status: number; type: string; body: string; endless?: boolean; trickle?: boolean }
  /** The release_id the ingress fixture reports. */
  releaseId: string
}

interface FixtureServer {
  readonly origin: string
  readonly port: number
  readonly f: Fixture
  readonly hosts: string[]
  close(): Promise<void>
}

const CONSOLE_HTML = '<!doctype html>\n<html><head><title>nullspace console</title></head><body><div id="app"></div></body></html>\n'

/** A console answer that never ends: the body over and over as fast as it is read, or a byte a second. */
function misbehave(res: http.ServerResponse, c: Fixture['console']): void {
  res.writeHead(c.status, { 'content-type': c.type })
  if (c.trickle) {
    let at = 0
    const drip = setInterval(() => (res.destroyed ? clearInterval(drip) : res.write(c.body[at++ % c.body.length])), 1000)
    return
  }
  const piece = Buffer.from(c.body.repeat(Math.ceil(65536 / c.body.length)))
  const more = () => {
    while (!res.destroyed) if (!res.write(piece)) return void res.once('drain', more)
  }
  more()
}

/** The console at /console/ and the ingress fixture, on 127.0.0.1 (https with `tls`). */
async function startFixture(tls?: { key: Buffer; cert: Buffer }): Promise<FixtureServer> {
  const f: Fixture = { console: { status: 200, type: 'text/html; charset=utf-8', body: CONSOLE_HTML }, releaseId: RELEASE }
  const hosts: string[] = []
  const sockets = new Set<Socket>()
  const listener = (req: http.IncomingMessage, res: http.ServerResponse) => {
    hosts.push(req.headers.host ?? '')
    const p = new URL(req.url ?? '/', 'http://x').pathname
    if (p === '/console/' && (f.console.endless || f.console.trickle)) return void misbehave(res, f.console)
    if (p === '/console/') return void res.writeHead(f.console.status, { 'content-type': f.console.type }).end(f.console.body)
    if (p === '/console') return void res.writeHead(301, { location: '/console/' }).end()
    if (p === '/.well-known/nullspace/ingress-fixture') return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ release_id: f.releaseId }))
    res.writeHead(404).end()
  }
  const server = tls ? https.createServer({ key: tls.key, cert: tls.cert }, listener) : http.createServer(listener)
  server.on('connection', (s: Socket) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('fixture server did not listen within 5 s')), 5000)
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      clearTimeout(timer)
      resolve()
    })
  })
  const port = (server.address() as { port: number }).port
  return {
    origin: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    port,
    f,
    hosts,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        const timer = setTimeout(resolve, 5000)
        server.close(() => {
          clearTimeout(timer)
          resolve()
        })
      }),
  }
}

/** Runs `body` with a fresh fixture server, closed whatever happens. */
async function withFixture<T>(body: (s: FixtureServer) => Promise<T>, tls?: { key: Buffer; cert: Buffer }): Promise<T> {
  const s = await startFixture(tls)
  try {
    return await body(s)
  } finally {
    await s.close()
  }
}

const contents = Object.fromEntries(KIND_LAYOUT.map((k) => [k.file, `${k.file} launch\n`]))
let built: BuiltRelease | undefined
/** The release every prepared root runs (built once). */
const release = async () => (built ??= await buildRelease({ releaseId: RELEASE, contents }))

interface RootSpec {
  os?: string | null
  kvm?: boolean
  /** Install this manifest (default: the shared release). */
  manifest?: string
  /** A .pub to trust before installing. */
  trust?: string
}

/** A root as the launch gate wants it: Ubuntu 24.04, /dev/kvm, the release installed. */
async function preparedRoot(spec: RootSpec = {}): Promise<string> {
  const root = tempDir('root')
  if (spec.trust) {
    fs.mkdirSync(path.join(root, 'etc/nullspace/trusted-keys'), { recursive: true })
    fs.copyFileSync(spec.trust, path.join(root, 'etc/nullspace/trusted-keys', path.basename(spec.trust)))
  }
  exits(await cli(['install', '--root', root, '--manifest', spec.manifest ?? (await release()).manifest]), 0, 'install')
  const os = spec.os === undefined ? UBUNTU_2404 : spec.os
  if (os !== null) {
    fs.mkdirSync(path.join(root, 'etc'), { recursive: true })
    fs.writeFileSync(path.join(root, 'etc/os-release'), os)
  }
  if (spec.kvm ?? true) {
    fs.mkdirSync(path.join(root, 'dev'), { recursive: true, mode: 0o755 })
    spawnSync('mknod', [path.join(root, 'dev/kvm'), 'c', '10', '232'], { timeout: 10_000 })
  }
  return root
}

interface GateDoc {
  ok: boolean
  result: string
  mode: string
  run_dir: string
  failed_checks: string[]
  tool: { name: string; version: string }
  manifest: { manifest_id: string; release_id: string; digest: string; signed_by: string | null }
  host: { os_release: { id: string; version_id: string }; architecture: string; kvm: { kind: string } }
  checks: { name: string; status: string; detail: string; started_at: string; duration_ms: number }[]
  evidence: { signed: boolean; key_id: string | null }
}

/**
 * The gate in localhost mode against `s` (console and ingress), with --json. `extra` adds
 * flags; a flag named in `extra` replaces the default one (a flag given twice is a usage error).
 */
async function gate(root: string, s: FixtureServer, extra: string[] = [], manifest?: string): Promise<CliResult> {
  const defaults: [string, string][] = [
    ['--mode', 'localhost'],
    ['--manifest', manifest ?? (await release()).manifest],
    ['--console-url', `${s.origin}/console/`],
    ['--ingress-url', `${s.origin}/`],
    ['--smoke-timeout', '5'],
    ['--confirm', PHRASE],
  ]
  return cli(['launch-gate', '--root', root, '--json', ...defaults.filter(([f]) => !extra.includes(f)).flat(), ...extra])
}

const statuses = (d: GateDoc) => Object.fromEntries(d.checks.map((c) => [c.name, c.status]))
const detailOf = (d: GateDoc, name: string) => d.checks.find((c) => c.name === name)?.detail ?? ''

/**
 * Every check is reported, in order: `failing` failed, evidence.signature is `signature`
 * (skip when unsigned), every other check passed. Without a usable /dev/kvm here, host.kvm fails too.
 */
function expectChecks(r: CliResult, failing: string[], o: { signature?: string; exit?: number } = {}): GateDoc {
  const d = json<GateDoc>(r)
  assert.equal(d.checks.map((c) => c.name), CHECKS, 'every check is reported, in order')
  const fails = new Set(KVM.ok ? failing : [...failing, 'host.kvm'])
  const want = Object.fromEntries(CHECKS.map((n) => [n, fails.has(n) ? 'fail' : n === 'evidence.signature' ? (o.signature ?? 'skip') : 'pass']))
  assert.equal(statuses(d), want, `check statuses\n${d.checks.map((c) => `${c.status} ${c.name}: ${c.detail}`).join('\n')}`)
  const exit = fails.size === 0 ? 0 : (o.exit ?? 1)
  assert.is(r.code, exit, `exit code\n${r.stderr}`)
  assert.is(d.ok, fails.size === 0)
  assert.equal(d.failed_checks, CHECKS.filter((n) => fails.has(n)))
  if (fails.size > 0) for (const n of fails) assert.match(r.stderr, new RegExp(`${n.replace('.', '\\.')}: `), `stderr names the failed check ${n}`)
  return d
}

const runFolders = (dir: string) => (fs.existsSync(dir) ? fs.readdirSync(dir).filter((n) => RUN_FOLDER.test(n)) : [])

async function keygen(): Promise<{ id: string; key: string; pub: string }> {
  const r = exits(await cli(['manifest', 'keygen', '--out', tempDir('keys'), '--json']), 0, 'keygen')
  const j = json<{ key_id: string; private_key: string; public_key: string }>(r)
  return { id: j.key_id, key: j.private_key, pub: j.public_key }
}

const verify = (dir: string, ...extra: string[]) => cli(['launch-gate', 'verify', dir, ...extra])

/** Changes one byte of `file` (the first hex digit or letter from `at` on). */
function flipByte(file: string, at = 0): void {
  const b = fs.readFileSync(file)
  let i = at
  while (!/[0-9a-z]/.test(String.fromCharCode(b[i]!))) i++
  b[i] = b[i] === 0x30 ? 0x31 : 0x30
  fs.writeFileSync(file, b)
}

// ---- passing --------------------------------------------------------------------------

test('a prepared Ubuntu 24.04 KVM host running the release passes, and leaves a complete evidence folder', async () => {
  const rel = await release()
  const root = await preparedRoot()
  await withFixture(async (s) => {
    const r = await gate(root, s)
    const d = expectChecks(r, [])
    for (const c of d.checks) {
      assert.ok(!Number.isNaN(Date.parse(c.started_at)), `${c.name} has a start time`)
      assert.ok(Number.isInteger(c.duration_ms) && c.duration_ms >= 0, `${c.name} has a duration`)
      assert.ok(c.detail.length > 0, `${c.name} says why`)
    }
    assert.match(detailOf(d, 'host.os'), /Ubuntu 24\.04/)
    assert.match(detailOf(d, 'ingress'), new RegExp(RELEASE))

    // The run folder: under the root's default evidence dir, named by UTC time to the millisecond.
    const folders = runFolders(path.join(root, EVIDENCE))
    assert.is(folders.length, 1, 'one run folder')
    const dir = path.join(root, EVIDENCE, folders[0]!)
    assert.is(d.run_dir, dir)
    const started = Date.parse(d.checks[0]!.started_at)
    const named = Date.parse(folders[0]!.replace(/^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)/, '$1-$2-$3T$4:$5:$6'))
    assert.ok(Math.abs(named - started) < 5000, `${folders[0]} is the time of the run (${d.checks[0]!.started_at})`)
    assert.equal(fs.readdirSync(dir).sort(), ['SHA256SUMS', 'doctor.json', 'launch-gate.json', 'manifest.json'])

    // launch-gate.json is what --json printed, without run_dir.
    const doc = JSON.parse(fs.readFileSync(path.join(dir, 'launch-gate.json'), 'utf8'))
    const { run_dir: _, ...printed } = d
    assert.equal(doc, printed)
    assert.equal(doc.tool, { name: 'nullspace-host', version: TOOL_VERSION })
    assert.is(doc.mode, 'localhost')
    assert.is(doc.result, 'pass')
    const m = JSON.parse(fs.readFileSync(rel.manifest, 'utf8'))
    assert.is(doc.manifest.manifest_id, m.manifest_id)
    assert.is(doc.manifest.digest, `sha256:${sha256(fs.readFileSync(rel.manifest))}`)
    assert.is(doc.host.os_release.id, 'ubuntu')
    assert.is(doc.host.os_release.version_id, '24.04')
    assert.is(doc.host.architecture, 'x86_64')
    assert.equal(doc.evidence, { signed: false, key_id: null })
    assert.equal(fs.readFileSync(path.join(dir, 'manifest.json')), fs.readFileSync(rel.manifest), 'the manifest checked is kept')

    // doctor.json is the deep doctor report.
    const doctor = JSON.parse(fs.readFileSync(path.join(dir, 'doctor.json'), 'utf8'))
    assert.is(doctor.ok, true)
    assert.is(doctor.deep, true)
    assert.is(doctor.active.release_id, RELEASE)
    assert.ok(doctor.components.every((c: { evidence: string }) => c.evidence === 'sha256'), 'every component was rehashed')

    // SHA256SUMS is sha256sum's format over every other file: sha256sum -c agrees.
    const sums = fs.readFileSync(path.join(dir, 'SHA256SUMS'), 'utf8')
    assert.equal(sums.trim().split('\n').map((l) => l.slice(66)), ['doctor.json', 'launch-gate.json', 'manifest.json'])
    const c = spawnSync('sha256sum', ['--check', '--strict', 'SHA256SUMS'], { cwd: dir, encoding: 'utf8', timeout: 10_000 })
    if (c.error === undefined) assert.is(c.status, 0, `sha256sum -c: ${c.stdout}${c.stderr}`)
    for (const line of sums.trim().split('\n')) assert.is(sha256(fs.readFileSync(path.join(dir, line.slice(66)))), line.slice(0, 64), line)

    // Unsigned evidence verifies, and says what that does and does not prove.
    const v = exits(await verify(dir), 0, 'verify')
    assert.match(v.stdout, /evidence verified/)
    assert.match(v.stdout, /not who wrote them/)

    // A second run writes a second folder; the human report names every check.
    const h = await cli(['launch-gate', '--root', root, '--mode', 'localhost', '--manifest', rel.manifest, '--console-url', `${s.origin}/console`, '--ingress-url', `${s.origin}/`, '--confirm', PHRASE])
    assert.is(h.code, KVM.ok ? 0 : 1, show(h))
    assert.match(h.stdout, KVM.ok ? /Launch gate \(localhost\) for release 2026\.06\.10: PASS/ : /FAIL/)
    for (const n of CHECKS) assert.ok(h.stdout.includes(n), `the report names ${n}`)
    assert.match(h.stdout, /Evidence: .*not signed/)
    assert.is(runFolders(path.join(root, EVIDENCE)).length, 2, 'a new folder per run')
  })
})

test('--evidence-dir is used as given, not under --root', async () => {
  const root = await preparedRoot()
  const given = path.join(tempDir('evidence'), 'launch-gate')
  await withFixture(async (s) => {
    const d = expectChecks(await gate(root, s, ['--evidence-dir', given]), [])
    assert.is(path.dirname(d.run_dir), given)
    assert.is(runFolders(given).length, 1)
    assert.not.ok(fs.existsSync(path.join(root, EVIDENCE)), 'nothing written under the root evidence dir')
  })
})

// ---- failing on each check in turn ------------------------------------------------------

test('host.os fails on Ubuntu 20.04, on Debian (this dev machine), and without os-release; the rest are still reported', async () => {
  await withFixture(async (s) => {
    let d = expectChecks(await gate(await preparedRoot({ os: UBUNTU_2004 }), s), ['host.os'])
    assert.match(detailOf(d, 'host.os'), /Ubuntu 20\.04 is not supported; the launch gate supports Ubuntu 22\.04 and 24\.04/)

    const debian = await preparedRoot({ os: DEBIAN_12 })
    const r = await gate(debian, s)
    d = expectChecks(r, ['host.os'])
    assert.match(detailOf(d, 'host.os'), /Debian GNU\/Linux 12 \(bookworm\) \(ID=debian, VERSION_ID=12.*\) is not Ubuntu/)
    assert.match(r.stderr, /launch gate failed: host\.os: Debian GNU\/Linux 12/)
    assert.is(runFolders(path.join(debian, EVIDENCE)).length, 1, 'a failing run leaves evidence too')
    const h = await cli(['launch-gate', '--root', debian, '--mode', 'localhost', '--manifest', (await release()).manifest, '--console-url', `${s.origin}/console/`, '--ingress-url', `${s.origin}/`, '--confirm', PHRASE])
    assert.is(h.code, 1)
    assert.match(h.stdout, /FAIL.*host\.os/)
    assert.match(h.stdout, /is not Ubuntu/)

    d = expectChecks(await gate(await preparedRoot({ os: null }), s), ['host.os'])
    assert.match(detailOf(d, 'host.os'), /no etc\/os-release/)
    // os-release(5): /usr/lib/os-release when /etc/os-release is missing.
    const lib = await preparedRoot({ os: null })
    fs.mkdirSync(path.join(lib, 'usr/lib'), { recursive: true })
    fs.writeFileSync(path.join(lib, 'usr/lib/os-release'), UBUNTU_2404)
    expectChecks(await gate(lib, s), [])
  })
})

test('host.kvm fails without /dev/kvm, and when it is not a character device', async () => {
  await withFixture(async (s) => {
    let d = expectChecks(await gate(await preparedRoot({ kvm: false }), s), ['host.kvm'])
    assert.match(detailOf(d, 'host.kvm'), /dev\/kvm does not exist/)
    const file = await preparedRoot({ kvm: false })
    fs.mkdirSync(path.join(file, 'dev'), { recursive: true })
    fs.writeFileSync(path.join(file, 'dev/kvm'), '')
    d = expectChecks(await gate(file, s), ['host.kvm'])
    assert.match(detailOf(d, 'host.kvm'), /is a regular file, not a character device/)
  })
})

test('a manifest of another release fails release.active (and the ingress, which serves the active one)', async () => {
  const root = await preparedRoot()
  // Same artifacts and builder flags, so every compatibility fact is equal: only the release differs.
  const other = await buildRelease({ releaseId: '2026.07.01', version: '0.2.0', contents })
  await withFixture(async (s) => {
    const d = expectChecks(await gate(root, s, [], other.manifest), ['release.active', 'ingress'])
    assert.match(detailOf(d, 'release.active'), /the active release is 2026\.06\.10, not the manifest's 2026\.07\.01/)
    assert.match(detailOf(d, 'ingress'), /reports release_id "2026\.06\.10", not "2026\.07\.01"/)
    assert.is(d.manifest.release_id, '2026.07.01')
  })
})

test('a tampered installed file fails the deep doctor; the rest are still reported', async () => {
  const root = await preparedRoot()
  const api = path.join(root, 'opt/nullspace/releases', RELEASE, 'bin/nullspace-api')
  const st = fs.statSync(api)
  const bytes = fs.readFileSync(api)
  bytes[0] = bytes[0]! ^ 1
  fs.chmodSync(api, 0o755)
  fs.writeFileSync(api, bytes)
  fs.chmodSync(api, 0o555)
  fs.utimesSync(api, st.atime, st.mtime) // same size and mtime: only a rehash sees it
  await withFixture(async (s) => {
    const r = await gate(root, s)
    const d = expectChecks(r, ['doctor.deep'])
    assert.match(detailOf(d, 'doctor.deep'), /bin\/nullspace-api fails its sha256/)
    const doctor = JSON.parse(fs.readFileSync(path.join(d.run_dir, 'doctor.json'), 'utf8'))
    assert.is(doctor.ok, false)
    assert.is(doctor.components.find((c: { kind: string }) => c.kind === 'api').status, 'mismatch')
  })
})

test('a console answering 500, or 200 that is not HTML, fails the console check', async () => {
  const root = await preparedRoot()
  await withFixture(async (s) => {
    s.f.console = { status: 500, type: 'text/html', body: 'oops' }
    let d = expectChecks(await gate(root, s), ['console'])
    assert.match(detailOf(d, 'console'), /\/console\/ answered 500/)
    s.f.console = { status: 200, type: 'text/plain', body: CONSOLE_HTML }
    d = expectChecks(await gate(root, s), ['console'])
    assert.match(detailOf(d, 'console'), /content-type text\/plain/)
    s.f.console = { status: 200, type: 'text/html', body: '{"not": "html"}' }
    d = expectChecks(await gate(root, s), ['console'])
    assert.match(detailOf(d, 'console'), /not an HTML document/)
  })
  // Nothing listening at all.
  const dead = await startFixture()
  await dead.close()
  const d = expectChecks(await gate(root, dead), ['console', 'ingress'])
  assert.match(detailOf(d, 'console'), /ECONNREFUSED/)
})

test('a console whose body never ends, or trickles a byte a second, is judged within --smoke-timeout', async () => {
  const root = await preparedRoot()
  await withFixture(async (s) => {
    s.f.console = { status: 200, type: 'text/html; charset=utf-8', body: CONSOLE_HTML, endless: true }
    let t0 = Date.now()
    let d = expectChecks(await gate(root, s, ['--smoke-timeout', '3']), [])
    assert.ok(Date.now() - t0 < 20_000, `an endless console body is read up to its first MiB only (${Date.now() - t0} ms)`)
    s.f.console = { status: 200, type: 'text/html; charset=utf-8', body: CONSOLE_HTML, trickle: true }
    t0 = Date.now()
    d = expectChecks(await gate(root, s, ['--smoke-timeout', '3']), ['console'])
    assert.match(detailOf(d, 'console'), /did not answer in time/)
    assert.ok(Date.now() - t0 < 20_000, `a trickling console is given up on at --smoke-timeout (${Date.now() - t0} ms)`)
  })
})

test('an ingress reporting another release_id fails the ingress smoke', async () => {
  const root = await preparedRoot()
  await withFixture(async (s) => {
    s.f.releaseId = '2026.05.01'
    const d = expectChecks(await gate(root, s), ['ingress'])
    assert.match(detailOf(d, 'ingress'), /reports release_id "2026\.05\.01", not "2026\.06\.10"/)
  })
})

test('an untrusted manifest fails manifest.trusted with exit 65; the other checks still run against its content', async () => {
  const k = await keygen()
  const rel = await buildRelease({ releaseId: RELEASE, contents })
  exits(await cli(['manifest', 'sign', '--manifest', rel.manifest, '--key', k.key]), 0, 'sign')
  const root = await preparedRoot({ manifest: rel.manifest, trust: k.pub })
  await withFixture(async (s) => {
    expectChecks(await gate(root, s, [], rel.manifest), [])
    fs.rmSync(`${rel.manifest}.sig`)
    const d = expectChecks(await gate(root, s, [], rel.manifest), ['manifest.trusted'], { exit: 65 })
    assert.match(detailOf(d, 'manifest.trusted'), /untrusted manifest: no signature file/)
  })
})

// ---- refusals before anything ---------------------------------------------------------

test('without the exact confirm phrase the gate refuses (64) before checking or writing anything', async () => {
  const root = await preparedRoot()
  await withFixture(async (s) => {
    const base = ['launch-gate', '--root', root, '--manifest', (await release()).manifest, '--console-url', `${s.origin}/console/`, '--ingress-url', `${s.origin}/`]
    const localhost = [...base, '--mode', 'localhost']
    for (const confirm of [[], ['--confirm', 'yes'], ['--confirm', 'run nullspace launch gate!'], ['--confirm', 'Run nullspace launch gate']]) {
      const r = exits(await cli([...localhost, ...confirm]), 64, `confirm ${confirm.join(' ') || '(none)'}`)
      assert.match(r.stderr, /^nullspace-host: launch-gate needs --confirm "run nullspace launch gate" exactly/)
      assert.is(r.stdout, '')
    }
    assert.not.ok(fs.existsSync(path.join(root, 'var/lib/nullspace/evidence')), 'no evidence written')
    assert.is(s.hosts.length, 0, 'neither the console nor the ingress was asked')

    const r = exits(await cli([...base, '--confirm', PHRASE, '--mode', 'owned-domain']), 64, 'owned-domain without --public-hostname')
    assert.match(r.stderr, /--public-hostname/)
    exits(await cli([...base, '--confirm', PHRASE, '--mode', 'public']), 64, 'an unknown mode')
    exits(await cli([...localhost, '--confirm', PHRASE, '--resolve', 'no-address']), 64, 'a malformed --resolve')
    exits(await cli([...localhost, '--confirm', PHRASE, '--evidence-key', path.join(root, 'missing.key')]), 64, 'a missing --evidence-key')
    exits(await cli([...localhost, '--confirm', PHRASE, '--ca-file', path.join(root, 'etc/os-release')]), 64, 'a --ca-file that is not a certificate')
    const twice = exits(await cli([...localhost, '--confirm', PHRASE, '--console-url', 'http://127.0.0.1:1/']), 64, 'a flag given twice')
    assert.match(twice.stderr, /--console-url is given more than once/)
    assert.not.ok(fs.existsSync(path.join(root, 'var/lib/nullspace/evidence')), 'still no evidence written')
  })
})

// ---- signed evidence -----------------------------------------------------------------

test('signed evidence verifies with the key, and not after one byte of launch-gate.json or SHA256SUMS changes', async () => {
  const k = await keygen()
  const stranger = await keygen()
  const root = await preparedRoot()
  await withFixture(async (s) => {
    const d = expectChecks(await gate(root, s, ['--evidence-key', k.key]), [], { signature: 'pass' })
    assert.equal(d.evidence, { signed: true, key_id: k.id })
    const dir = d.run_dir
    assert.equal(fs.readdirSync(dir).sort(), ['SHA256SUMS', 'SHA256SUMS.sig', 'doctor.json', 'launch-gate.json', 'manifest.json'])
    const sig = JSON.parse(fs.readFileSync(path.join(dir, 'SHA256SUMS.sig'), 'utf8'))
    assert.is(sig.key_id, k.id)
    assert.is(sig.algorithm, 'ed25519')

    const good = exits(await verify(dir, '--key', k.pub), 0, 'verify --key')
    assert.match(good.stdout, new RegExp(`valid signature of SHA256SUMS by key ${k.id}`))
    assert.match(good.stdout, /result pass/)
    const j = json(exits(await verify(dir, '--key', k.pub, '--json'), 0, 'verify --json'))
    assert.is(j.ok, true)
    assert.is(j.signature.status, 'valid')
    assert.is(j.run.release_id, RELEASE)
    assert.match(exits(await verify(dir), 0, 'verify without a key').stdout, /not checked: pass --key PUB/)
    const wrongKey = exits(await verify(dir, '--key', stranger.pub), 1, 'verify with another key')
    assert.match(wrongKey.stderr, /SHA256SUMS\.sig: signed by key .* not among the trusted keys/)

    // One byte of launch-gate.json.
    const gateFile = path.join(dir, 'launch-gate.json')
    const original = fs.readFileSync(gateFile)
    flipByte(gateFile, original.indexOf('"result"') + 11)
    let r = exits(await verify(dir, '--key', k.pub), 1, 'verify after launch-gate.json changed')
    assert.match(r.stderr, /launch-gate\.json does not match SHA256SUMS/)
    assert.match(r.stdout, /changed {2}launch-gate\.json/)
    assert.match(r.stdout, /Do not trust this evidence/)
    exits(await verify(dir), 1, 'and without the key too')
    fs.writeFileSync(gateFile, original)
    exits(await verify(dir, '--key', k.pub), 0, 'verify once restored')

    // One byte of SHA256SUMS: the sums no longer carry the signature.
    const sumsFile = path.join(dir, 'SHA256SUMS')
    const sums = fs.readFileSync(sumsFile)
    flipByte(sumsFile)
    r = exits(await verify(dir, '--key', k.pub, '--json'), 1, 'verify after SHA256SUMS changed')
    const v = json(r)
    assert.is(v.signature.status, 'invalid')
    assert.ok(v.problems.some((p: string) => /^SHA256SUMS\.sig: the signature by key .* does not match SHA256SUMS/.test(p)), v.problems.join('\n'))
    fs.writeFileSync(sumsFile, sums)

    // A file added after the run, and a file removed.
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'added later\n')
    r = exits(await verify(dir, '--key', k.pub), 1, 'verify with an added file')
    assert.match(r.stderr, /notes\.txt is not listed in SHA256SUMS/)
    fs.rmSync(path.join(dir, 'notes.txt'))
    fs.rmSync(path.join(dir, 'SHA256SUMS.sig'))
    r = exits(await verify(dir, '--key', k.pub), 1, 'verify --key without SHA256SUMS.sig')
    assert.match(r.stderr, /SHA256SUMS\.sig is missing/)
    r = exits(await verify(dir), 1, 'verify without SHA256SUMS.sig, though launch-gate.json says it was signed')
    assert.match(r.stderr, new RegExp(`records signing by key ${k.id}, but SHA256SUMS\\.sig is missing`))
  })
})

// ---- hostile folders: verify reads only regular files, never through a symlink, with caps --

/** A small run folder that verifies: launch-gate.json and doctor.json listed in SHA256SUMS. */
function handMadeRunFolder(): string {
  const dir = tempDir('run')
  const files = { 'launch-gate.json': '{"mode":"localhost","result":"pass"}\n', 'doctor.json': '{"ok":true}\n' }
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text)
  fs.writeFileSync(path.join(dir, 'SHA256SUMS'), Object.entries(files).map(([name, text]) => `${sha256(text)}  ${name}\n`).sort().join(''))
  return dir
}

/** verify under a 4 GiB address-space cap and a 15 s deadline: a regression fails fast instead of hanging or eating the machine's memory. */
const verifyBounded = (dir: string, ...extra: string[]) => runProcess('prlimit', ['--as=4294967296', '--', process.execPath, CLI, 'launch-gate', 'verify', dir, ...extra], { timeoutMs: 15_000 })

function refusedQuickly(r: CliResult, pattern: RegExp): void {
  assert.is(r.code, 1, show(r))
  assert.is(r.stderr.trim().split('\n').length, 1, `one line on stderr\n${r.stderr}`)
  assert.match(r.stderr, pattern)
}

test('verify: the hand-made run folder the hostile cases start from verifies', async () => {
  exits(await verifyBounded(handMadeRunFolder()), 0, 'verify')
})

test('verify: a FIFO as SHA256SUMS.sig is refused at once (no hang), with or without --key', async () => {
  const k = await keygen()
  const dir = handMadeRunFolder()
  assert.is(spawnSync('mkfifo', [path.join(dir, 'SHA256SUMS.sig')]).status, 0, 'mkfifo')
  refusedQuickly(await verifyBounded(dir), /SHA256SUMS\.sig is not a regular file/)
  refusedQuickly(await verifyBounded(dir, '--key', k.pub), /SHA256SUMS\.sig is not a regular file/)
})

test('verify: a FIFO as SHA256SUMS is refused at once (no hang)', async () => {
  const dir = handMadeRunFolder()
  fs.rmSync(path.join(dir, 'SHA256SUMS'))
  assert.is(spawnSync('mkfifo', [path.join(dir, 'SHA256SUMS')]).status, 0, 'mkfifo')
  refusedQuickly(await verifyBounded(dir), /SHA256SUMS is not a regular file/)
})

test('verify: SHA256SUMS as a symlink to /dev/zero is refused without reading it', async () => {
  const dir = handMadeRunFolder()
  fs.rmSync(path.join(dir, 'SHA256SUMS'))
  fs.symlinkSync('/dev/zero', path.join(dir, 'SHA256SUMS'))
  refusedQuickly(await verifyBounded(dir), /SHA256SUMS is a symbolic link/)
})

test('verify: SHA256SUMS.sig as a symlink to /dev/zero is refused without reading it', async () => {
  const dir = handMadeRunFolder()
  fs.symlinkSync('/dev/zero', path.join(dir, 'SHA256SUMS.sig'))
  refusedQuickly(await verifyBounded(dir), /SHA256SUMS\.sig is a symbolic link/)
})

test('verify: an oversized SHA256SUMS is refused by its size, not read', async () => {
  const dir = handMadeRunFolder()
  fs.truncateSync(path.join(dir, 'SHA256SUMS'), 2 * 1024 * 1024 * 1024) // sparse: 2 GiB that take no disk
  refusedQuickly(await verifyBounded(dir), /SHA256SUMS is 2147483648 bytes, over the \d+-byte limit/)
})

test('verify: a listed file that is a symlink (to a file with the listed content) is not followed', async () => {
  const dir = handMadeRunFolder()
  const elsewhere = path.join(tempDir('elsewhere'), 'doctor.json')
  fs.renameSync(path.join(dir, 'doctor.json'), elsewhere)
  fs.symlinkSync(elsewhere, path.join(dir, 'doctor.json'))
  refusedQuickly(await verifyBounded(dir), /doctor\.json is a symbolic link/)
})

test('etc/nullspace/evidence-key under the root signs the evidence when no --evidence-key is given', async () => {
  const k = await keygen()
  const root = await preparedRoot()
  fs.copyFileSync(k.key, path.join(root, 'etc/nullspace/evidence-key'))
  await withFixture(async (s) => {
    const d = expectChecks(await gate(root, s), [], { signature: 'pass' })
    assert.is(d.evidence.key_id, k.id)
    exits(await verify(d.run_dir, '--key', k.pub), 0, 'verify')
    // A broken key there fails the check, and the run is not signed.
    fs.writeFileSync(path.join(root, 'etc/nullspace/evidence-key'), 'not a key\n')
    const bad = expectChecks(await gate(root, s), ['evidence.signature'])
    assert.match(detailOf(bad, 'evidence.signature'), /evidence-key: not an ed25519 private key/)
    assert.not.ok(fs.existsSync(path.join(bad.run_dir, 'SHA256SUMS.sig')))
  })
})

test('an evidence key that group or other can read signs nothing: --evidence-key is refused (64), the root key fails evidence.signature, doctor says chmod 600', async () => {
  const k = await keygen()
  const root = await preparedRoot()
  const rootKey = path.join(root, 'etc/nullspace/evidence-key')
  await withFixture(async (s) => {
    fs.chmodSync(k.key, 0o644)
    const flag = exits(await gate(root, s, ['--evidence-key', k.key]), 64, '--evidence-key readable by group and others')
    assert.match(flag.stderr, /^nullspace-host: .*\.key: readable by group and others \(mode 0644\); .*: chmod 600 .*\.key$/m)
    // The gate runs with --json: its refusal is the one failure document, and nothing else is on stdout.
    assert.equal(json(flag).error.code, 'usage')
    assert.not.ok(fs.existsSync(path.join(root, 'var/lib/nullspace/evidence')), 'nothing was checked or written')
    assert.is(s.hosts.length, 0, 'neither the console nor the ingress was asked')

    // The root's key, readable by its group: the gate runs, fails evidence.signature, and signs nothing.
    fs.copyFileSync(k.key, rootKey)
    fs.chmodSync(rootKey, 0o640)
    const d = expectChecks(await gate(root, s), ['doctor.deep', 'evidence.signature'])
    assert.match(detailOf(d, 'evidence.signature'), /evidence-key: readable by group \(mode 0640\); .*: chmod 600 .*evidence-key; the evidence will not be signed/)
    assert.equal(d.evidence, { signed: false, key_id: null })
    assert.not.ok(fs.existsSync(path.join(d.run_dir, 'SHA256SUMS.sig')), 'no SHA256SUMS.sig')
    const doctor = json(exits(await cli(['doctor', '--root', root, '--json']), 1, 'doctor with a group-readable evidence key'))
    assert.ok(doctor.problems.some((p: string) => /evidence-key: readable by group \(mode 0640\).*: chmod 600 /.test(p)), doctor.problems.join('\n'))

    fs.chmodSync(rootKey, 0o600)
    const signed = expectChecks(await gate(root, s), [], { signature: 'pass' })
    assert.equal(signed.evidence, { signed: true, key_id: k.id })
    exits(await cli(['doctor', '--root', root]), 0, 'doctor once the key is 0600')
  })
})

// ---- owned-domain over https on loopback --------------------------------------------------

const HOST = 'console.nullspace.test'

/** A private CA and a certificate for HOST made with openssl, or null when there is no openssl. */
function makeCa(): { dir: string; ca: string; key: Buffer; cert: Buffer } | null {
  if (spawnSync('openssl', ['version'], { timeout: 10_000 }).status !== 0) return null
  const dir = tempDir('ca')
  const run = (args: string[]) => {
    const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8', timeout: 30_000 })
    if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`)
  }
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  run(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=nullspace test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'])
  run(['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', `/CN=${HOST}`])
  fs.writeFileSync(path.join(dir, 'ext.cnf'), `subjectAltName=DNS:${HOST}\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n`)
  run(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'ext.cnf'])
  return { dir, ca: path.join(dir, 'ca.pem'), key: fs.readFileSync(path.join(dir, 'server.key')), cert: fs.readFileSync(path.join(dir, 'server.pem')) }
}

/** Owned-domain flags; `o` replaces any of them (null drops it). */
function ownedArgs(o: Record<string, string | null>): string[] {
  return Object.entries(o).flatMap(([flag, value]) => (value === null ? [] : [flag, value]))
}

test('owned-domain over https on loopback: private CA, --resolve, signed manifest and signed evidence pass', async () => {
  const pki = makeCa()
  if (pki === null) return void console.log('launch-gate.spec: no openssl on this machine; the owned-domain https case is skipped')
  const k = await keygen()
  const evidenceKey = await keygen()
  const rel = await buildRelease({ releaseId: RELEASE, contents })
  exits(await cli(['manifest', 'sign', '--manifest', rel.manifest, '--key', k.key]), 0, 'sign')
  const root = await preparedRoot({ manifest: rel.manifest, trust: k.pub })
  // The console over https; the ingress fixture over plain http on loopback, as on a real host.
  await withFixture((ingress) =>
    withFixture(async (s) => {
      const url = `https://${HOST}:${s.port}/console/`
      const owned = (o: Record<string, string | null> = {}) =>
        gate(root, s, ownedArgs({
          '--mode': 'owned-domain', '--ingress-url': `${ingress.origin}/`, '--public-hostname': HOST, '--console-url': url,
          '--ca-file': pki.ca, '--resolve': `${HOST}:127.0.0.1`, '--evidence-key': evidenceKey.key, ...o,
        }), rel.manifest)

      const d = expectChecks(await owned(), [], { signature: 'pass' })
      assert.is(d.mode, 'owned-domain')
      assert.match(detailOf(d, 'console'), new RegExp(`https://${HOST.replace(/\./g, '\\.')}:${s.port}/console/ answered 200 text/html.*connected to 127\\.0\\.0\\.1`))
      assert.match(detailOf(d, 'manifest.trusted'), new RegExp(`signed by trusted key ${k.id}`))
      assert.is(d.manifest.signed_by, k.id)
      assert.ok(s.hosts.includes(`${HOST}:${s.port}`), `the Host header keeps the name (${s.hosts.join(', ')})`)
      exits(await verify(d.run_dir, '--key', evidenceKey.pub), 0, 'the owned-domain evidence verifies')

      // HOST:PORT:IP, as curl also takes it.
      expectChecks(await owned({ '--resolve': `${HOST}:${s.port}:127.0.0.1` }), [], { signature: 'pass' })

      // Without the private CA the certificate is not trusted.
      const noCa = expectChecks(await owned({ '--ca-file': null }), ['console'], { signature: 'pass' })
      assert.match(detailOf(noCa, 'console'), /certificate/i)

      // The certificate is for HOST: the same server under another name fails the check.
      const other = 'other.nullspace.test'
      const wrong = expectChecks(await owned({ '--public-hostname': other, '--console-url': `https://${other}:${s.port}/console/`, '--resolve': `${other}:127.0.0.1` }), ['console'], { signature: 'pass' })
      assert.match(detailOf(wrong, 'console'), /altnames|ERR_TLS_CERT_ALTNAME_INVALID/)

      // A console not on the public hostname, or not over https, is a failed check.
      let bad = expectChecks(await owned({ '--console-url': `https://127.0.0.1:${s.port}/console/` }), ['console'], { signature: 'pass' })
      assert.match(detailOf(bad, 'console'), /on the public hostname console\.nullspace\.test, and .* is on 127\.0\.0\.1/)
      bad = expectChecks(await owned({ '--console-url': `http://${HOST}:${s.port}/console/` }), ['console'], { signature: 'pass' })
      assert.match(detailOf(bad, 'console'), /needs the console over https/)
    }, { key: pki.key, cert: pki.cert }),
  )
})

test('owned-domain fails without an evidence key, and with a manifest no trusted key signed (65)', async () => {
  const pki = makeCa()
  if (pki === null) return void console.log('launch-gate.spec: no openssl on this machine; the owned-domain https case is skipped')
  const root = await preparedRoot() // no trusted keys: localhost would accept the unsigned manifest
  await withFixture((ingress) =>
    withFixture(async (s) => {
      const args = ownedArgs({
        '--mode': 'owned-domain', '--ingress-url': `${ingress.origin}/`, '--public-hostname': HOST,
        '--console-url': `https://${HOST}:${s.port}/console/`, '--ca-file': pki.ca, '--resolve': `${HOST}:127.0.0.1`,
      })
      const d = expectChecks(await gate(root, s, args), ['manifest.trusted', 'evidence.signature'], { exit: 65 })
      assert.match(detailOf(d, 'manifest.trusted'), /owned-domain needs a manifest signed by a trusted key, and .*trusted-keys holds no \.pub/)
      assert.match(detailOf(d, 'evidence.signature'), /owned-domain evidence must be signed/)
      assert.not.ok(fs.existsSync(path.join(d.run_dir, 'SHA256SUMS.sig')))
      exits(await verify(d.run_dir), 0, 'the unsigned evidence of a failed run is still intact')
    }, { key: pki.key, cert: pki.cert }),
  )
})

test.run()
