// Delta upgrades (issue 9): a large image that changed in a few places is assembled from the
// chunks the host already has plus ranges fetched for the rest, verified whole like any
// download; every failure falls back to a full, verified download.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fs from 'node:fs'
import path from 'node:path'
import { execFileSync } from 'node:child_process'
import { json, runCli, type CliResult } from './helpers/cli.js'
import { tempDir } from './helpers/tmp.js'
import { buildRelease, buildServedRelease, noise } from './helpers/artifacts.js'
import { startServer, type TestServer } from './helpers/server.js'
import { RELEASES, deepDoctorProblems, leftovers } from './helpers/hosts.js'
import { createHash } from 'node:crypto'
import { FetchedChunks } from '../lib/chunks/assemble.js'
import { Chunker, DEFAULT_CDC } from '../lib/chunks/cdc.js'
import { type ChunkIndex, chunkHash, decodeIndex, encodeIndex, makeIndex, MAX_CHUNK_SIZE } from '../lib/chunks/format.js'

const MiB = 1024 * 1024
const SIZE = 24 * MiB
const CHANGED = [[3 * MiB, 256 * 1024], [11 * MiB, 512 * 1024], [20 * MiB + 4096, 256 * 1024]] as const
const changedBytes = CHANGED.reduce((n, [, len]) => n + len, 0)

const oldImage = noise(SIZE, 7)
function newImage(): Buffer {
  const img = Buffer.from(oldImage)
  CHANGED.forEach(([at, len], i) => noise(len, 100 + i).copy(img, at))
  return img
}

const cli = (args: string[], root: string, env: NodeJS.ProcessEnv = {}) => runCli([...args, '--root', root, '--allow-http', '--skip-ingress-smoke'], { env, timeoutMs: 90_000 })
const install = (m: string, root: string) => runCli(['install', '--manifest', m, '--root', root, '--allow-http', '--quiet'], { timeoutMs: 90_000 })
const ok = (r: CliResult, what: string) => assert.is(r.code, 0, `${what}: exit ${r.code} ${r.signal ?? ''}\n${r.stderr}`)
const sealOf = (root: string, id: string) => JSON.parse(fs.readFileSync(path.join(root, RELEASES, id, '.nullspace-release.json'), 'utf8'))
const rootfsObtained = (root: string, id: string) => sealOf(root, id).components.find((c: { kind: string }) => c.kind === 'rootfs').obtained

/**
 * Content-defined chunks around a change are fetched whole: each changed stretch costs at most
 * one chunk (64 KiB at most) beyond each of its ends.
 */
function assertNearChanged(fetched: number, changed: number, stretches: number): void {
  assert.ok(fetched >= changed && fetched <= changed + stretches * 2 * 64 * 1024, `fetched ${fetched} bytes for ${changed} changed in ${stretches} stretches`)
}

let server: TestServer
test.before(async () => {
  server = await startServer()
})
test.after(() => server.close())

async function servedPair(tag: string) {
  const a = await buildServedRelease(server, { releaseId: `${tag}-1`, version: '0.1.0', contents: { 'rootfs.ext4': oldImage } })
  const b = await buildServedRelease(server, { releaseId: `${tag}-2`, version: '0.2.0', contents: { 'rootfs.ext4': newImage() } })
  return { a, b }
}

