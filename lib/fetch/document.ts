// Small documents read whole into memory (a manifest, a signature, a channel): from a
// file: URL, or over https (http only with --allow-http) through the one HTTP client
// (client.ts), so redirects, agents and the user agent follow one policy. A document is capped:
// a Content-Length over the cap, or a body that grows past it, is refused before more is read.
import { fileURLToPath } from 'node:url'
import { isUnreadable, readRegularFile, type UnreadableFile } from '../fsx.js'
import { errnoCode } from '../errors.js'
import { FetchError } from './types.js'
import { TransferWatch, type MinSpeed } from './watch.js'

export interface DocumentOptions {
  readonly allowHttp: boolean
  /** The most bytes the document may have; one byte more and it is refused. */
  readonly maxBytes: number
  /** What the document is, first in every message ("manifest", "signature", "channel"). */
  readonly label?: string
  /** No byte for this long abandons the attempt (--stall-timeout); default 30 s. */
  readonly stallTimeoutMs?: number
  /** Slower than this over a whole window abandons the attempt; default: no minimum. */
  readonly minSpeed?: MinSpeed
  /** Attempts after the first on a 5xx, a broken connection or a stall; default 2. */
  readonly retries?: number
  /** First retry delay, doubling each time; default 500 ms. */
  readonly backoffMs?: number
}

const DEFAULT_STALL_MS = 30_000
const NO_MINIMUM: MinSpeed = { bytesPerS: 0, windowMs: 30_000 }

/**
 * The bytes of the document at `url` (file:, https:, http: with allowHttp). Fails with a
 * FetchError whose message is one line naming the URL; `reason` is `absent` for a 404/410 or
 * a missing file (the caller may say "no signature at ..."), `refused` for a URL our rules
 * refuse or a document over the cap, `http` for another status, `network` when the server
 * could not be reached or stopped sending (after the retries).
 */
export async function fetchDocument(url: string, opts: DocumentOptions): Promise<Buffer> {
  const label = opts.label ?? 'document'
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new FetchError(`${label}: '${url}' is not a URL`, 'refused')
  }
  if (parsed.protocol === 'file:') return readFileUrl(label, parsed, opts.maxBytes)
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new FetchError(`${label}: ${url}: scheme ${parsed.protocol} is not supported (file:, https:, http: with --allow-http)`, 'refused')
  // node-fetch is loaded only when a document is fetched over http(s).
  const http = await import('./client.js')
  const retries = opts.retries ?? 2
  for (let failures = 0; ; failures++) {
    try {
      return await getOnce(http, label, url, opts)
    } catch (e) {
      if (!(e instanceof http.Transient)) throw e
      if (failures >= retries) throw new FetchError(`${e.message} (gave up after ${failures + 1} attempt${failures === 0 ? '' : 's'})`, e.reason)
      await new Promise((r) => setTimeout(r, (opts.backoffMs ?? 500) * 2 ** failures))
    }
  }
}

/** The document at `url`, or UnreadableFile when there is none (404/410, no such file): a SignatureSource's read(). */
export async function fetchDocumentOrMissing(url: string, opts: DocumentOptions): Promise<Buffer | UnreadableFile> {
  try {
    return await fetchDocument(url, opts)
  } catch (e) {
    if (e instanceof FetchError && e.reason === 'absent') return { missing: true, why: e.message }
    throw e
  }
}

type Http = typeof import('./client.js')

async function getOnce(http: Http, label: string, url: string, opts: DocumentOptions): Promise<Buffer> {
  const req = { component: label, url, allowHttp: opts.allowHttp }
  const watch = new TransferWatch(opts.stallTimeoutMs ?? DEFAULT_STALL_MS, opts.minSpeed ?? NO_MINIMUM)
  let at = url
  try {
    const opened = await http.open(req, watch.signal, {})
    const res = opened.res
    at = opened.url
    const status = `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`
    if (res.status !== 200) {
      http.drop(res)
      if (res.status >= 500) throw new http.Transient(`${label}: GET ${at}: ${status}`, 'http')
      if (res.status === 404 || res.status === 410) throw new FetchError(`${label}: GET ${at}: ${status}`, 'absent')
      throw new FetchError(`${label}: GET ${at}: ${status}`, 'http')
    }
    const announced = res.headers.get('content-length')
    if (announced !== null && Number(announced) > opts.maxBytes) {
      http.drop(res)
      throw overCap(label, at, opts.maxBytes, `it announces ${announced.trim()} bytes`)
    }
    const chunks: Buffer[] = []
    let total = 0
    for await (const chunk of (res.body ?? []) as AsyncIterable<Buffer>) {
      watch.bytes(chunk.length)
      total += chunk.length
      if (total > opts.maxBytes) {
        http.drop(res)
        throw overCap(label, at, opts.maxBytes, 'its body went past it')
      }
      chunks.push(chunk)
    }
    if (announced !== null && Number(announced) !== total) throw new http.Transient(`${label}: ${at} ended after ${total} of ${announced.trim()} bytes`, 'network')
    return Buffer.concat(chunks, total)
  } catch (e) {
    if (e instanceof FetchError) throw e
    if (watch.reason) throw new http.Transient(`${label}: ${watch.describe(at)}`, 'network')
    const code = errnoCode(e)
    // node-fetch says "request to <url> failed, reason: <why>"; the URL is already in our line.
    const why = (e as Error).message.replace(/^request to \S+ failed, reason: /, '')
    if (code && http.TRANSIENT_CODES.has(code)) throw new http.Transient(`${label}: ${at}: ${why}`, 'network')
    // Anything else node-fetch reports (a certificate the host does not trust) will not heal on a retry.
    if (http.isNodeFetchError(e)) throw new FetchError(`${label}: ${at}: ${why}`, 'network')
    throw e
  } finally {
    watch.stop()
  }
}

const overCap = (label: string, url: string, maxBytes: number, how: string) =>
  new FetchError(`${label}: ${url} is over the ${maxBytes}-byte limit for a ${label} (${how}); refused before reading more`, 'refused')

async function readFileUrl(label: string, url: URL, maxBytes: number): Promise<Buffer> {
  let file: string
  try {
    file = fileURLToPath(url) // percent-decodes; refuses a remote host
  } catch (e) {
    throw new FetchError(`${label}: ${url.href} is not a local file URL (${(e as Error).message})`, 'refused')
  }
  const read = await readRegularFile(file, maxBytes, { followSymlink: true })
  if (isUnreadable(read)) throw new FetchError(`${label}: ${file} ${read.why}`, read.missing ? 'absent' : 'refused')
  return read
}
