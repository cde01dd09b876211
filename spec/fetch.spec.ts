// fetchArtifact against a real HTTP(S) server on 127.0.0.1 and real temp files: downloads,
// copies, resumes, and every way a server or a source can misbehave.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fs from 'node:fs'
import path from 'node:path'
import { createHash, randomBytes } from 'node:crypto'
import { pathToFileURL } from 'node:url'
import { fetchArtifact, FetchError, type FetchRequest, type FetchResult } from '../lib/fetch/index.js'
import { MAX_REDIRECTS, redirectTarget } from '../lib/fetch/client.js'
import { startServer, startTlsServer, type TestServer } from './helpers/server.js'
import { tempDir } from './helpers/tmp.js'
import { runProcess } from './helpers/cli.js'

const MiB = 1024 * 1024
let srv: TestServer

test.before(async () => {
  srv = await startServer()
})
test.after(async () => {
  await srv.close()
})

/** Every test has its own deadline, so a hang fails fast with its name on it. */
function it(name: string, ms: number, fn: () => Promise<void>): void {
  test(name, async () => {
    let timer: NodeJS.Timeout | undefined
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no result within the test's ${ms} ms deadline`)), ms)
    })
    try {
      await Promise.race([fn(), deadline])
    } finally {
      clearTimeout(timer)
    }
  })
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex')

interface Case {
  req: FetchRequest
  data: Buffer
  dir: string
  /** Sum of onBytes calls. */
  written(): number
}

/** A fetch request for `data` at `url`, with fresh parts and staging directories. */
function request(url: string, data: Buffer, over: Partial<FetchRequest> = {}): Case {
  const dir = tempDir('fetch')
  const partsDir = path.join(dir, 'parts')
  fs.mkdirSync(partsDir)
  fs.mkdirSync(path.join(dir, 'staging'))
  let written = 0
  const req: FetchRequest = {
    component: 'rootfs',
    url,
    sha256: sha(data),
    size: data.length,
    dest: path.join(dir, 'staging', 'rootfs.ext4'),
    mode: 0o444,
    partsDir,
    manifestDir: dir,
    allowHttp: true,
    stallTimeoutMs: 2000,
    minSpeed: { bytesPerS: 1024, windowMs: 60_000 },
    retries: 2,
    backoffMs: 10,
    onBytes: (n) => (written += n),
    ...over,
  }
  return { req, data, dir, written: () => written }
}

/** `data` served at `p` (3 MiB and change by default: several 1 MiB chunks) and a request for it. */
function serve(p: string, data: Buffer = randomBytes(3 * MiB + 123), over: Partial<FetchRequest> = {}): Case {
  srv.setFile(p, data)
  return request(srv.url(p), data, over)
}

const partOf = (req: FetchRequest) => path.join(req.partsDir, `${req.sha256}.part`)
const requestsTo = (p: string) => srv.requests.filter((r) => r.path === p)
const half = (c: Case) => Math.floor(c.data.length / 2)

/** Leaves `bytes` in the part file, as an interrupted earlier run would. */
function prePart(c: Case, bytes: Buffer, meta?: object): void {
  fs.writeFileSync(partOf(c.req), bytes)
  if (meta) fs.writeFileSync(`${partOf(c.req)}.json`, JSON.stringify(meta))
}

async function fails(p: Promise<unknown>, reason: FetchError['reason'], ...names: (string | RegExp)[]): Promise<FetchError> {
  try {
    await p
  } catch (e) {
    if (!(e instanceof FetchError)) throw e
    assert.is(e.reason, reason, `reason of: ${e.message}`)
    for (const n of names) {
      if (typeof n === 'string') assert.ok(e.message.includes(n), `'${e.message}' should include '${n}'`)
      else assert.match(e.message, n)
    }
    return e
  }
  throw new Error('the fetch should have failed, and it succeeded')
}