test('manifest build writes a chunk index beside artifacts of 16 MiB or more, and --no-chunk-index does not', async () => {
  const r = await buildRelease({ releaseId: 'ix-1', contents: { 'rootfs.ext4': oldImage } })
  const m = JSON.parse(fs.readFileSync(r.manifest, 'utf8'))
  const rootfs = m.components.find((c: { kind: string }) => c.kind === 'rootfs')
  assert.ok(fs.existsSync(path.join(r.dir, 'rootfs.ext4.chunks')))
  assert.is(rootfs.chunks.chunk_size, 16384, 'format 2: the average chunk')
  assert.is(fs.readFileSync(path.join(r.dir, 'rootfs.ext4.chunks')).readUInt32LE(8), 2, 'format 2')
  assert.is(rootfs.chunks.size, fs.statSync(path.join(r.dir, 'rootfs.ext4.chunks')).size)
  assert.not.ok(m.components.find((c: { kind: string }) => c.kind === 'api').chunks, 'a small artifact has no index')
  const off = await buildRelease({ releaseId: 'ix-2', contents: { 'rootfs.ext4': oldImage }, extra: ['--no-chunk-index'] })
  assert.not.ok(fs.existsSync(path.join(off.dir, 'rootfs.ext4.chunks')))
  assert.not.ok(JSON.parse(fs.readFileSync(off.manifest, 'utf8')).components.some((c: { chunks?: unknown }) => c.chunks))
})

test('delta upgrade over loopback HTTP fetches only the changed chunks, with Range requests', async () => {
  const { a, b } = await servedPair('http')
  const root = tempDir('delta')
  ok(await install(a.manifest, root), 'install')
  const plan = json(await cli(['upgrade', '--dry-run', '--json', '--manifest', b.manifest], root))
  const step = plan.steps.find((s: { action: string }) => s.action === 'delta')
  assert.ok(step, 'the plan shows a delta step')
  assertNearChanged(step.bytes, changedBytes, CHANGED.length)
  assert.is(step.reused_bytes, SIZE - step.bytes, 'bytes reused')
  const before = server.bytesSent(`/${b.releaseId}/rootfs.ext4`)
  ok(await cli(['upgrade', '--quiet', '--manifest', b.manifest], root), 'upgrade')
  const sent = server.bytesSent(`/${b.releaseId}/rootfs.ext4`) - before
  assert.is(sent, step.bytes, `rootfs bytes sent: ${sent}, as the plan said`)
  const ranges = server.requests.filter((r) => r.path === `/${b.releaseId}/rootfs.ext4` && r.range)
  assert.is(ranges.length, CHANGED.length, 'one coalesced Range request per changed stretch')
  assert.equal(rootfsObtained(root, b.releaseId), { how: 'delta', bytes_fetched: step.bytes, bytes_reused: SIZE - step.bytes })
  assert.equal(await deepDoctorProblems(root), [])
  assert.ok(fs.existsSync(path.join(root, RELEASES, b.releaseId, '.nullspace-chunks/rootfs.chunks')), 'the index is kept for the next delta')
})

test('delta upgrade over file:// reads only the changed ranges of the new image', async () => {
  const a = await buildRelease({ releaseId: 'file-1', version: '0.1.0', contents: { 'rootfs.ext4': oldImage } })
  const b = await buildRelease({ releaseId: 'file-2', version: '0.2.0', contents: { 'rootfs.ext4': newImage() } })
  const root = tempDir('delta')
  ok(await install(a.manifest, root), 'install')
  ok(await cli(['upgrade', '--quiet', '--manifest', b.manifest], root), 'upgrade')
  const got = rootfsObtained(root, 'file-2')
  assert.is(got.how, 'delta')
  assertNearChanged(got.bytes_fetched, changedBytes, CHANGED.length)
  assert.is(got.bytes_reused, SIZE - got.bytes_fetched)
  assert.equal(await deepDoctorProblems(root), [])
})

test('a server that ignores Range: the delta falls back to a full, verified download', async () => {
  const { a, b } = await servedPair('norange')
  const root = tempDir('delta')
  ok(await install(a.manifest, root), 'install')
  server.setFault(`/${b.releaseId}/rootfs.ext4`, 'ignore-range')
  const r = await cli(['upgrade', '--quiet', '--manifest', b.manifest], root)
  ok(r, 'upgrade')
  assert.match(r.stderr, /rootfs: delta failed/)
  assert.is(rootfsObtained(root, b.releaseId).how, 'fetched')
  assert.equal(await deepDoctorProblems(root), [])
})

