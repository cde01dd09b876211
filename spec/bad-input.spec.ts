// Bad input (manifest, flags, server, disk, a planted path, a held lock) ends with a clear
// one-line error and a non-zero exit, and leaves the active release, its links and the
// rendered files exactly as they were (ARCHITECTURE.md section 4, invariant 4).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fs from 'node:fs'
import path from 'node:path'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { CLI, type CliResult, runCli, runProcess } from './helpers/cli.js'
import { tempDir } from './helpers/tmp.js'
import { buildRelease, type BuiltRelease } from './helpers/artifacts.js'
import { startServer, withServer, type TestServer } from './helpers/server.js'
import { KIND_LAYOUT } from '../lib/manifest/kinds.js'
import { RELEASES, sha256 } from './helpers/hosts.js'

const LOCK = 'var/lib/nullspace/lock'
const NOBODY = ['--reuid=65534', '--regid=65534', '--clear-groups']
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Same bytes in every release unless overridden, so r1 and r2 differ only where a test says. */
/** Every file tagged but the migration bundle, which releases share (the migration guard is backup-guard.spec's business). */
const contents = (tag: string): Record<string, string> => Object.fromEntries(KIND_LAYOUT.map((k) => [k.file, k.kind === 'migration_bundle' ? `${k.file}\n` : `${k.file} ${tag}\n`]))

/**
 * What an operator would compare before and after: everything under opt/nullspace (but the
 * staging area), everything under etc/, and the state file. Symlink targets, file bytes and
 * modes are included; directory timestamps are not.
 */
function activeState(root: string): string[] {
  const out: string[] = []
  const walk = (rel: string) => {
    const p = path.join(root, rel)
    let st: fs.Stats
    try {
      st = fs.lstatSync(p)
    } catch {
      return void out.push(`${rel} (absent)`)
    }
    const mode = (st.mode & 0o7777).toString(8)
    if (st.isSymbolicLink()) out.push(`${rel} -> ${fs.readlinkSync(p)}`)
    else if (st.isFile()) out.push(`${rel} ${mode} ${sha256(fs.readFileSync(p))}`)
    else if (st.isDirectory()) {
      out.push(`${rel}/ ${mode}`)
      for (const name of fs.readdirSync(p).sort()) if (!(rel === RELEASES && name === '.staging')) walk(path.join(rel, name))
    } else out.push(`${rel} (other)`)
  }
  walk('opt/nullspace')
  walk('etc')
  walk('var/lib/nullspace/state.json')
  return out
}

/** The command failed with exactly one error line (warnings aside) matching every pattern, and no stack trace. */
function failsWith(r: CliResult, exit: number, ...patterns: RegExp[]): string {
  assert.is(r.code, exit, `exit ${r.code}, expected ${exit}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`)
  const lines = r.stderr.split('\n').filter((l) => l !== '' && !l.startsWith('nullspace-host: warning:'))
  assert.is(lines.length, 1, `one error line:\n${r.stderr}`)
  assert.match(lines[0], /^nullspace-host: /)
  assert.not.match(r.stderr, /^\s+at /m, 'no stack trace')
  for (const p of patterns) assert.match(lines[0], p)
  return lines[0]
}

const install = (root: string, manifest: string, ...extra: string[]) => runCli(['install', '--manifest', manifest, '--root', root, ...extra])

interface Host {
  root: string
  r1: BuiltRelease
}

/** A root with release r1 installed and active: the state every failure must leave alone. */
async function installedHost(): Promise<Host> {
  const r1 = await buildRelease({ releaseId: 'r1', version: '0.1.0', contents: contents('v1') })
  const root = tempDir('root')
  const r = await install(root, r1.manifest)
  assert.is(r.code, 0, `install r1: ${r.stderr}`)
  return { root, r1 }
}

const nextRelease = (over: Record<string, string | Buffer> = {}, spec: { extra?: string[] } = {}) =>
  buildRelease({ releaseId: 'r2', version: '0.2.0', contents: { ...contents('v2'), ...over }, ...spec })