function assertInstalled(c: Case, _result: FetchResult): void {
  assert.ok(fs.readFileSync(c.req.dest).equals(c.data), 'dest holds exactly the artifact bytes')
  assert.is(fs.statSync(c.req.dest).mode & 0o777, c.req.mode)
  assert.not.ok(fs.existsSync(partOf(c.req)), 'no part left')
  assert.not.ok(fs.existsSync(`${partOf(c.req)}.json`), 'no part metadata left')
}

const assertNotInstalled = (c: Case) => assert.not.ok(fs.existsSync(c.req.dest), 'dest must not exist')

// ---------------------------------------------------------------- http basics

it('downloads over http into dest, read-only, and leaves no part behind', 10_000, async () => {
  const c = serve('/plain')
  const r = await fetchArtifact(c.req)
  assertInstalled(c, r)
  assert.equal(r, { bytesTransferred: c.data.length, resumedFrom: 0, source: c.req.url })
  assert.is(c.written(), c.data.length)
  assert.is(srv.bytesSent('/plain'), c.data.length)
  assert.equal(requestsTo('/plain').map((q) => q.range), [undefined])
})

it('refuses plain http without allowHttp and never connects', 5_000, async () => {
  const c = serve('/no-http', randomBytes(100), { allowHttp: false })
  await fails(fetchArtifact(c.req), 'refused', 'rootfs', c.req.url, '--allow-http')
  assert.is(requestsTo('/no-http').length, 0)
  assertNotInstalled(c)
})

it('refuses schemes other than file, http and https', 5_000, async () => {
  const c = request('ftp://127.0.0.1/rootfs.ext4', randomBytes(10))
  await fails(fetchArtifact(c.req), 'refused', 'rootfs', 'ftp:')
  await fails(fetchArtifact({ ...c.req, url: 'not a url' }), 'refused', 'not a url')
})

it('fetches two components with the same bytes at once without trampling the shared part', 10_000, async () => {
  const a = serve('/same-a')
  srv.setFile('/same-b', a.data)
  const b = request(srv.url('/same-b'), a.data, { partsDir: a.req.partsDir, dest: path.join(a.dir, 'staging', 'template.ext4') })
  const [ra, rb] = await Promise.all([fetchArtifact(a.req), fetchArtifact(b.req)])
  assertInstalled(a, ra)
  assertInstalled(b, rb)
})

// ---------------------------------------------------------------- file://

it('copies a file:// source, verified, with the requested mode', 10_000, async () => {
  const data = randomBytes(3 * MiB + 7)
  const src = path.join(tempDir('media'), 'firecracker')
  fs.writeFileSync(src, data)
  const c = request(pathToFileURL(src).href, data, { mode: 0o555 })
  const r = await fetchArtifact(c.req)
  assertInstalled(c, r)
  assert.equal(r, { bytesTransferred: data.length, resumedFrom: 0, source: src })
  assert.is(c.written(), data.length)
})

it('finds a file:// artifact by name beside the manifest when its recorded path is gone', 5_000, async () => {
  const data = randomBytes(5000)
  const c = request(pathToFileURL('/nonexistent-media/release/rootfs image.ext4').href, data)
  assert.match(c.req.url, /rootfs%20image\.ext4$/)
  fs.writeFileSync(path.join(c.dir, 'rootfs image.ext4'), data)
  const r = await fetchArtifact(c.req)
  assertInstalled(c, r)
  assert.is(r.source, path.join(c.dir, 'rootfs image.ext4'))
})

it('verifies a file found beside the manifest like any other', 5_000, async () => {
  const c = request(pathToFileURL('/nonexistent-media/rootfs.ext4').href, randomBytes(5000))
  fs.writeFileSync(path.join(c.dir, 'rootfs.ext4'), randomBytes(5000))
  await fails(fetchArtifact(c.req), 'mismatch', 'rootfs', path.join(c.dir, 'rootfs.ext4'), c.req.sha256)
  assertNotInstalled(c)
  assert.not.ok(fs.existsSync(partOf(c.req)))
})