test('a local chunk that no longer matches its hash: fall back to a full download, never an unverified file', async () => {
  const { a, b } = await servedPair('corrupt')
  const root = tempDir('delta')
  ok(await install(a.manifest, root), 'install')
  // Corrupt the old image in place and keep its stat, so only the chunk hashes can tell.
  const file = path.join(root, RELEASES, a.releaseId, 'artifacts/rootfs.ext4')
  const stamp = path.join(tempDir('stamp'), 'mtime')
  fs.writeFileSync(stamp, '')
  execFileSync('touch', ['-m', '-r', file, stamp]) // nanosecond mtime; utimes() would round it
  fs.chmodSync(file, 0o644)
  const fd = fs.openSync(file, 'r+')
  fs.writeSync(fd, Buffer.alloc(4096, 0xee), 0, 4096, 6 * MiB)
  fs.closeSync(fd)
  fs.chmodSync(file, 0o444)
  execFileSync('touch', ['-m', '-r', stamp, file])
  const r = await cli(['upgrade', '--quiet', '--manifest', b.manifest], root)
  ok(r, 'upgrade')
  assert.match(r.stderr, /rootfs: delta failed .*sha256/, r.stderr)
  assert.is(rootfsObtained(root, b.releaseId).how, 'fetched')
  const problems = await runCli(['doctor', '--deep', '--json', '--root', root])
  assert.ok(json(problems).components.every((c: { status: string }) => c.status === 'ok'), 'the new release is intact')
})

test('an index that does not match the manifest: no delta, a full download', async () => {
  const { a, b } = await servedPair('badindex')
  const root = tempDir('delta')
  ok(await install(a.manifest, root), 'install')
  const ix = Buffer.from(fs.readFileSync(path.join(b.dir, 'rootfs.ext4.chunks')))
  ix[ix.length - 1] ^= 0xff
  server.setFile(`/${b.releaseId}/rootfs.ext4.chunks`, ix)
  const plan = await cli(['upgrade', '--dry-run', '--manifest', b.manifest], root)
  assert.match(plan.stdout, /no delta, the chunk index could not be read/)
  const before = server.bytesSent(`/${b.releaseId}/rootfs.ext4`)
  const r = await cli(['upgrade', '--quiet', '--manifest', b.manifest], root)
  ok(r, 'upgrade')
  assert.is(server.bytesSent(`/${b.releaseId}/rootfs.ext4`) - before, SIZE, 'the image is fetched whole')
  assert.match(r.stderr, /rootfs\.chunks.*sealed without this chunk index/)
  assert.is(rootfsObtained(root, b.releaseId).how, 'fetched')
  assert.ok(sealOf(root, b.releaseId).components.some((c: { name: string; status: string }) => c.name === 'rootfs.chunks' && c.status === 'skipped'))
  assert.equal(await deepDoctorProblems(root), [])
})

test('a delta killed mid-assembly converges on rerun', async () => {
  const { a, b } = await servedPair('crash')
  const root = tempDir('delta')
  ok(await install(a.manifest, root), 'install')
  const first = await cli(['upgrade', '--quiet', '--manifest', b.manifest], root, { NULLSPACE_TEST_CRASH_AFTER_BYTES: String(300 * 1024) })
  assert.is(first.signal, 'SIGKILL')
  assert.is(fs.readlinkSync(path.join(root, RELEASES, 'current')), a.releaseId)
  ok(await cli(['upgrade', '--quiet', '--manifest', b.manifest], root), 'rerun')
  assert.is(fs.readlinkSync(path.join(root, RELEASES, 'current')), b.releaseId)
  assert.equal(await deepDoctorProblems(root), [])
  assert.equal(leftovers(root), [])
})