/** r2 served over HTTP under /r2/. */
async function servedNextRelease(server: TestServer, over: Record<string, string | Buffer> = {}): Promise<BuiltRelease> {
  const r2 = await nextRelease(over, { extra: ['--base-url', server.url('/r2')] })
  for (const { file } of KIND_LAYOUT) server.setFile(`/r2/${file}`, fs.readFileSync(path.join(r2.dir, file)))
  return r2
}

/** Runs `body` against an installed host and asserts the active state is byte-identical afterwards. */
async function leavesHostAlone(h: Host, body: () => Promise<unknown>): Promise<void> {
  const before = activeState(h.root)
  await body()
  assert.equal(activeState(h.root), before, 'the active release, links, rendered files and state.json are unchanged')
  assert.is(fs.readlinkSync(path.join(h.root, RELEASES, 'current')), 'r1')
}

/** A process to hold a lock, and its start time as the lock records it (field 22 of /proc/<pid>/stat). */
function holder(): { child: ChildProcess; pid: number; startTime: string } {
  const child = spawn('sleep', ['30'], { stdio: 'ignore' })
  const pid = child.pid!
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
  const startTime = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]
  return { child, pid, startTime }
}

function writeLock(root: string, h: { pid: number; startTime: string }): string {
  const file = path.join(root, LOCK)
  fs.mkdirSync(path.dirname(file), { recursive: true })
  fs.writeFileSync(file, `${JSON.stringify({ pid: h.pid, start_time: h.startTime, command: 'install' })}\n`)
  return file
}