it('a file:// artifact missing at its path and beside the manifest is absent, naming both', 5_000, async () => {
  const c = request(pathToFileURL('/nonexistent-media/vmlinux').href, randomBytes(10))
  await fails(fetchArtifact(c.req), 'absent', 'rootfs', '/nonexistent-media/vmlinux', path.join(c.dir, 'vmlinux'))
  assertNotInstalled(c)
})

it('a file:// source with other bytes is a mismatch naming source, expected and got; part removed', 5_000, async () => {
  const src = path.join(tempDir('media'), 'jailer')
  const wrong = randomBytes(4096)
  fs.writeFileSync(src, wrong)
  const c = request(pathToFileURL(src).href, randomBytes(4096))
  await fails(fetchArtifact(c.req), 'mismatch', 'rootfs', src, c.req.sha256, sha(wrong))
  assertNotInstalled(c)
  assert.not.ok(fs.existsSync(partOf(c.req)))
})

it('a file:// source larger than declared is cut off one byte past the size', 5_000, async () => {
  const src = path.join(tempDir('media'), 'rootfs.ext4')
  const big = randomBytes(8 * MiB)
  fs.writeFileSync(src, big)
  // The manifest describes the first KiB exactly: only the extra bytes are wrong.
  const c = request(pathToFileURL(src).href, big.subarray(0, 1024))
  await fails(fetchArtifact(c.req), 'mismatch', 'rootfs', src, 'more bytes than the manifest declares')
  assert.ok(c.written() <= 1024, `wrote ${c.written()} bytes of an 8 MiB source`)
  assertNotInstalled(c)
  assert.not.ok(fs.existsSync(partOf(c.req)))
})

it('a file:// source shorter than declared is a mismatch', 5_000, async () => {
  const src = path.join(tempDir('media'), 'kernel')
  const data = randomBytes(4096)
  fs.writeFileSync(src, data.subarray(0, 4000))
  const c = request(pathToFileURL(src).href, data)
  await fails(fetchArtifact(c.req), 'mismatch', 'rootfs', src, '4000 bytes', '4096')
  assertNotInstalled(c)
})

// ---------------------------------------------------------------- server faults

it('wrong bytes: mismatch naming component, URL, expected and got; no retry; part removed', 10_000, async () => {
  const c = serve('/wrong-bytes')
  srv.setFault('/wrong-bytes', 'wrong-bytes')
  const flipped = Buffer.from(c.data.map((b) => b ^ 0xff))
  await fails(fetchArtifact(c.req), 'mismatch', 'rootfs', c.req.url, c.req.sha256, sha(flipped))
  assert.is(requestsTo('/wrong-bytes').length, 1)
  assertNotInstalled(c)
  assert.not.ok(fs.existsSync(partOf(c.req)))
})

/** The offset a request's `Range: bytes=k-` asked for. */
const rangeStart = (q: { range?: string }) => Number(/^bytes=(\d+)-$/.exec(q.range ?? '')?.[1] ?? NaN)

it('short body once: the retry resumes where the written part ends', 10_000, async () => {
  const c = serve('/short-once')
  srv.setFault('/short-once', 'short-body', { times: 1 })
  const r = await fetchArtifact(c.req)
  assertInstalled(c, r)
  const reqs = requestsTo('/short-once')
  assert.is(reqs.length, 2)
  assert.is(reqs[0].range, undefined)
  // Bytes still in Node's stream buffers when the connection broke are lost; the rest is reused.
  const k = rangeStart(reqs[1])
  assert.ok(k > 0 && k <= half(c), `resumed from ${k}`)
  assert.is(srv.bytesSent('/short-once'), half(c) + c.data.length - k)
  assert.equal([r.resumedFrom, r.bytesTransferred], [0, c.data.length], 'nothing came from an earlier run')
})

it('short body always: gives up after 1 + retries attempts; the part stays for a later resume', 10_000, async () => {
  const c = serve('/short-always', undefined, { retries: 2 })
  srv.setFault('/short-always', 'short-body')
  await fails(fetchArtifact(c.req), 'network', 'rootfs', c.req.url, 'gave up after 3 attempts')
  assert.is(requestsTo('/short-always').length, 3)
  const kept = fs.readFileSync(partOf(c.req))
  assert.ok(kept.length > half(c) && c.data.subarray(0, kept.length).equals(kept), 'the part holds the correct prefix')
  assertNotInstalled(c)
})