/** Serves releases A (oldImage) and B (`next`) and upgrades a fresh host from A to B; returns what the plan and the server saw. */
async function upgradeTo(tag: string, next: Buffer, fault?: Parameters<TestServer['setFault']>) {
  const a = await buildServedRelease(server, { releaseId: `${tag}-1`, version: '0.1.0', contents: { 'rootfs.ext4': oldImage } })
  const b = await buildServedRelease(server, { releaseId: `${tag}-2`, version: '0.2.0', contents: { 'rootfs.ext4': next } })
  const root = tempDir('delta')
  ok(await install(a.manifest, root), 'install')
  const plan = json(await cli(['upgrade', '--dry-run', '--json', '--manifest', b.manifest], root))
  const step = plan.steps.find((s: { action: string }) => s.action === 'delta')
  assert.ok(step, 'the plan shows a delta step')
  if (fault) server.setFault(...fault)
  const path_ = `/${b.releaseId}/rootfs.ext4`
  const before = server.bytesSent(path_)
  const r = await cli(['upgrade', '--quiet', '--manifest', b.manifest], root)
  if (fault) server.setFault(fault[0], null)
  ok(r, 'upgrade')
  const sent = server.bytesSent(path_) - before
  assert.equal(await deepDoctorProblems(root), [])
  return { root, a, b, step, sent, stderr: r.stderr, obtained: rootfsObtained(root, b.releaseId) }
}

test('an insertion of 100 bytes mid-image moves one or two chunks, not the rest of the image', async () => {
  const mid = SIZE / 2 + 12345
  const next = Buffer.concat([oldImage.subarray(0, mid), noise(100, 21), oldImage.subarray(mid)])
  const u = await upgradeTo('insert', next)
  assert.is(u.obtained.how, 'delta')
  assert.ok(u.step.bytes <= 2 * 64 * 1024 + 100, `the plan fetches ${u.step.bytes} bytes`)
  assert.is(u.sent, u.step.bytes, 'the server sent what the plan said')
  assert.is(u.step.reused_bytes, next.length - u.step.bytes)
})

test('a deletion of 1000 bytes mid-image moves one or two chunks', async () => {
  const mid = SIZE / 3
  const next = Buffer.concat([oldImage.subarray(0, mid), oldImage.subarray(mid + 1000)])
  const u = await upgradeTo('delete', next)
  assert.is(u.obtained.how, 'delta')
  assert.ok(u.step.bytes <= 2 * 64 * 1024, `the plan fetches ${u.step.bytes} bytes`)
  assert.is(u.sent, u.step.bytes)
})

/** A block image as `mkfs -d` lays one out: each file's data from a 4 KiB boundary, its last block padded with zeros. */
function blockImage(files: readonly Buffer[]): Buffer {
  const blocks = files.map((f) => Buffer.concat([f, Buffer.alloc((4096 - (f.length % 4096)) % 4096)]))
  return Buffer.concat(blocks)
}

/** Bytes of `next` in 4 KiB blocks that `old` has nowhere as a 4 KiB block: what format 1's fixed chunks fetch. */
function fixedBlockDelta(old: Buffer, next: Buffer): number {
  const have = new Set<string>()
  for (let at = 0; at < old.length; at += 4096) have.add(old.toString('latin1', at, at + 4096))
  let missing = 0
  for (let at = 0; at < next.length; at += 4096) if (!have.has(next.toString('latin1', at, at + 4096))) missing += Math.min(4096, next.length - at)
  return missing
}

