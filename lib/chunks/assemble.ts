// Assembles an artifact in its part file from chunks of local files plus fetched ranges,
// checking every fetched chunk against the new index as it arrives and the whole file against
// the manifest's sha256 at the end, exactly as a full download is checked.
import fs from 'node:fs/promises'
import { createHash } from 'node:crypto'
import type { FetchRequest } from '../fetch/types.js'
import { FetchError } from '../fetch/types.js'
import { Writeback, installPart, openPart, removePart, verdict, writeAll } from '../fetch/part.js'
import { readRange } from '../fetch/range.js'
import { READ_CHUNK, readAhead } from '../hash.js'
import { type ChunkIndex, chunkHash, chunkLength, hashLength, maxChunk } from './format.js'
import type { ChunkSource, DeltaPlan } from './delta.js'

export interface DeltaInput {
  /** The new artifact's verified chunk index. */
  readonly index: ChunkIndex
  /** Sealed files with their indexes (by the new index's scheme); `path` is absolute. */
  readonly sources: readonly (ChunkSource & { readonly path: string })[]
  /** planDelta(index, sources), made while planning. */
  readonly plan: DeltaPlan
}

export interface DeltaResult {
  /** Bytes of the artifact that came over the wire (the plan's fetch bytes). */
  readonly fetched: number
  readonly reused: number
}

export async function assembleDelta(req: FetchRequest, input: DeltaInput): Promise<DeltaResult> {
  const { index } = input
  const { plan } = input
  await removePart(req)
  const out = await openPart(req, true)
  const writeback = new Writeback(out)
  const whole = createHash('sha256')
  let written = 0
  let fetched = 0

  const write = async (data: Buffer) => {
    whole.update(data)
    await writeAll(out, [data], written)
    written += data.length
    writeback.wrote(written)
  }

  // Each source opened once, two copy buffers for every run: a fragmented plan (thousands of
  // short runs) must not open a file and allocate per run.
  const opened = new Map<number, fs.FileHandle>()
  const bufs = [Buffer.allocUnsafe(READ_CHUNK), Buffer.allocUnsafe(READ_CHUNK)] as const
  const source = async (i: number) => {
    let fh = opened.get(i)
    if (!fh) opened.set(i, (fh = await fs.open(input.sources[i].path, 'r')))
    return fh
  }
  try {
    for (const run of plan.runs) {
      if (run.kind === 'reuse') await copyRun(await source(run.source), input.sources[run.source].path, bufs, run.sourceOffset, run.length, write, req)
      else {
        const checked = new FetchedChunks(index, written, write, (i) => new FetchError(`${req.component}: chunk ${i} from ${req.url} does not match the chunk index`, 'mismatch'))
        await readRange(req, run.offset, run.length, async (chunk) => {
          fetched += chunk.length
          req.onBytes?.(chunk.length)
          await checked.push(chunk)
        })
        await checked.end()
      }
    }
    await writeback.settle()
    await out.close()
    // Reused chunks that changed on disk since they were sealed end up here: fall back.
    const bad = verdict(req, `delta of ${req.url}`, written, whole.digest('hex'))
    if (bad) throw bad
    await installPart(req)
    return { fetched, reused: written - fetched }
  } catch (e) {
    await out.close().catch(() => undefined)
    await removePart(req)
    throw e
  } finally {
    for (const fh of opened.values()) await fh.close().catch(() => undefined)
  }
}

/** Copies [from, from + length) of a local file through `write`, the next read in flight while one block is written. */
async function copyRun(fh: fs.FileHandle, file: string, buffers: readonly [Buffer, Buffer], from: number, length: number, write: (data: Buffer) => Promise<void>, req: FetchRequest): Promise<void> {
  let done = 0
  for await (const block of readAhead(fh, { from, limit: length, buffers })) {
    done += block.length
    await write(block)
  }
  if (done < length) throw new FetchError(`${req.component}: ${file} is shorter than its chunk index`, 'mismatch')
}

/**
 * Fetched bytes are checked chunk by chunk against the new index as they arrive, so a bad
 * mirror is caught early; reused bytes are only covered by the whole-file hash at the end
 * (a mismatch there falls back just the same, without hashing every local chunk twice).
 * `emit` receives checked bytes in file order, starting at file offset `offset`, which is
 * where a chunk starts.
 *
 * Linear in the bytes fetched whatever the chunk size: whole chunks inside a piece are checked
 * where they lie, and only a chunk split across pieces is copied, once, into one buffer of the
 * scheme's largest chunk (growing a buffer per piece would copy chunk^2 / piece bytes per chunk).
 */
export class FetchedChunks {
  private readonly carry: Buffer
  private carried = 0
  /** The chunk that starts at `offset`. */
  private chunk: number

  constructor(
    private readonly index: ChunkIndex,
    private offset: number,
    private readonly emit: (checked: Buffer) => Promise<void>,
    private readonly mismatch: (chunk: number) => Error,
  ) {
    this.carry = Buffer.allocUnsafe(maxChunk(index.scheme))
    this.chunk = chunkAt(index, offset)
  }

  async push(data: Buffer): Promise<void> {
    let at = 0
    if (this.carried > 0) {
      const len = chunkLength(this.index, this.chunk)
      at = data.copy(this.carry, this.carried, 0, Math.min(data.length, len - this.carried))
      this.carried += at
      if (this.carried < len) return
      await this.accept(this.carry.subarray(0, len))
      this.carried = 0
    }
    // Whole chunks where they lie in `data`, then the start of a split one into `carry`.
    let end = at
    for (let i = this.chunk; i < this.index.count && end + chunkLength(this.index, i) <= data.length; i++) end += chunkLength(this.index, i)
    if (end > at) await this.accept(data.subarray(at, end))
    this.carried = data.copy(this.carry, 0, end)
  }

  /** The end of the fetched run: a chunk still incomplete cannot match. */
  async end(): Promise<void> {
    if (this.carried > 0) throw this.mismatch(this.chunk)
  }

  /** Checks every chunk of `bytes` (whole chunks from `chunk` on), then emits them all. */
  private async accept(bytes: Buffer): Promise<void> {
    const h = hashLength(this.index.scheme)
    for (let at = 0; at < bytes.length; ) {
      const len = chunkLength(this.index, this.chunk)
      if (!chunkHash(this.index.scheme, bytes.subarray(at, at + len)).equals(this.index.hashes.subarray(this.chunk * h, (this.chunk + 1) * h))) throw this.mismatch(this.chunk)
      at += len
      this.chunk++
    }
    await this.emit(bytes)
    this.offset += bytes.length
  }
}

/** The chunk that starts at `offset` (binary search over the offsets). */
function chunkAt(ix: ChunkIndex, offset: number): number {
  let lo = 0
  let hi = ix.count
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (ix.offsets[mid] < offset) lo = mid + 1
    else hi = mid
  }
  if (ix.offsets[lo] !== offset) throw new Error(`no chunk starts at byte ${offset}`)
  return lo
}