it('extra bytes past the declared size: cut off, mismatch, part removed', 10_000, async () => {
  const c = serve('/extra')
  srv.setFault('/extra', 'extra-bytes')
  await fails(fetchArtifact(c.req), 'mismatch', 'rootfs', c.req.url, 'more bytes than the manifest declares')
  assert.is(requestsTo('/extra').length, 1)
  assert.ok(c.written() <= c.data.length)
  assertNotInstalled(c)
  assert.not.ok(fs.existsSync(partOf(c.req)))
})

it('an endless body is cut off at the declared size instead of filling the disk', 5_000, async () => {
  const c = serve('/endless')
  srv.setFault('/endless', 'endless')
  await fails(fetchArtifact(c.req), 'mismatch', 'rootfs', c.req.url, 'more bytes than the manifest declares')
  assert.ok(c.written() <= c.data.length)
  assertNotInstalled(c)
})

it('a stall once: abandoned after stallTimeoutMs, the retry resumes and succeeds', 10_000, async () => {
  const c = serve('/stall-once', undefined, { stallTimeoutMs: 300 })
  srv.setFault('/stall-once', 'stall', { times: 1 })
  const t0 = Date.now()
  const r = await fetchArtifact(c.req)
  assertInstalled(c, r)
  assert.ok(Date.now() - t0 >= 300)
  assert.equal(requestsTo('/stall-once').map((q) => q.range), [undefined, `bytes=${half(c)}-`])
})

it('a stall always: each attempt is given up on within stallTimeoutMs', 10_000, async () => {
  const c = serve('/stall-always', randomBytes(256 * 1024), { stallTimeoutMs: 300, retries: 1, backoffMs: 10 })
  srv.setFault('/stall-always', 'stall')
  const t0 = Date.now()
  await fails(fetchArtifact(c.req), 'network', 'rootfs', c.req.url, 'no byte', 'for 0.3 s (--stall-timeout)', 'gave up after 2 attempts')
  const took = Date.now() - t0
  // The upper bound tells 0.3 s stall timers from the 30 s default, with room for a busy machine.
  assert.ok(took >= 600 && took < 5_000, `two stalled attempts took ${took} ms`)
  assert.is(requestsTo('/stall-always').length, 2)
  assertNotInstalled(c)
})

it('a slow drip slower in total than stallTimeoutMs completes: the timeout is per byte, not per file', 10_000, async () => {
  const c = serve('/drip', randomBytes(48 * 1024), { stallTimeoutMs: 300 })
  srv.setFault('/drip', 'slow-drip', { dripBytes: 4096, dripMs: 60 })
  const t0 = Date.now()
  const r = await fetchArtifact(c.req)
  assertInstalled(c, r)
  assert.ok(Date.now() - t0 > 300, 'the drip outlasted one stall timeout')
  assert.is(requestsTo('/drip').length, 1)
})

it('a trickle that keeps the stall timer quiet is abandoned below the minimum speed over a whole window, and retried', 10_000, async () => {
  // 64 bytes every 50 ms (1.3 KB/s): never 300 ms without a byte, far below 16 KiB/s.
  const c = serve('/trickle', randomBytes(256 * 1024), { stallTimeoutMs: 300, minSpeed: { bytesPerS: 16 * 1024, windowMs: 400 }, retries: 1, backoffMs: 10 })
  srv.setFault('/trickle', 'slow-drip', { dripBytes: 64, dripMs: 50 })
  const t0 = Date.now()
  await fails(fetchArtifact(c.req), 'network', 'rootfs', c.req.url, 'sent fewer than 16384 bytes/s over 0.4 s (--speed-limit, --speed-time)', 'gave up after 2 attempts')
  const took = Date.now() - t0
  assert.ok(took >= 800 && took < 5_000, `two trickled attempts took ${took} ms`)
  const ranges = requestsTo('/trickle').map((q) => q.range)
  assert.is(ranges.length, 2)
  assert.match(ranges[1] ?? '', /^bytes=\d+-$/, 'the retry resumes what the trickle delivered')
  assertNotInstalled(c)
})