test('block-aligned moves: files that shift by whole blocks are reused, within 1.1x of what fixed 4 KiB chunks fetch', async () => {
  // 200 files of 40-200 KiB (not block multiples); file 30 is rewritten 20% longer, so every
  // later file moves by whole blocks, as in two `mkfs.ext4 -d` images of the trees.
  const sizes = Array.from({ length: 200 }, (_, i) => 40 * 1024 + ((i * 7919 * 613) % (160 * 1024)) + 1 + (i % 3) * 100)
  const files = sizes.map((n, i) => noise(n, 1000 + i))
  const oldFs = blockImage(files)
  const nextFiles = [...files]
  nextFiles[30] = noise(Math.round(sizes[30] * 1.2), 5000)
  const nextFs = blockImage(nextFiles)
  const a = await buildServedRelease(server, { releaseId: 'blocks-1', version: '0.1.0', contents: { 'rootfs.ext4': oldFs } })
  const b = await buildServedRelease(server, { releaseId: 'blocks-2', version: '0.2.0', contents: { 'rootfs.ext4': nextFs } })
  const root = tempDir('delta')
  ok(await install(a.manifest, root), 'install')
  const before = server.bytesSent(`/${b.releaseId}/rootfs.ext4`)
  ok(await cli(['upgrade', '--quiet', '--manifest', b.manifest], root), 'upgrade')
  const sent = server.bytesSent(`/${b.releaseId}/rootfs.ext4`) - before
  const fixed = fixedBlockDelta(oldFs, nextFs)
  assert.ok(sent <= 1.1 * fixed, `fetched ${sent} bytes; fixed 4 KiB chunks would fetch ${fixed}`)
  assert.is(rootfsObtained(root, b.releaseId).how, 'delta')
  assert.equal(await deepDoctorProblems(root), [])
})

/** Rewrites a built release's rootfs index as format 1 (fixed 4 KiB chunks, 16-byte hashes), as a release built before format 2 carries. */
function asFormat1(r: { dir: string; manifest: string; releaseId: string }, image: Buffer): void {
  const ix = encodeIndex(indexOf(image, 4096))
  fs.writeFileSync(path.join(r.dir, 'rootfs.ext4.chunks'), ix)
  server.setFile(`/${r.releaseId}/rootfs.ext4.chunks`, ix)
  const m = JSON.parse(fs.readFileSync(r.manifest, 'utf8'))
  const rootfs = m.components.find((c: { kind: string }) => c.kind === 'rootfs')
  rootfs.chunks = { ...rootfs.chunks, sha256: createHash('sha256').update(ix).digest('hex'), size: ix.length, chunk_size: 4096 }
  fs.writeFileSync(r.manifest, JSON.stringify(m, null, 2))
}

test('old index format: a host whose release kept a format-1 index upgrades to a format-2 release by delta, and back', async () => {
  const { a, b } = await servedPair('format1')
  asFormat1(a, oldImage)
  const root = tempDir('delta')
  ok(await install(a.manifest, root), 'install')
  const kept = fs.readFileSync(path.join(root, RELEASES, a.releaseId, '.nullspace-chunks/rootfs.chunks'))
  assert.is(kept.readUInt32LE(8), 1, 'the installed release kept a format-1 index')
  ok(await cli(['upgrade', '--quiet', '--manifest', b.manifest], root), 'upgrade to format 2')
  const up = rootfsObtained(root, b.releaseId)
  assert.is(up.how, 'delta', 'the old file is indexed by the new scheme and reused')
  assertNearChanged(up.bytes_fetched, changedBytes, CHANGED.length)
  // And a release built by an older builder (format 1) after a format-2 one: the new index decides.
  const third = newImage()
  noise(256 * 1024, 41).copy(third, 15 * MiB)
  const c = await buildServedRelease(server, { releaseId: 'format1-3', version: '0.3.0', contents: { 'rootfs.ext4': third } })
  asFormat1(c, third)
  ok(await cli(['upgrade', '--quiet', '--manifest', c.manifest], root), 'upgrade to format 1')
  const back = rootfsObtained(root, c.releaseId)
  assert.is(back.how, 'delta')
  assert.is(back.bytes_fetched, changedBytes + 256 * 1024, 'fixed 4 KiB chunks of the stretches that differ from the format-1 release')
  assert.equal(await deepDoctorProblems(root), [])
})

test('a 206 that runs on past the range: the bytes needed are used and the connection closed (at most 110% moved)', async () => {
  const next = Buffer.from(oldImage)
  noise(2 * MiB, 31).copy(next, 8 * MiB)
  const path_ = '/runon-2/rootfs.ext4'
  // The bytes past the range trickle (16 KiB every 50 ms): what the server sent past the range is
  // then what it wrote while the client took its bytes and closed, even on a loaded machine.
  const u = await upgradeTo('runon', next, [path_, 'run-on-range', { dripBytes: 16 * 1024, dripMs: 50 }])
  assert.is(u.obtained.how, 'delta', u.stderr)
  assert.not.match(u.stderr, /delta failed/)
  assert.ok(u.sent <= 1.1 * u.step.bytes, `sent ${u.sent} bytes for ${u.step.bytes} of changed chunks`)
})

