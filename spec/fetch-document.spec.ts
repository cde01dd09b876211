// fetchDocument against a real HTTP(S) server on 127.0.0.1 and real temp files: a small
// document (manifest, signature, channel) read whole, capped, with the artifact fetcher's
// redirect and scheme rules.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fs from 'node:fs'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import { pathToFileURL } from 'node:url'
import { fetchDocument, fetchDocumentOrMissing, type DocumentOptions } from '../lib/fetch/document.js'
import { FetchError } from '../lib/fetch/types.js'
import { MAX_REDIRECTS } from '../lib/fetch/client.js'
import { startServer, startTlsServer, type TestServer } from './helpers/server.js'
import { tempDir } from './helpers/tmp.js'
import { runProcess } from './helpers/cli.js'
import { within } from './helpers/hosts.js'

let srv: TestServer

test.before(async () => {
  srv = await startServer()
})
test.after(async () => {
  await srv.close()
})

/** Every test has its own deadline, so a hang fails fast with its name on it. */
const it = (name: string, ms: number, fn: () => Promise<void>) => test(name, () => within(ms, name, fn()))

const CAP = 64 * 1024
const opts = (over: Partial<DocumentOptions> = {}): DocumentOptions => ({ allowHttp: true, maxBytes: CAP, label: 'manifest', retries: 0, backoffMs: 10, ...over })

/** The FetchError `p` fails with; its reason and the words its message must hold are checked. */
async function fails(p: Promise<unknown>, reason: FetchError['reason'], ...words: (string | RegExp)[]): Promise<FetchError> {
  const e = await p.then(
    (v) => assert.unreachable(`expected a ${reason} failure, got ${String(v)}`),
    (x: unknown) => x,
  )
  if (!(e instanceof FetchError)) throw e
  assert.is(e.reason, reason, e.message)
  assert.not.match(e.message, /\n/)
  for (const w of words) assert.ok(typeof w === 'string' ? e.message.includes(w) : w.test(e.message), `${e.message} should say ${String(w)}`)
  return e
}

const requestsTo = (p: string) => srv.requests.filter((r) => r.path === p)

it('reads a document over http (with allowHttp) and a file: URL, byte for byte, up to exactly the cap', 5_000, async () => {
  const data = randomBytes(CAP)
  srv.setFile('/exact.json', data)
  assert.ok((await fetchDocument(srv.url('/exact.json'), opts())).equals(data))
  const file = path.join(tempDir('doc'), 'manifest.json')
  fs.writeFileSync(file, data)
  assert.ok((await fetchDocument(pathToFileURL(file).href, opts())).equals(data))
})

it('a Content-Length over the cap is refused before the body is read', 5_000, async () => {
  srv.setFile('/big.json', randomBytes(CAP + 1))
  await fails(fetchDocument(srv.url('/big.json'), opts()), 'refused', 'manifest: ', srv.url('/big.json'), `${CAP}-byte limit`, `announces ${CAP + 1} bytes`)
})

it('a body without Content-Length is cut off once it passes the cap, even one that never ends', 5_000, async () => {
  srv.setFile('/chunked.json', randomBytes(CAP - 100))
  srv.setFault('/chunked.json', 'extra-bytes') // no Content-Length, 4 KiB more than the file
  await fails(fetchDocument(srv.url('/chunked.json'), opts()), 'refused', srv.url('/chunked.json'), 'went past', `${CAP}-byte limit`)
  srv.setFile('/endless.json', randomBytes(1000))
  srv.setFault('/endless.json', 'endless')
  await fails(fetchDocument(srv.url('/endless.json'), opts()), 'refused', srv.url('/endless.json'), 'went past')
  // Without the fault the same path is within the cap: the refusal was the size, not the path.
  srv.setFault('/chunked.json', null)
  assert.is((await fetchDocument(srv.url('/chunked.json'), opts())).length, CAP - 100)
})

it('a file: URL over the cap, a missing file, and a directory are refused with their path', 5_000, async () => {
  const dir = tempDir('doc')
  const big = path.join(dir, 'big.json')
  fs.writeFileSync(big, randomBytes(CAP + 1))
  await fails(fetchDocument(pathToFileURL(big).href, opts()), 'refused', big, `${CAP}-byte limit`)
  const missing = path.join(dir, 'nope.json')
  await fails(fetchDocument(pathToFileURL(missing).href, opts()), 'absent', missing, 'does not exist')
  await fails(fetchDocument(pathToFileURL(dir).href, opts()), 'refused', dir, 'not a regular file')
  await fails(fetchDocument('file://elsewhere.example/m.json', opts()), 'refused', 'not a local file URL')
})