it('a transfer at the minimum speed or faster is kept, however long it takes', 10_000, async () => {
  // 8 KiB every 60 ms (136 KB/s) against a minimum of 16 KiB/s over 300 ms windows: eight times above it (a
  // busy machine's late timers stay above it too), for several windows.
  const c = serve('/steady', randomBytes(128 * 1024), { minSpeed: { bytesPerS: 16 * 1024, windowMs: 300 } })
  srv.setFault('/steady', 'slow-drip', { dripBytes: 8192, dripMs: 60 })
  const t0 = Date.now()
  assertInstalled(c, await fetchArtifact(c.req))
  assert.ok(Date.now() - t0 > 600, 'the transfer outlasted two windows')
  assert.is(requestsTo('/steady').length, 1)
})

it('a connection reset once: retried, resumed from what arrived, success', 10_000, async () => {
  const c = serve('/reset-once')
  srv.setFault('/reset-once', 'reset', { times: 1 })
  const r = await fetchArtifact(c.req)
  assertInstalled(c, r)
  const reqs = requestsTo('/reset-once')
  assert.is(reqs.length, 2)
  // A TCP reset may drop whatever the client had not read yet, so the retry resumes from
  // what reached the part: a Range from a positive offset, or the whole file when nothing did.
  if (reqs[1].range !== undefined) assert.ok(rangeStart(reqs[1]) > 0, reqs[1].range)
})

it('a connection reset every time: network error after the retries', 10_000, async () => {
  const c = serve('/reset-always', undefined, { retries: 1 })
  srv.setFault('/reset-always', 'reset')
  await fails(fetchArtifact(c.req), 'network', 'rootfs', c.req.url, 'gave up after 2 attempts')
  assertNotInstalled(c)
})

it('500 twice then ok: success on the third attempt, with exponential backoff', 10_000, async () => {
  const c = serve('/500', undefined, { retries: 2, backoffMs: 100 })
  srv.setFault('/500', '500-then-ok', { times: 2 })
  const t0 = Date.now()
  const r = await fetchArtifact(c.req)
  assertInstalled(c, r)
  assert.ok(Date.now() - t0 >= 100 + 200, 'waited 100 then 200 ms')
  assert.is(requestsTo('/500').length, 3)
})

it('a 5xx that persists fails as http with the URL and status', 5_000, async () => {
  const c = serve('/503', randomBytes(100), { retries: 1 })
  srv.setFault('/503', 'status', { status: 503 })
  await fails(fetchArtifact(c.req), 'http', 'rootfs', c.req.url, '503', 'gave up after 2 attempts')
  assert.is(requestsTo('/503').length, 2)
  assertNotInstalled(c)
})

it('404 is absent at once, naming the URL and the status', 5_000, async () => {
  const c = serve('/gone', randomBytes(100))
  srv.setFault('/gone', '404')
  await fails(fetchArtifact(c.req), 'absent', 'rootfs', c.req.url, '404')
  assert.is(requestsTo('/gone').length, 1, 'a 4xx is not retried')
  assertNotInstalled(c)
})

it('another 4xx fails at once as http', 5_000, async () => {
  const c = serve('/forbidden', randomBytes(100))
  srv.setFault('/forbidden', 'status', { status: 403 })
  await fails(fetchArtifact(c.req), 'http', 'rootfs', c.req.url, '403')
  assert.is(requestsTo('/forbidden').length, 1)
})

it('a 200 with a Content-Length other than the declared size is refused before its body is read', 5_000, async () => {
  const c = serve('/lying')
  srv.setFault('/lying', 'lying-content-length')
  await fails(fetchArtifact(c.req), 'mismatch', 'rootfs', c.req.url, String(c.data.length + 1000), String(c.data.length))
  assert.is(c.written(), 0)
  assertNotInstalled(c)
})