test('a 206 that starts elsewhere than asked: the delta falls back to a full, verified download', async () => {
  const { a, b } = await servedPair('wrongstart')
  const root = tempDir('delta')
  ok(await install(a.manifest, root), 'install')
  server.setFault(`/${b.releaseId}/rootfs.ext4`, 'wrong-content-range')
  const r = await cli(['upgrade', '--quiet', '--manifest', b.manifest], root)
  server.setFault(`/${b.releaseId}/rootfs.ext4`, null)
  ok(r, 'upgrade')
  assert.match(r.stderr, /rootfs: delta failed .*did not serve the range/)
  assert.is(rootfsObtained(root, b.releaseId).how, 'fetched')
  assert.equal(await deepDoctorProblems(root), [])
})

/** An index of `data` in memory, as manifest build would write it. */
function indexOf(data: Buffer, chunkSize: number): ChunkIndex {
  const scheme = { format: 1, chunkSize } as const
  const hashes: Buffer[] = []
  const lengths: number[] = []
  for (let at = 0; at < data.length; at += chunkSize) {
    hashes.push(chunkHash(scheme, data.subarray(at, at + chunkSize)))
    lengths.push(Math.min(chunkSize, data.length - at))
  }
  return makeIndex(scheme, data.length, createHash('sha256').update(data).digest('hex'), lengths, Buffer.concat(hashes))
}

/** Feeds `data` to a checker in `piece`-byte pieces, as a socket would; fails past `deadlineMs` instead of running on. */
async function feed(checker: FetchedChunks, data: Buffer, piece: number, deadlineMs: number): Promise<void> {
  const end = Date.now() + deadlineMs
  for (let at = 0; at < data.length; at += piece) {
    await checker.push(data.subarray(at, at + piece))
    if (Date.now() > end) assert.unreachable(`checking ${data.length} bytes in ${piece}-byte pieces took more than ${deadlineMs} ms (at byte ${at}): the work grows with the square of the chunk size`)
  }
  await checker.end()
}

test('fetched bytes are checked in time linear in the chunk size: two 16 MiB chunks arriving in 1 KiB pieces', async () => {
  // A per-piece Buffer.concat copies about chunk_size^2 / (2 * piece) bytes per chunk: 128 GiB
  // here, minutes on any machine; a linear checker copies each byte at most once (well under a
  // second). The deadline sits between the two with a wide margin on both sides.
  const chunkSize = MAX_CHUNK_SIZE
  const data = Buffer.concat([noise(2 * chunkSize, 9), noise(1000, 10)]) // and a short last chunk
  const emitted: Buffer[] = []
  const checker = new FetchedChunks(indexOf(data, chunkSize), 0, async (b) => void emitted.push(Buffer.from(b)), (i) => new Error(`chunk ${i}`))
  await feed(checker, data, 1024, 15_000)
  assert.ok(Buffer.concat(emitted).equals(data), 'every byte emitted once, in order')
})

test('fetched chunks: a changed byte is refused naming its chunk, before that chunk is emitted', async () => {
  const chunkSize = 4096
  const data = noise(10 * chunkSize + 100, 11)
  const index = indexOf(data, chunkSize)
  const bad = Buffer.from(data)
  bad[7 * chunkSize + 5] ^= 1
  // A run that starts at chunk 4, as a Range request of a delta does.
  let emitted = 0
  const checker = new FetchedChunks(index, 4 * chunkSize, async (b) => void (emitted += b.length), (i) => new Error(`chunk ${i} does not match`))
  const refused = await feed(checker, bad.subarray(4 * chunkSize), 3000, 10_000).then(() => null, (e: Error) => e.message)
  assert.match(refused ?? 'accepted', /^chunk 7 does not match$/)
  assert.ok(emitted <= 3 * chunkSize, `only chunks 4 to 6 were emitted (${emitted} bytes)`)
  let whole = 0
  await feed(new FetchedChunks(index, 4 * chunkSize, async (b) => void (whole += b.length), (i) => new Error(`chunk ${i}`)), data.subarray(4 * chunkSize), 3000, 10_000)
  assert.is(whole, data.length - 4 * chunkSize, 'the intact run, short last chunk included')
})