it('a 404 is "absent", distinguishable from other statuses; fetchDocumentOrMissing turns it into a missing file', 5_000, async () => {
  await fails(fetchDocument(srv.url('/gone.json.sig'), opts({ label: 'signature' })), 'absent', 'signature: ', srv.url('/gone.json.sig'), '404')
  const missing = await fetchDocumentOrMissing(srv.url('/gone.json.sig'), opts())
  assert.equal(Buffer.isBuffer(missing) ? 'bytes' : missing.missing, true)
  srv.setFile('/forbidden.json', Buffer.from('{}'))
  srv.setFault('/forbidden.json', 'status', { status: 403 })
  await fails(fetchDocument(srv.url('/forbidden.json'), opts()), 'http', '403')
  await fails(fetchDocumentOrMissing(srv.url('/forbidden.json'), opts()), 'http', '403')
})

it('plain http without allowHttp is refused before any request; other schemes are refused', 5_000, async () => {
  const before = requestsTo('/exact.json').length
  await fails(fetchDocument(srv.url('/exact.json'), opts({ allowHttp: false })), 'refused', srv.url('/exact.json'), '--allow-http')
  assert.is(requestsTo('/exact.json').length, before, 'no request was made')
  await fails(fetchDocument('ftp://127.0.0.1/m.json', opts()), 'refused', 'scheme ftp:')
  await fails(fetchDocument('not a url', opts()), 'refused', 'is not a URL')
})

it(`redirects: followed up to ${MAX_REDIRECTS} hops (relative Location resolved), refused past that`, 5_000, async () => {
  const data = Buffer.from('{"redirected":true}')
  srv.setFile('/hop/end.json', data)
  for (let i = 0; i <= MAX_REDIRECTS; i++) srv.setFault(`/hop/${i}.json`, 'redirect', { to: i === MAX_REDIRECTS ? 'end.json' : `${i + 1}.json` })
  // /hop/1 -> ... -> /hop/5 -> end: five redirects.
  assert.ok((await fetchDocument(srv.url('/hop/1.json'), opts())).equals(data))
  // /hop/0 -> ... -> end: six.
  await fails(fetchDocument(srv.url('/hop/0.json'), opts()), 'http', `more than ${MAX_REDIRECTS} redirects`)
})

it('a redirect to plain http is refused without allowHttp, and from https even with it (real TLS)', 20_000, async () => {
  srv.setFile('/plain.json', Buffer.from('{}'))
  srv.setFault('/to-plain.json', 'redirect', { to: '/plain.json' })
  await fails(fetchDocument(srv.url('/to-plain.json'), opts({ allowHttp: false })), 'refused', '--allow-http')
  const { server: tls, certFile: cert } = await startTlsServer()
  try {
    const data = Buffer.from('{"secure":true}')
    tls.setFile('/secure.json', data)
    srv.setFile('/downgraded.json', data)
    tls.setFault('/to-http.json', 'redirect', { to: srv.url('/downgraded.json') })
    // The test CA is trusted only through NODE_EXTRA_CA_CERTS, read at process start: a child process.
    const script = `
      import { fetchDocument } from ${JSON.stringify(new URL('../lib/fetch/document.js', import.meta.url).href)}
      const out = []
      for (const url of JSON.parse(process.env.URLS)) {
        try { out.push({ ok: true, text: (await fetchDocument(url, { allowHttp: true, maxBytes: 1024, retries: 0 })).toString() }) }
        catch (e) { out.push({ ok: false, reason: e.reason, message: e.message }) }
      }
      console.log(JSON.stringify(out))`
    const run = await runProcess(process.execPath, ['--input-type=module', '-e', script], {
      env: { NODE_EXTRA_CA_CERTS: cert, URLS: JSON.stringify([tls.url('/secure.json'), tls.url('/to-http.json')]) },
      timeoutMs: 15_000,
    })
    assert.is(run.code, 0, run.stderr)
    const [secure, down] = JSON.parse(run.stdout)
    assert.equal(secure, { ok: true, text: data.toString() })
    assert.is(down.ok, false)
    assert.is(down.reason, 'refused', down.message)
    assert.match(down.message, /redirects from https to/)
    assert.is(requestsTo('/downgraded.json').length, 0, 'the http URL was never requested')
  } finally {
    await tls.close()
  }
})

it('a 5xx is retried and then served; a stalled server gives up after the stall timeout, naming it', 10_000, async () => {
  const data = Buffer.from('{"after":"500"}')
  srv.setFile('/flaky.json', data)
  srv.setFault('/flaky.json', '500-then-ok')
  assert.ok((await fetchDocument(srv.url('/flaky.json'), opts({ retries: 1 }))).equals(data))
  srv.setFile('/stall.json', randomBytes(CAP))
  srv.setFault('/stall.json', 'stall')
  const started = Date.now()
  await fails(fetchDocument(srv.url('/stall.json'), opts({ stallTimeoutMs: 300, retries: 1 })), 'network', srv.url('/stall.json'), '--stall-timeout', 'gave up after 2 attempts')
  assert.ok(Date.now() - started < 5_000, 'gave up within the stall timeouts and the backoff')
})

test.run()