// ---------------------------------------------------------------- redirects

it('follows a relative redirect; the result names the final URL', 5_000, async () => {
  const c = serve('/moved', randomBytes(1000))
  srv.setFile('/new-home', c.data)
  srv.setFault('/moved', 'redirect', { to: 'new-home' })
  const r = await fetchArtifact(c.req)
  assertInstalled(c, r)
  assert.is(r.source, srv.url('/new-home'))
})

it('follows a redirect to another host name', 5_000, async () => {
  const c = serve('/elsewhere', randomBytes(1000))
  srv.setFile('/elsewhere-target', c.data)
  srv.setFault('/elsewhere', 'redirect-host', { to: '/elsewhere-target' })
  const r = await fetchArtifact(c.req)
  assertInstalled(c, r)
  assert.is(r.source, `http://localhost:${srv.port}/elsewhere-target`)
})

/** /<name>1 -> /<name>2 -> ... -> /<name><hops+1>, which holds the file. */
function chain(name: string, hops: number): Case {
  const data = randomBytes(1000)
  srv.setFile(`/${name}${hops + 1}`, data)
  for (let i = 1; i <= hops; i++) srv.setFault(`/${name}${i}`, 'redirect', { to: `/${name}${i + 1}` })
  return request(srv.url(`/${name}1`), data)
}

it('follows 5 redirects', 5_000, async () => {
  const c = chain('five', 5)
  const r = await fetchArtifact(c.req)
  assertInstalled(c, r)
  assert.is(r.source, srv.url('/five6'))
})

it('refuses a sixth redirect', 5_000, async () => {
  const c = chain('six', 6)
  await fails(fetchArtifact(c.req), 'http', 'rootfs', c.req.url, 'more than 5 redirects')
  assert.is(requestsTo('/six7').length, 0)
  assertNotInstalled(c)
})

it('refuses a redirect to a file:// URL', 5_000, async () => {
  const c = serve('/to-file', randomBytes(10))
  srv.setFault('/to-file', 'redirect', { to: 'file:///etc/passwd' })
  await fails(fetchArtifact(c.req), 'refused', 'rootfs', 'file:')
  assertNotInstalled(c)
})

it('redirect rules: at most 5 hops, never from https to anything else, relative resolved', 5_000, async () => {
  const { req } = request('https://a.example/x/rootfs', randomBytes(1))
  const here = new URL('https://a.example/x/rootfs')
  assert.is(redirectTarget(req, here, '../y/rootfs', 0).href, 'https://a.example/y/rootfs')
  assert.is(redirectTarget(req, here, 'https://b.example/z', MAX_REDIRECTS - 1).href, 'https://b.example/z')
  assert.throws(() => redirectTarget(req, here, 'https://b.example/z', MAX_REDIRECTS), (e: FetchError) => e.reason === 'http')
  for (const to of ['http://a.example/rootfs', 'file:///etc/passwd', 'ftp://a.example/rootfs']) {
    assert.throws(() => redirectTarget({ ...req, allowHttp: true }, here, to, 0), (e: FetchError) => e.reason === 'refused', to)
  }
  assert.throws(() => redirectTarget(req, here, null, 0), (e: FetchError) => e.reason === 'http')
})

