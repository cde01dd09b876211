// Whole large files hashed on the other core (issue 18): `doctor --deep` and the `--deep`
// rehash of the state reader. The digests must be exactly sha256 of the bytes, errors keep
// their errno codes, two large files hash side by side, and a changed byte is still found.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fs from 'node:fs'
import path from 'node:path'
import { createHash } from 'node:crypto'
import { hashFileOffThread, THREAD_MIN_BYTES } from '../lib/hash-thread.js'
import { buildRelease, noise } from './helpers/artifacts.js'
import { json, runCli } from './helpers/cli.js'
import { RELEASES } from './helpers/hosts.js'
import { tempDir } from './helpers/tmp.js'

const MiB = 1024 * 1024
/** Above the thread threshold, and not a whole number of 1 MiB reads. */
const LARGE = THREAD_MIN_BYTES + 5 * MiB + 17
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex')
const large = noise(LARGE, 7)

/** The main thread's CPU time (user+sys) in ms, from its own /proc task entry (clock ticks of 10 ms). */
function mainThreadCpuMs(): number {
  const fields = fs.readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return (Number(fields[11]) + Number(fields[12])) * 10
}

/** The main thread's share of the process's CPU time while `fn` ran: CPU time, so a busy machine does not move it. */
async function mainThreadShare(fn: () => Promise<unknown>): Promise<number> {
  const main = mainThreadCpuMs()
  const all = process.cpuUsage()
  await fn()
  const used = process.cpuUsage(all)
  return (mainThreadCpuMs() - main) / ((used.user + used.system) / 1000)
}

test('sha256 and size of files below, at and above the thread threshold, several at once', async () => {
  const dir = tempDir('hash-thread')
  const sizes = [0, 1, THREAD_MIN_BYTES - 1, THREAD_MIN_BYTES, LARGE, LARGE + MiB]
  const files = sizes.map((n, i) => {
    const f = path.join(dir, `f${i}`)
    fs.writeFileSync(f, large.length >= n ? large.subarray(0, n) : Buffer.concat([large, noise(n - large.length, 3)]))
    return f
  })
  const digests = await Promise.all(files.map((f) => hashFileOffThread(f)))
  digests.forEach((d, i) => assert.equal(d, { sha256: sha(fs.readFileSync(files[i])), size: sizes[i] }, `file of ${sizes[i]} bytes`))
})

test('a large file: progress adds up to its size and the main thread stays mostly idle', async () => {
  const f = path.join(tempDir('hash-thread'), 'large')
  fs.writeFileSync(f, Buffer.concat([large, large, large]))
  let reported = 0
  let d: { sha256: string; size: number } | undefined
  const share = await mainThreadShare(async () => (d = await hashFileOffThread(f, (n) => (reported += n))))
  assert.equal(d, { sha256: sha(fs.readFileSync(f)), size: 3 * LARGE })
  assert.is(reported, 3 * LARGE)
  // On the main thread this share is 0.6-0.9 (the hash is nearly all of the CPU).
  assert.ok(share < 0.35, `the main thread used ${(share * 100).toFixed(0)}% of the CPU of the hash (hashed on the main thread?)`)
})

test('two large files hash side by side: the second reports progress before the first is done', async () => {
  const dir = tempDir('hash-thread')
  const [a, b] = ['a', 'b'].map((n, i) => {
    const f = path.join(dir, n)
    fs.writeFileSync(f, Buffer.concat([large, noise(2 * LARGE, 20 + i)]))
    return f
  })
  const events: string[] = []
  const [da, db] = await Promise.all([
    hashFileOffThread(a, () => events.push('a progress')).then((d) => (events.push('a done'), d)),
    hashFileOffThread(b, () => events.push('b progress')).then((d) => (events.push('b done'), d)),
  ])
  assert.is(da.sha256, sha(fs.readFileSync(a)))
  assert.is(db.sha256, sha(fs.readFileSync(b)))
  const first = events.indexOf('a done') < events.indexOf('b done') ? 'a' : 'b'
  const other = first === 'a' ? 'b' : 'a'
  assert.ok(events.indexOf(`${other} progress`) < events.indexOf(`${first} done`), `one after the other: ${events.join(', ')}`)
})

test('a missing path fails with ENOENT, a directory with EISDIR, and later hashes still run', async () => {
  const dir = tempDir('hash-thread')
  await hashFileOffThread(path.join(dir, 'absent')).then(
    () => assert.unreachable('a missing file resolved'),
    (e: NodeJS.ErrnoException) => assert.is(e.code, 'ENOENT'),
  )
  const d = path.join(dir, 'dir-not-file')
  fs.mkdirSync(d)
  await hashFileOffThread(d).then(
    () => assert.unreachable('a directory resolved'),
    (e: NodeJS.ErrnoException) => assert.is(e.code, 'EISDIR', String(e)),
  )
  const ok = path.join(dir, 'ok')
  fs.writeFileSync(ok, large)
  assert.is((await hashFileOffThread(ok)).sha256, sha(large))
})

test('doctor --deep on two large images: both verified; one changed byte in one is a mismatch of that one only; install --deep repairs it', async () => {
  const rel = await buildRelease({ releaseId: 'two-images', contents: { 'rootfs.ext4': large, 'template.ext4': noise(LARGE, 11) } })
  const root = tempDir('root')
  const inst = await runCli(['install', '--manifest', rel.manifest, '--root', root])
  assert.is(inst.code, 0, inst.stderr)
  const deep = async () => json<{ ok: boolean; components: { name: string; status: string; evidence: string }[] }>(await runCli(['doctor', '--deep', '--json', '--root', root]))
  const clean = await deep()
  assert.is(clean.ok, true)
  for (const c of clean.components) assert.equal([c.name, c.status, c.evidence], [c.name, 'ok', 'sha256'])

  const file = path.join(root, RELEASES, 'two-images', 'artifacts', 'template.ext4')
  const fd = fs.openSync(file, 'r+')
  const one = Buffer.alloc(1)
  fs.readSync(fd, one, 0, 1, LARGE - 100)
  one[0] ^= 0x80
  fs.writeSync(fd, one, 0, 1, LARGE - 100)
  fs.closeSync(fd)
  const after = await deep()
  assert.is(after.ok, false)
  const status = Object.fromEntries(after.components.map((c) => [c.name, c.status]))
  assert.is(status.template, 'mismatch')
  assert.is(status.rootfs, 'ok')

  const repair = await runCli(['install', '--manifest', rel.manifest, '--root', root, '--deep'])
  assert.is(repair.code, 0, repair.stderr)
  assert.ok((await deep()).ok, 'install --deep rehashed both images and replaced the changed one')
})

test.run()