test('a chunk index declaring a chunk size over the 16 MiB maximum is refused when decoded', () => {
  const data = noise(64 * MiB + 1, 12)
  const over = encodeIndex(indexOf(data, 2 * MAX_CHUNK_SIZE))
  assert.is(decodeIndex(over), `chunk index chunk size ${2 * MAX_CHUNK_SIZE} is over the ${MAX_CHUNK_SIZE}-byte maximum`)
  assert.not.type(decodeIndex(encodeIndex(indexOf(data, MAX_CHUNK_SIZE))), 'string', 'the maximum itself is accepted')
})

test('content-defined cuts do not depend on how the stream is split into pieces', () => {
  const data = Buffer.concat([noise(3 * MiB, 51), Buffer.alloc(100_000), noise(MiB, 52)])
  const cutsIn = (piece: number) => {
    const c = new Chunker(DEFAULT_CDC)
    const out: number[] = []
    for (let at = 0; at < data.length; at += piece) c.push(data.subarray(at, at + piece), out)
    out.push(c.end())
    return out
  }
  const whole = cutsIn(data.length)
  assert.is(whole.reduce((a, b) => a + b, 0), data.length)
  assert.ok(whole.every((n, i) => n <= DEFAULT_CDC.max && (n >= DEFAULT_CDC.min || i === whole.length - 1)), 'every chunk within min..max but the last')
  for (const piece of [1, 1000, 65536, 1 << 20]) assert.equal(cutsIn(piece), whole, `pieces of ${piece} bytes`)
})

test('a format-2 index that does not describe its artifact is refused when decoded, naming why', () => {
  const data = noise(MiB, 61)
  const lengths: number[] = []
  const c = new Chunker(DEFAULT_CDC)
  c.push(data, lengths)
  lengths.push(c.end())
  const scheme = { format: 2, cdc: DEFAULT_CDC } as const
  let at = 0
  const hashes = Buffer.concat(lengths.map((n) => chunkHash(scheme, data.subarray(at, (at += n)))))
  const good = encodeIndex(makeIndex(scheme, data.length, createHash('sha256').update(data).digest('hex'), lengths, hashes))
  const ix = decodeIndex(good)
  assert.not.type(ix, 'string')
  assert.is((ix as ChunkIndex).count, lengths.length)
  const sizeOff = Buffer.from(good)
  sizeOff.writeBigUInt64LE(BigInt(data.length + 1), 24)
  assert.is(decodeIndex(sizeOff), 'chunk index lengths do not add up to its artifact size')
  assert.is(decodeIndex(good.subarray(0, good.length - 1)), 'chunk index length does not match its chunk count')
  const badAvg = Buffer.from(good)
  badAvg.writeUInt32LE(10000, 16)
  assert.is(decodeIndex(badAvg), 'chunk index header is malformed')
  const v3 = Buffer.from(good)
  v3.writeUInt32LE(3, 8)
  assert.is(decodeIndex(v3), 'chunk index version 3 is not supported')
})

test('a no-op plan reads no chunk index', async () => {
  const { a } = await servedPair('noop')
  const root = tempDir('delta')
  ok(await install(a.manifest, root), 'install')
  const before = server.requests.length
  const r = await runCli(['plan', '--json', '--manifest', a.manifest, '--root', root, '--allow-http'])
  assert.is(json(r).steps.length, 0)
  assert.is(server.requests.length, before, 'no request at all')
})

test.run()
