// http(s):// fetcher (its GET, redirects and connections are client.ts's): streams into the content-addressed part file, hashing as bytes
// arrive, resumes a part left by an earlier run or attempt with Range (+ If-Range when the
// validators belong to this URL), and moves the file into place only once verified.
import fs from 'node:fs/promises'
import { createReadStream } from 'node:fs'
import { createHash, type Hash } from 'node:crypto'
import type { Response } from 'node-fetch'
import { READ_CHUNK } from '../hash.js'
import { writeFileAtomic } from '../fsx.js'
import { errnoCode } from '../errors.js'
import { FetchError, type FetchRequest, type FetchResult } from './types.js'
import { checkScheme, drop, isNodeFetchError, open, Transient, TRANSIENT_CODES } from './client.js'
import { TransferWatch } from './watch.js'
import { installPart, openPart, partMetaPath, partPath, removePart, tooLong, verdict, writeAll, Writeback } from './part.js'

/** Part metadata: the validators that let a later run send If-Range. */
interface PartMeta {
  url: string
  etag: string | null
  last_modified: string | null
}

/** The part's bytes [0, offset), already hashed, and how they got there. */
interface Part {
  offset: number
  hash: Hash
  /** Bytes that came from an earlier run and are still in the part (FetchResult.resumedFrom). */
  reused: number
  /** Assembled from more than one transfer: a hash failure earns one fresh download. */
  joined: boolean
}

const fresh = (): Part => ({ offset: 0, hash: createHash('sha256'), reused: 0, joined: false })

export async function fetchHttp(req: FetchRequest): Promise<FetchResult> {
  const start = checkScheme(req, req.url)
  const part = await loadPart(req)
  let transferred = 0
  let source = start.href
  let failures = 0
  let refetched = false
  for (;;) {
    if (part.offset < req.size) {
      try {
        source = await transfer(req, part, (n) => (transferred += n))
      } catch (e) {
        if (!(e instanceof Transient)) throw e
        if (failures >= req.retries) throw new FetchError(`${e.message} (gave up after ${plural(failures + 1, 'attempt')})`, e.reason)
        await sleep(req.backoffMs * 2 ** failures)
        failures++
        continue
      }
    }
    const bad = verdict(req, source, part.offset, part.hash.digest('hex'))
    if (!bad) {
      await installPart(req)
      return { bytesTransferred: transferred, resumedFrom: part.reused, source }
    }
    await removePart(req)
    if (!part.joined || refetched) throw bad
    // The older bytes may be stale or corrupt: discard them and download once more from 0.
    refetched = true
    Object.assign(part, fresh())
  }
}

/** One attempt: continues `part` until it holds req.size bytes; returns the final URL. */
async function transfer(req: FetchRequest, part: Part, count: (n: number) => void): Promise<string> {
  const watch = new TransferWatch(req.stallTimeoutMs, req.minSpeed)
  let url = req.url
  try {
    let res: Response
    for (;;) {
      ;({ res, url } = await open(req, watch.signal, await rangeHeaders(req, part)))
      const restart = await judge(req, part, res, url)
      if (!restart) break
      // The server cannot or will not continue our part: start cleanly from byte 0.
      drop(res)
      await removePart(req)
      Object.assign(part, fresh())
    }
    await saveMeta(req, res)
    const fh = await openPart(req, false)
    const sink = new PartSink(fh, part)
    try {
      for await (const chunk of (res.body ?? []) as AsyncIterable<Buffer>) {
        count(chunk.length)
        watch.bytes(chunk.length)
        if (chunk.length > req.size - part.offset) {
          await sink.settle()
          await removePart(req)
          throw tooLong(req, url)
        }
        await sink.push(chunk)
        req.onBytes?.(chunk.length)
      }
    } finally {
      // What arrived before a broken connection is written, so the part matches part.offset
      // and the next attempt resumes from there.
      try {
        await sink.settle()
      } finally {
        await fh.close()
      }
    }
    if (part.offset < req.size) throw new Transient(`${req.component}: ${url} ended after ${part.offset} of ${req.size} bytes`, 'network')
    return url
  } catch (e) {
    if (e instanceof FetchError) throw e
    if (watch.reason) throw new Transient(`${req.component}: ${watch.describe(url)}`, 'network')
    const code = errnoCode(e)
    if (code && TRANSIENT_CODES.has(code)) {
      throw new Transient(`${req.component}: ${url}: connection broke after ${part.offset} of ${req.size} bytes (${(e as Error).message})`, 'network')
    }
    if (isNodeFetchError(e)) throw new FetchError(`${req.component}: ${url}: ${(e as Error).message}`, 'network')
    throw e // a local error (disk full, permissions): not the server's doing
  } finally {
    watch.stop() // and tears down whatever is left of this attempt; a finished response ignores it
  }
}

/**
 * Appends a response body to the part: each socket chunk is hashed as it arrives, and chunks
 * are written in batches of about READ_CHUNK with one write in flight, so the disk works while
 * the next batch arrives (one awaited write per 64 KiB chunk left the socket idle). part.offset
 * counts what was pushed; settle() makes the file catch up with it.
 */
