// file:// fetcher; the part-file steps it shares with the other fetchers are in part.ts.
// A local source is cheap to read again, so a file:// copy never resumes: it starts the
// part from byte 0 and removes it on any failure.
import fs from 'node:fs/promises'
import { constants } from 'node:fs'
import path from 'node:path'
import { createHash } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { readAhead } from '../hash.js'
import { errnoCode } from '../errors.js'
import { FetchError, type FetchRequest, type FetchResult } from './types.js'
import { installPart, openPart, removePart, tooLong, verdict, writeAll, Writeback } from './part.js'

type FileHandle = fs.FileHandle

export async function fetchFile(req: FetchRequest): Promise<FetchResult> {
  const { fh: src, source } = await openSource(req)
  let out: FileHandle | undefined
  try {
    // Start from an empty part: a leftover of the same bytes (an http part, or a verified
    // part already made read-only when its rename failed) is superseded by this copy.
    await removePart(req)
    out = await openPart(req, true)
    const hash = createHash('sha256')
    const writeback = new Writeback(out)
    let total = 0
    // While this thread hashes a block, the thread pool writes that same block and reads the
    // next, so a block costs about max(hash, I/O), not their sum. Never more than size+1 bytes:
    // one byte past the declared size proves the source is too big without reading the rest.
    for await (const chunk of readAhead(src, { limit: req.size + 1 })) {
      if (total + chunk.length > req.size) throw tooLong(req, source)
      const written = writeAll(out, [chunk], total)
      hash.update(chunk)
      await written
      total += chunk.length
      writeback.wrote(total)
      req.onBytes?.(chunk.length)
    }
    await writeback.settle()
    await out.close()
    out = undefined
    const bad = verdict(req, source, total, hash.digest('hex'))
    if (bad) throw bad
    await installPart(req)
    return { bytesTransferred: total, resumedFrom: 0, source }
  } catch (e) {
    await out?.close()
    await removePart(req)
    throw e
  } finally {
    await src.close()
  }
}

/** The file at the URL's path, else the same file name beside the manifest (offline media mounted elsewhere). */
export async function openSource(req: FetchRequest): Promise<{ fh: FileHandle; source: string }> {
  let primary: string
  try {
    primary = fileURLToPath(req.url) // percent-decodes; refuses a remote host
  } catch (e) {
    throw new FetchError(`${req.component}: ${req.url} is not a local file URL (${(e as Error).message})`, 'refused')
  }
  const beside = req.manifestDir === null ? null : path.join(req.manifestDir, path.basename(primary))
  for (const candidate of beside === null || primary === beside ? [primary] : [primary, beside]) {
    let fh: FileHandle
    try {
      // O_NONBLOCK: a FIFO at that path must not hang the open; it is refused below.
      fh = await fs.open(candidate, constants.O_RDONLY | constants.O_NONBLOCK)
    } catch (e) {
      const code = errnoCode(e)
      if (code === 'ENOENT' || code === 'ENOTDIR') continue
      throw new FetchError(`${req.component}: cannot read ${candidate}: ${(e as Error).message}`, 'refused')
    }
    if (!(await fh.stat()).isFile()) {
      await fh.close()
      throw new FetchError(`${req.component}: ${candidate} is not a regular file`, 'refused')
    }
    return { fh, source: candidate }
  }
  throw new FetchError(`${req.component}: artifact file not found at ${primary}${beside === null ? '' : ` nor beside the manifest at ${beside}`}`, 'absent')
}