it('over real TLS: https downloads, a redirect from https to http is refused unrequested, an untrusted certificate fails at once', 20_000, async () => {
  const { server: tls, certFile: cert } = await startTlsServer()
  try {
    const data = randomBytes(100_000)
    tls.setFile('/secure', data)
    srv.setFile('/downgraded', data)
    tls.setFault('/to-http', 'redirect', { to: srv.url('/downgraded') })
    const ok = request(tls.url('/secure'), data)
    const down = request(tls.url('/to-http'), data, { allowHttp: true })
    // The CA is trusted only through NODE_EXTRA_CA_CERTS, read at process start: a child process.
    const script = `
      import { fetchArtifact } from ${JSON.stringify(new URL('../lib/fetch/index.js', import.meta.url).href)}
      const out = []
      for (const req of JSON.parse(process.env.REQS)) {
        try { out.push({ ok: true, ...(await fetchArtifact(req)) }) } catch (e) { out.push({ ok: false, reason: e.reason, message: e.message }) }
      }
      console.log(JSON.stringify(out))`
    const run = await runProcess(process.execPath, ['--input-type=module', '-e', script], {
      env: { NODE_EXTRA_CA_CERTS: cert, REQS: JSON.stringify([ok.req, down.req]) },
      timeoutMs: 15_000,
    })
    assert.is(run.code, 0, run.stderr)
    const [first, second] = JSON.parse(run.stdout)
    assert.equal(first, { ok: true, bytesTransferred: data.length, resumedFrom: 0, source: tls.url('/secure') })
    assert.ok(fs.readFileSync(ok.req.dest).equals(data))
    assert.is(second.ok, false)
    assert.is(second.reason, 'refused', second.message)
    assert.ok(second.message.includes(srv.url('/downgraded')), second.message)
    assert.is(requestsTo('/downgraded').length, 0, 'the http URL was never requested')
    assertNotInstalled(down)
    // This process does not trust the test CA: a certificate error fails at once, unretried.
    const untrusted = request(tls.url('/secure'), data, { retries: 3, backoffMs: 1000 })
    const e = await fails(fetchArtifact(untrusted.req), 'network', 'rootfs', untrusted.req.url, /certificate/)
    assert.not.match(e.message, /gave up/)
    assertNotInstalled(untrusted)
  } finally {
    await tls.close()
  }
})

// ---------------------------------------------------------------- resume

it('resumes a half part: only the second half crosses the wire, with Range and If-Range', 10_000, async () => {
  const c = serve('/resume')
  prePart(c, c.data.subarray(0, half(c)), { url: c.req.url, etag: srv.etag('/resume'), last_modified: srv.lastModified('/resume') })
  const r = await fetchArtifact(c.req)
  assertInstalled(c, r)
  assert.equal(requestsTo('/resume'), [{ method: 'GET', path: '/resume', range: `bytes=${half(c)}-`, ifRange: srv.etag('/resume') }])
  assert.is(srv.bytesSent('/resume'), c.data.length - half(c))
  assert.equal(r, { bytesTransferred: c.data.length - half(c), resumedFrom: half(c), source: c.req.url })
  assert.is(c.written(), c.data.length - half(c))
})

it('resumes a part recorded for another URL with Range but without If-Range', 10_000, async () => {
  const c = serve('/resume-mirror')
  prePart(c, c.data.subarray(0, half(c)), { url: 'https://old-mirror.example/rootfs.ext4', etag: srv.etag('/resume-mirror'), last_modified: null })
  const r = await fetchArtifact(c.req)
  assertInstalled(c, r)
  assert.equal(requestsTo('/resume-mirror').map((q) => [q.range, q.ifRange]), [[`bytes=${half(c)}-`, undefined]])
  assert.is(r.resumedFrom, half(c))
})

it('an interrupted run leaves a part that the next run resumes with If-Range', 10_000, async () => {
  const c = serve('/rerun', undefined, { retries: 0 })
  srv.setFault('/rerun', 'short-body', { times: 1 })
  await fails(fetchArtifact(c.req), 'network', 'rootfs', c.req.url, `of ${c.data.length} bytes`, 'gave up after 1 attempt)')
  assertNotInstalled(c)
  const k = fs.statSync(partOf(c.req)).size
  assert.ok(k > 0, 'the broken transfer left a part')
  const r = await fetchArtifact(c.req)
  assertInstalled(c, r)
  assert.equal(requestsTo('/rerun')[1], { method: 'GET', path: '/rerun', range: `bytes=${k}-`, ifRange: srv.etag('/rerun') })
  assert.is(srv.bytesSent('/rerun'), half(c) + c.data.length - k)
  assert.equal([r.resumedFrom, r.bytesTransferred], [k, c.data.length - k])
})

