// Reading part of an artifact (delta upgrades) and small artifacts into memory (chunk
// indexes at plan time), with the same URL rules as the fetchers: http: only with
// --allow-http, at most 5 redirects, never from https to anything else.
import { createHash } from 'node:crypto'
import type { Response } from 'node-fetch'
import { openSource } from './file.js'
import { FetchError, type FetchRequest } from './types.js'
import { TransferWatch } from './watch.js'

/** The one client's GET (client.ts: its redirects, agents, user agent); `range` is an inclusive byte range. */
async function get(req: FetchRequest, range: [number, number] | null, signal: AbortSignal): Promise<Response> {
  if (new URL(req.url).protocol === 'http:' && !req.allowHttp) throw new FetchError(`${req.component}: ${req.url}: http: URLs need --allow-http`, 'refused')
  // Loaded only when an http(s) URL is read: a plan against file:// artifacts never needs node-fetch.
  const { open } = await import('./client.js')
  return (await open(req, signal, range ? { range: `bytes=${range[0]}-${range[1]}` } : {})).res
}

/** Streams bytes [offset, offset+length) of the artifact to `sink`; throws when the source cannot serve a range. */
export async function readRange(req: FetchRequest, offset: number, length: number, sink: (chunk: Buffer) => Promise<void>): Promise<void> {
  if (length === 0) return
  if (req.url.startsWith('file:')) {
    const { fh, source } = await openSource(req)
    try {
      const buf = Buffer.allocUnsafe(Math.min(length, 1024 * 1024))
      for (let done = 0; done < length; ) {
        const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, length - done), offset + done)
        if (bytesRead === 0) throw new FetchError(`${req.component}: ${source} ends before byte ${offset + length}`, 'mismatch')
        await sink(Buffer.from(buf.subarray(0, bytesRead)))
        done += bytesRead
      }
    } finally {
      await fh.close()
    }
    return
  }
  const watch = new TransferWatch(req.stallTimeoutMs, req.minSpeed)
  try {
    const res = await get(req, [offset, offset + length - 1], watch.signal)
    const want = `bytes ${offset}-${offset + length - 1}/${req.size}`
    const served = res.status === 206 ? servedRange(res.headers.get('content-range')) : null
    // A server may answer more than asked, from the right start (some answer the rest of the
    // file): the bytes needed are taken and the connection closed. Any other answer (another
    // start, another size, a 200 with the whole file) is refused: the caller falls back.
    if (!served || served.start !== offset || served.end < offset + length - 1 || served.total !== req.size) {
      res.body?.resume()
      throw new FetchError(`${req.component}: ${req.url} did not serve the range ${want} (status ${res.status}${served ? `, ${res.headers.get('content-range')}` : ''})`, 'http')
    }
    let got = 0
    for await (const chunk of res.body!) {
      const buf = chunk as Buffer
      watch.bytes(buf.length)
      const take = Math.min(buf.length, length - got)
      got += take
      await sink(take === buf.length ? buf : buf.subarray(0, take))
      // Leaving the loop destroys the body, and watch.stop() below aborts the request: the
      // connection closes instead of carrying the rest of an overlong answer.
      if (got === length) break
    }
    if (got !== length) throw new FetchError(`${req.component}: ${req.url} ended the range after ${got} of ${length} bytes`, 'network')
  } catch (e) {
    if (e instanceof FetchError) throw e
    throw new FetchError(`${req.component}: ${watch.reason ? watch.describe(req.url) : `${req.url}: ${(e as Error).message}`}`, 'network')
  } finally {
    watch.stop()
  }
}

/** `bytes START-END/TOTAL` of a 206, or null when the header is absent or malformed. */
function servedRange(header: string | null): { start: number; end: number; total: number } | null {
  const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(header?.trim() ?? '')
  if (!m) return null
  const [start, end, total] = [Number(m[1]), Number(m[2]), Number(m[3])]
  return Number.isSafeInteger(total) && start <= end && end < total ? { start, end, total } : null
}

/** A small artifact (a chunk index) read whole into memory and verified; nothing is written. */
export async function fetchVerifiedBuffer(req: FetchRequest): Promise<Buffer> {
  const parts: Buffer[] = []
  let size = 0
  const take = async (chunk: Buffer) => {
    size += chunk.length
    if (size > req.size) throw new FetchError(`${req.component}: ${req.url} is larger than the ${req.size} bytes the manifest declares`, 'mismatch')
    parts.push(chunk)
  }
  if (req.url.startsWith('file:')) await readRange(req, 0, req.size, take)
  else {
    const watch = new TransferWatch(req.stallTimeoutMs, req.minSpeed)
    try {
      const res = await get(req, null, watch.signal)
      if (res.status === 404 || res.status === 410) throw new FetchError(`${req.component}: ${req.url} answered ${res.status}`, 'absent')
      if (res.status !== 200) throw new FetchError(`${req.component}: ${req.url} answered ${res.status}`, 'http')
      for await (const chunk of res.body!) {
        watch.bytes((chunk as Buffer).length)
        await take(chunk as Buffer)
      }
    } catch (e) {
      if (e instanceof FetchError) throw e
      throw new FetchError(`${req.component}: ${watch.reason ? watch.describe(req.url) : `${req.url}: ${(e as Error).message}`}`, 'network')
    } finally {
      watch.stop()
    }
  }
  const bytes = Buffer.concat(parts, size)
  const sha = createHash('sha256').update(bytes).digest('hex')
  if (size !== req.size || sha !== req.sha256) throw new FetchError(`${req.component}: ${req.url} does not match the manifest (sha256 ${sha}, ${size} bytes)`, 'mismatch')
  return bytes
}