class PartSink {
  private batch: Buffer[] = []
  private batchBytes = 0
  private writing: Promise<void> = Promise.resolve()
  private readonly writeback: Writeback
  constructor(
    private readonly fh: fs.FileHandle,
    private readonly part: Part,
  ) {
    this.writeback = new Writeback(fh)
  }

  async push(chunk: Buffer): Promise<void> {
    this.part.hash.update(chunk)
    this.part.offset += chunk.length
    this.batch.push(chunk)
    this.batchBytes += chunk.length
    if (this.batchBytes >= READ_CHUNK) await this.flush()
  }

  async settle(): Promise<void> {
    await this.flush()
    await this.writing
    await this.writeback.settle()
  }

  /** Waits for the write in flight, then starts the next one with the batch. */
  private async flush(): Promise<void> {
    await this.writing
    if (this.batchBytes === 0) return
    const end = this.part.offset
    this.writing = writeAll(this.fh, this.batch, end - this.batchBytes).then(() => this.writeback.wrote(end))
    this.batch = []
    this.batchBytes = 0
    // A failure surfaces at the next flush or settle; until then it must not count as unhandled.
    this.writing.catch(() => undefined)
  }
}

/**
 * Decides what a response means for the part: true = restart from byte 0 with a new
 * request; throws when the fetch must stop; false = read the body (a 200 after the part
 * has been emptied, or a 206 that continues exactly where the part ends).
 */
async function judge(req: FetchRequest, part: Part, res: Response, url: string): Promise<boolean> {
  const status = `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`
  if (res.status >= 500) throw new Transient(`${req.component}: GET ${url}: ${status}`, 'http')
  if (res.status === 404 || res.status === 410) throw new FetchError(`${req.component}: GET ${url}: ${status}`, 'absent')
  if (res.status === 416 && part.offset > 0) return true
  if (res.status === 206) {
    const expected = `bytes ${part.offset}-${req.size - 1}/${req.size}`
    const got = res.headers.get('content-range')
    if (got?.trim() === expected && contentLengthIs(res, req.size - part.offset)) {
      part.joined = part.joined || part.offset > 0
      return false
    }
    if (part.offset > 0) return true
    throw new FetchError(`${req.component}: GET ${url}: 206 with Content-Range '${got}' to a request for the whole file`, 'http')
  }
  if (res.status !== 200) throw new FetchError(`${req.component}: GET ${url}: ${status}`, 'http')
  // 200: the whole file (Range ignored, or If-Range said the part is stale).
  if (part.offset > 0) {
    await removePart(req)
    Object.assign(part, fresh())
  }
  if (!contentLengthIs(res, req.size)) {
    throw new FetchError(`${req.component}: ${url} announces ${res.headers.get('content-length')} bytes, the manifest declares ${req.size}`, 'mismatch')
  }
  return false
}

/** An absent Content-Length is fine (chunked); a present one must match what we expect. */
const contentLengthIs = (res: Response, n: number) => {
  const cl = res.headers.get('content-length')
  return cl === null || cl.trim() === String(n)
}

/** Range from the part's end; If-Range only with a validator recorded for this very URL. */
async function rangeHeaders(req: FetchRequest, part: Part): Promise<Record<string, string>> {
  if (part.offset === 0) return {}
  const h: Record<string, string> = { range: `bytes=${part.offset}-` }
  const meta = await readMeta(req)
  if (meta?.url === req.url) {
    // If-Range needs a strong validator; a weak ETag would only ever get us a 200.
    const v = meta.etag && !meta.etag.startsWith('W/') ? meta.etag : meta.last_modified
    if (v) h['if-range'] = v
  }
  return h
}

async function readMeta(req: FetchRequest): Promise<PartMeta | undefined> {
  try {
    const m = JSON.parse(await fs.readFile(partMetaPath(req), 'utf8')) as Partial<PartMeta>
    return typeof m.url === 'string' ? { url: m.url, etag: m.etag ?? null, last_modified: m.last_modified ?? null } : undefined
  } catch {
    return undefined // absent or torn: resume without If-Range; the hash still decides
  }
}

/** Records the validators before the first body byte, so a crash mid-body can resume with If-Range. */
async function saveMeta(req: FetchRequest, res: Response): Promise<void> {
  const meta: PartMeta = { url: req.url, etag: res.headers.get('etag'), last_modified: res.headers.get('last-modified') }
  const old = await readMeta(req)
  if (old && old.url === meta.url && old.etag === meta.etag && old.last_modified === meta.last_modified) return
  await writeFileAtomic(partMetaPath(req), `${JSON.stringify(meta)}\n`, 0o600)
}

/** Hashes what an earlier run left; a part longer than the file cannot be ours and goes. */
async function loadPart(req: FetchRequest): Promise<Part> {
  const file = partPath(req)
  const st = await fs.lstat(file).catch(() => undefined)
  if (!st) return fresh()
  if (!st.isFile() || st.size > req.size) {
    await removePart(req)
    return fresh()
  }
  const part = fresh()
  for await (const chunk of createReadStream(file, { highWaterMark: READ_CHUNK })) {
    part.hash.update(chunk as Buffer)
    part.offset += (chunk as Buffer).length
  }
  part.reused = part.offset
  part.joined = part.offset > 0
  return part
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