it('a part whose validator no longer matches (the file changed) is refetched whole', 10_000, async () => {
  const old = randomBytes(2 * MiB)
  const c = serve('/changed', old)
  const oldEtag = srv.etag('/changed')
  const now = randomBytes(2 * MiB)
  srv.setFile('/changed', now)
  const d = request(c.req.url, now, { partsDir: c.req.partsDir }) // the new manifest names the new bytes
  fs.writeFileSync(partOf(d.req), old.subarray(0, MiB))
  fs.writeFileSync(`${partOf(d.req)}.json`, JSON.stringify({ url: d.req.url, etag: oldEtag, last_modified: null }))
  const r = await fetchArtifact(d.req)
  assertInstalled(d, r)
  assert.is(requestsTo('/changed')[0].ifRange, oldEtag)
  assert.equal(r, { bytesTransferred: now.length, resumedFrom: 0, source: d.req.url })
})

it('a corrupt part is detected by the hash, discarded, and fetched once more from byte 0', 10_000, async () => {
  const c = serve('/corrupt')
  prePart(c, randomBytes(half(c)))
  const r = await fetchArtifact(c.req)
  assertInstalled(c, r)
  assert.equal(requestsTo('/corrupt').map((q) => q.range), [`bytes=${half(c)}-`, undefined])
  assert.is(srv.bytesSent('/corrupt'), c.data.length - half(c) + c.data.length)
  assert.is(r.resumedFrom, 0)
})

it('the fresh download after a corrupt part is tried only once', 10_000, async () => {
  const c = serve('/corrupt-twice')
  srv.setFault('/corrupt-twice', 'wrong-bytes')
  prePart(c, c.data.subarray(0, half(c)))
  await fails(fetchArtifact(c.req), 'mismatch', 'rootfs', c.req.url, c.req.sha256)
  assert.is(requestsTo('/corrupt-twice').length, 2)
  assertNotInstalled(c)
  assert.not.ok(fs.existsSync(partOf(c.req)))
})

it('a server that ignores Range: the part is emptied and the 200 body used from byte 0', 10_000, async () => {
  const c = serve('/ignore-range')
  srv.setFault('/ignore-range', 'ignore-range')
  prePart(c, c.data.subarray(0, half(c)))
  const r = await fetchArtifact(c.req)
  assertInstalled(c, r)
  assert.is(requestsTo('/ignore-range').length, 1)
  assert.is(srv.bytesSent('/ignore-range'), c.data.length)
  assert.equal([r.resumedFrom, r.bytesTransferred], [0, c.data.length])
})

it('a 206 with the wrong Content-Range: abandoned, the file refetched whole without Range', 10_000, async () => {
  const c = serve('/wrong-range')
  srv.setFault('/wrong-range', 'wrong-content-range')
  prePart(c, c.data.subarray(0, half(c)))
  const r = await fetchArtifact(c.req)
  assertInstalled(c, r)
  assert.equal(requestsTo('/wrong-range').map((q) => q.range), [`bytes=${half(c)}-`, undefined])
  assert.equal([r.resumedFrom], [0])
})

it('a part bigger than the declared size is discarded and the file fetched from byte 0', 10_000, async () => {
  const c = serve('/big-part', randomBytes(100_000))
  prePart(c, Buffer.concat([c.data, randomBytes(10)]))
  const r = await fetchArtifact(c.req)
  assertInstalled(c, r)
  assert.equal(requestsTo('/big-part').map((q) => q.range), [undefined])
})

it('a complete, correct part is installed without a request', 5_000, async () => {
  const c = serve('/complete', randomBytes(100_000))
  prePart(c, c.data)
  const r = await fetchArtifact(c.req)
  assertInstalled(c, r)
  assert.equal(r, { bytesTransferred: 0, resumedFrom: c.data.length, source: c.req.url })
  assert.is(requestsTo('/complete').length, 0)
})

test.run()