/** Polls `ready` until it holds, or fails the test after `ms`. */
async function waitFor(ms: number, what: string, ready: () => boolean): Promise<void> {
  for (const end = Date.now() + ms; !ready(); await sleep(20)) if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`)
}

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return
  const gone = new Promise((r) => child.once('exit', r))
  child.kill('SIGKILL')
  await Promise.race([gone, sleep(5_000)])
}

// ---- artifacts that are not what the manifest promises --------------------------------

test('an artifact changed after the manifest was built: exit 1 naming the component, nothing changed', async () => {
  const h = await installedHost()
  const r2 = await nextRelease()
  const file = path.join(r2.dir, 'vmlinux')
  fs.writeFileSync(file, Buffer.from(fs.readFileSync(file).map((b) => b ^ 0x20))) // same size, other bytes
  await leavesHostAlone(h, async () => failsWith(await install(h.root, r2.manifest), 1, /kernel/, /sha256/))
  assert.not.ok(fs.existsSync(path.join(h.root, RELEASES, 'r2')), 'r2 was not sealed')
})

test('an artifact shorter than declared: exit 1 naming the component and both sizes', async () => {
  const h = await installedHost()
  const r2 = await nextRelease()
  const file = path.join(r2.dir, 'vmlinux')
  const declared = fs.statSync(file).size
  fs.truncateSync(file, declared - 3)
  await leavesHostAlone(h, async () => failsWith(await install(h.root, r2.manifest), 1, /kernel/, new RegExp(`\\b${declared - 3} bytes`), new RegExp(`\\b${declared}\\b`)))
  assert.not.ok(fs.existsSync(path.join(h.root, RELEASES, 'r2')))
})

test('an artifact longer than declared: exit 1 naming the component, reading stops past the declared size', async () => {
  const h = await installedHost()
  const r2 = await nextRelease()
  fs.appendFileSync(path.join(r2.dir, 'vmlinux'), 'one more line\n')
  await leavesHostAlone(h, async () => failsWith(await install(h.root, r2.manifest), 1, /kernel/, /more bytes than the manifest declares/))
  assert.not.ok(fs.existsSync(path.join(h.root, RELEASES, 'r2')))
})

test('a server sending more bytes than declared is cut off: exit 1 naming the component', async () => {
  const h = await installedHost()
  await withServer(async (server) => {
    const r2 = await servedNextRelease(server)
    server.setFault('/r2/vmlinux', 'extra-bytes')
    await leavesHostAlone(h, async () => failsWith(await install(h.root, r2.manifest, '--allow-http'), 1, /kernel/, /more bytes than the manifest declares/))
    assert.ok(server.bytesSent('/r2/vmlinux') <= fs.statSync(path.join(r2.dir, 'vmlinux')).size + 64 * 1024, 'the client stopped reading near the declared size')
  })
})

test('a server that never stops sending is cut off at the declared size', async () => {
  const h = await installedHost()
  await withServer(async (server) => {
    const r2 = await servedNextRelease(server)
    server.setFault('/r2/vmlinux', 'endless')
    await leavesHostAlone(h, async () => failsWith(await install(h.root, r2.manifest, '--allow-http'), 1, /kernel/, /more bytes than the manifest declares/))
    assert.ok(server.bytesSent('/r2/vmlinux') < 16 * 1024 * 1024, `the client hung up early (${server.bytesSent('/r2/vmlinux')} bytes sent)`)
  })
})

test('a 404 for a required component: exit 1 with the URL in the message', async () => {
  const h = await installedHost()
  await withServer(async (server) => {
    const r2 = await servedNextRelease(server)
    server.setFault('/r2/vmlinux', '404')
    const url = server.url('/r2/vmlinux')
    await leavesHostAlone(h, async () => failsWith(await install(h.root, r2.manifest, '--allow-http'), 1, /kernel/, new RegExp(url.replace(/[.:/]/g, '\\$&')), /404/))
  })
})

test('a connection reset mid-body every time: gives up after bounded retries with a clear error', async () => {
  const h = await installedHost()
  await withServer(async (server) => {
    const r2 = await servedNextRelease(server, { vmlinux: Buffer.alloc(1024 * 1024, 1) })
    server.setFault('/r2/vmlinux', 'reset')
    const started = Date.now()
    await leavesHostAlone(h, async () =>
      failsWith(await runCli(['install', '--manifest', r2.manifest, '--root', h.root, '--allow-http', '--stall-timeout', '2'], { timeoutMs: 45_000 }), 1, /kernel/, /gave up after \d+ attempts/),
    )
    const attempts = server.requests.filter((q) => q.path === '/r2/vmlinux').length
    assert.ok(attempts > 1 && attempts <= 10, `retried a bounded number of times (${attempts} requests)`)
    assert.ok(Date.now() - started < 40_000)
  })
})

// ---- paths on the host that the tool must not write through ---------------------------

test('a symlink planted at releases/.staging pointing outside the root: exit 1 naming it, nothing written outside', async () => {
  const h = await installedHost()
  const outside = tempDir('outside')
  const staging = path.join(h.root, RELEASES, '.staging')
  fs.symlinkSync(outside, staging)
  const r2 = await nextRelease()
  await leavesHostAlone(h, async () => failsWith(await install(h.root, r2.manifest), 1, /\.staging/, /symlink/))
  assert.equal(fs.readdirSync(outside), [], 'nothing was written through the link')
  assert.is(fs.readlinkSync(staging), outside, 'the planted link is left for the operator to inspect')
})

test('a symlink planted at var/ pointing outside the root: exit 1 naming it, nothing written outside (not even the lock)', async () => {
  const h = await installedHost()
  const outside = tempDir('outside')
  const varDir = path.join(h.root, 'var')
  fs.renameSync(varDir, path.join(h.root, 'var.real'))
  fs.symlinkSync(outside, varDir)
  const r2 = await nextRelease()
  const before = activeState(h.root)
  failsWith(await install(h.root, r2.manifest), 1, /\/var\b/, /symlink/)
  assert.equal(activeState(h.root), before)
  assert.equal(fs.readdirSync(outside), [], 'nothing was written through the link')
})

test('a symlink planted at opt/nullspace/bin (a compatibility link directory) pointing outside: exit 1, no link made outside', async () => {
  const rel = await buildRelease()
  const root = tempDir('root')
  const outside = tempDir('outside')
  fs.mkdirSync(path.join(root, 'opt/nullspace'), { recursive: true })
  fs.symlinkSync(outside, path.join(root, 'opt/nullspace/bin'))
  const before = activeState(root)
  failsWith(await install(root, rel.manifest), 1, /opt\/nullspace\/bin/, /symlink/)
  assert.equal(activeState(root), before)
  assert.equal(fs.readdirSync(outside), [], 'no firecracker, jailer or nullspace-host link appeared outside the root')
})

test('a regular file at releases/current: exit 1 naming it', async () => {
  const rel = await buildRelease()
  const root = tempDir('root')
  fs.mkdirSync(path.join(root, RELEASES), { recursive: true })
  fs.writeFileSync(path.join(root, RELEASES, 'current'), 'not a link\n')
  const before = activeState(root)
  failsWith(await install(root, rel.manifest), 1, /releases\/current/)
  assert.equal(activeState(root), before)
})

test('a regular file at an active_path (opt/nullspace/nullspace-api): exit 1 naming it', async () => {
  const rel = await buildRelease()
  const root = tempDir('root')
  fs.mkdirSync(path.join(root, 'opt/nullspace'), { recursive: true })
  fs.writeFileSync(path.join(root, 'opt/nullspace/nullspace-api'), '#!/bin/sh\n')
  const before = activeState(root)
  failsWith(await install(root, rel.manifest), 1, /\/opt\/nullspace\/nullspace-api/)
  assert.equal(activeState(root), before)
  assert.not.ok(fs.existsSync(path.join(root, RELEASES, 'current')))
})

// ---- a root the tool cannot write --------------------------------------------------------

/** Whether this sandbox lets us make a read-only bind mount (in a private mount namespace). */
function readOnlyMountWorks(): boolean {
  const dir = tempDir('probe')
  const r = spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', 'mount --bind "$D" "$D" && mount -o remount,ro,bind "$D" "$D" && ! touch "$D/x" 2>/dev/null'], { env: { ...process.env, D: dir }, timeout: 10_000 })
  return r.status === 0 && !fs.existsSync(path.join(dir, 'x'))
}

test('a read-only root: exit 1 with one line, no stack trace, nothing changed', async () => {
  const h = await installedHost()
  const r2 = await nextRelease()
  await leavesHostAlone(h, async () => {
    if (readOnlyMountWorks()) {
      // The root is bind-mounted read-only in a mount namespace private to this one command.
      const script = 'mount --bind "$R" "$R" && mount -o remount,ro,bind "$R" "$R" && exec "$@"'
      const r = await runProcess('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script, 'sh', process.execPath, CLI, 'install', '--manifest', r2.manifest, '--root', h.root], { env: { R: h.root } })
      failsWith(r, 1, /(read-only|EROFS)/i)
    } else {
      // No mounts here: an unprivileged user on a root-owned 0755 tree cannot write it either.
      console.log('  (read-only mount not permitted: running the CLI as uid 65534 on a root-owned tree instead)')
      const r = await runProcess('setpriv', [...NOBODY, process.execPath, CLI, 'install', '--manifest', r2.manifest, '--root', h.root])
      failsWith(r, 1, /(permission|EACCES|root)/i)
    }
  })
})

test('a system error after the switch names its step, says the new release is active, and the rerun finishes', async () => {
  const h = await installedHost()
  const r2 = await nextRelease()
  // uid 65534 may write the whole root but /etc/nullspace: the install gets past its switch and fails to render.
  spawnSync('chown', ['-R', '65534:65534', h.root])
  fs.chownSync(h.root, 0, 0)
  fs.chownSync(path.join(h.root, 'etc/nullspace'), 0, 0)
  const r = await runProcess('setpriv', [...NOBODY, process.execPath, CLI, 'install', '--manifest', r2.manifest, '--root', h.root])
  failsWith(r, 1, /render:\/etc\/nullspace\/appliance\.env: EACCES: permission denied/, /; release r2 is active; run the same command again to finish/)
  assert.is(fs.readlinkSync(path.join(h.root, RELEASES, 'current')), 'r2')
  const again = await install(h.root, r2.manifest)
  assert.is(again.code, 0, `the rerun as root: ${again.stderr}`)
  assert.match(fs.readFileSync(path.join(h.root, 'etc/nullspace/appliance.env'), 'utf8'), /r2/)
  const doctor = await runCli(['doctor', '--root', h.root])
  assert.is(doctor.code, 0, doctor.stdout)
})

// ---- flags and manifests -----------------------------------------------------------------

test('--root that does not exist is a usage error (exit 64)', async () => {
  const rel = await buildRelease()
  const missing = path.join(tempDir('root'), 'no-such-dir')
  failsWith(await install(missing, rel.manifest), 64, /--root/, /no-such-dir/)
  assert.not.ok(fs.existsSync(missing), 'the root is not created')
})

test('--root that is a file is a usage error (exit 64)', async () => {
  const rel = await buildRelease()
  const file = path.join(tempDir('root'), 'a-file')
  fs.writeFileSync(file, 'x')
  failsWith(await install(file, rel.manifest), 64, /--root/, /not a directory/)
})

test('a manifest path that does not exist: exit 65 naming it', async () => {
  const root = tempDir('root')
  const missing = path.join(tempDir('media'), 'manifest.json')
  failsWith(await install(root, missing), 65, new RegExp(missing.replace(/[.]/g, '\\.')))
  assert.not.ok(fs.existsSync(path.join(root, 'opt')), 'nothing was written under opt/')
})

test('a manifest the user cannot read (0600, owned by root, run as uid 65534): exit 65', async () => {
  const rel = await buildRelease()
  fs.chmodSync(rel.manifest, 0o600)
  // A root the unprivileged user may write, so the lock is not what stops it.
  const root = tempDir('root')
  fs.chownSync(root, 65534, 65534)
  const r = await runProcess('setpriv', [...NOBODY, process.execPath, CLI, 'install', '--manifest', rel.manifest, '--root', root])
  failsWith(r, 65, /manifest/, /permission denied/)
  assert.not.ok(fs.existsSync(path.join(root, 'opt')))
})

test('a release id already sealed with another manifest: exit 65, a release id names one manifest forever', async () => {
  const h = await installedHost()
  const impostor = await buildRelease({ releaseId: 'r1', version: '0.1.0', contents: contents('other bytes') })
  await leavesHostAlone(h, async () => failsWith(await install(h.root, impostor.manifest), 65, /r1/, /already sealed/))
})

// ---- the host lock -----------------------------------------------------------------------

test('a lock held by a live process: install exits 75 (EX_TEMPFAIL) at once naming its pid', async () => {
  const h = await installedHost()
  const r2 = await nextRelease()
  const live = holder()
  try {
    const lock = writeLock(h.root, live)
    const held = fs.readFileSync(lock)
    await leavesHostAlone(h, async () => failsWith(await install(h.root, r2.manifest), 75, new RegExp(`pid ${live.pid}\\b`), /--lock-timeout/))
    assert.equal(fs.readFileSync(lock), held, "the holder's lock is left alone")
  } finally {
    await stop(live.child)
  }
})

test('a lock whose holder is gone is taken over', async () => {
  const h = await installedHost()
  const r2 = await nextRelease()
  const dead = holder()
  await stop(dead.child)
  const lock = writeLock(h.root, dead)
  const r = await install(h.root, r2.manifest)
  assert.is(r.code, 0, r.stderr)
  assert.is(fs.readlinkSync(path.join(h.root, RELEASES, 'current')), 'r2')
  assert.not.ok(fs.existsSync(lock), 'the lock is released afterwards')
})

test('--lock-timeout 3 waits for a live holder and proceeds once it lets go after 1 s', async () => {
  const h = await installedHost()
  const r2 = await nextRelease()
  const live = holder()
  try {
    const lock = writeLock(h.root, live)
    const running = runCli(['install', '--manifest', r2.manifest, '--root', h.root, '--lock-timeout', '3'], { timeoutMs: 30_000 })
    running.catch(() => undefined) // awaited below; this only keeps an early rejection from being unhandled
    // The waiting command keeps its own candidate lock (lock.<pid>.new) beside the held one.
    const stateDir = path.dirname(lock)
    await waitFor(20_000, 'the install to start waiting for the lock', () => fs.readdirSync(stateDir).some((n) => /^lock\.\d+\.new$/.test(n)))
    await sleep(1_000)
    assert.ok(fs.existsSync(lock), 'the holder still has its lock after 1 s')
    fs.rmSync(lock)
    const r = await running
    assert.is(r.code, 0, r.stderr)
    assert.is(fs.readlinkSync(path.join(h.root, RELEASES, 'current')), 'r2')
    assert.not.ok(fs.existsSync(lock), 'and it released the lock it took')
  } finally {
    await stop(live.child)
  }
})

// ---- the disk ------------------------------------------------------------------------------

test('not enough free space: exit 1 naming the bytes needed and free, before anything is fetched', async () => {
  const root = tempDir('root')
  // A small filesystem of its own: an 8 MiB tmpfs mounted as the root.
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=8m,mode=0755', 'tmpfs', root], { timeout: 10_000 }).status === 0
  if (!mounted) {
    console.log('  (skipped: mounting a small tmpfs is not permitted here, and no other honest way to fill a disk exists in a test)')
    return
  }
  try {
    const r1 = await buildRelease({ releaseId: 'r1', contents: contents('v1') })
    const ok = await install(root, r1.manifest)
    assert.is(ok.code, 0, ok.stderr)
    const big = Buffer.alloc(16 * 1024 * 1024, 7)
    const r2 = await nextRelease({ 'rootfs.ext4': big })
    const h = { root, r1 }
    await leavesHostAlone(h, async () => failsWith(await install(root, r2.manifest), 1, /needs \d+ bytes/, /\d+ are free/))
    assert.not.ok(fs.existsSync(path.join(root, RELEASES, '.staging/parts')) && fs.readdirSync(path.join(root, RELEASES, '.staging/parts')).length > 0, 'no part was started')
  } finally {
    spawnSync('umount', [root], { timeout: 10_000 })
  }
})

test('not enough free space for a delta upgrade: the whole image counts, not only the chunks fetched', async () => {
  const root = tempDir('root')
  const MiB = 1024 * 1024
  // Room for the first 24 MiB image, not for a second one beside it.
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=36m,mode=0755', 'tmpfs', root], { timeout: 10_000 }).status === 0
  if (!mounted) {
    console.log('  (skipped: mounting a small tmpfs is not permitted here)')
    return
  }
  const server = await startServer()
  try {
    const image = Buffer.alloc(24 * MiB)
    for (let i = 0; i < image.length; i += 4096) image.writeUInt32LE(i, i) // distinct chunks
    const next = Buffer.from(image)
    next.fill(0xee, 5 * MiB, 5 * MiB + 4096) // one chunk changed
    const served = async (releaseId: string, version: string, rootfs: Buffer) => {
      const rel = await buildRelease({ releaseId, version, contents: { ...contents(releaseId), 'rootfs.ext4': rootfs }, extra: ['--base-url', server.url(`/${releaseId}`)] })
      for (const name of fs.readdirSync(rel.dir)) server.setFile(`/${releaseId}/${name}`, fs.readFileSync(path.join(rel.dir, name)))
      return rel
    }
    const r1 = await served('r1', '0.1.0', image)
    const r2 = await served('r2', '0.2.0', next)
    const first = await install(root, r1.manifest, '--allow-http')
    assert.is(first.code, 0, first.stderr)
    const plan = await runCli(['plan', '--manifest', r2.manifest, '--root', root, '--allow-http', '--json'])
    const delta = JSON.parse(plan.stdout).steps.find((s: { action: string }) => s.action === 'delta')
    assert.ok(delta, `the rootfs is planned as a delta:\n${plan.stdout}${plan.stderr}`)
    await leavesHostAlone({ root, r1 }, async () =>
      failsWith(await install(root, r2.manifest, '--allow-http'), 1, /needs \d+ bytes/, /\d+ are free/),
    )
  } finally {
    await server.close()
    spawnSync('umount', [root], { timeout: 10_000 })
  }
})

test.run()
