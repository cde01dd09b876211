// Assembles an artifact in its part file from chunks of local files plus fetched ranges,
// checking every chunk against the new index as it goes and the whole file against the
// manifest's sha256 at the end, exactly as a full download is checked.
import fs from 'node:fs/promises'
import { createHash } from 'node:crypto'
import type { FetchRequest } from '../fetch/types.js'
import { FetchError } from '../fetch/types.js'
import { installPart, openPart, removePart, verdict, writeAll } from '../fetch/file.js'
import { readRange } from '../fetch/range.js'
import { type ChunkIndex, chunkHash, chunkKey } from './format.js'
import { type ChunkSource, planDelta } from './delta.js'

export interface DeltaInput {
  /** The new artifact's verified chunk index. */
  readonly index: ChunkIndex
  /** Sealed files with their kept indexes; `path` is absolute. */
  readonly sources: readonly (ChunkSource & { readonly path: string })[]
}

export interface DeltaResult {
  readonly fetched: number
  readonly reused: number
}

export async function assembleDelta(req: FetchRequest, input: DeltaInput): Promise<DeltaResult> {
  const { index } = input
  const plan = planDelta(index, input.sources)
  await removePart(req)
  const out = await openPart(req, true)
  const whole = createHash('sha256')
  let written = 0
  let fetched = 0

  const write = async (data: Buffer) => {
    whole.update(data)
    await writeAll(out, [data], written)
    written += data.length
  }

  try {
    for (const run of plan.runs) {
      if (run.kind === 'reuse') {
        const src = input.sources[run.source]
        const fh = await fs.open(src.path, 'r')
        try {
          const buf = Buffer.allocUnsafe(Math.min(run.length, 1024 * 1024))
          for (let done = 0; done < run.length; ) {
            const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, run.length - done), run.sourceOffset + done)
            if (bytesRead === 0) throw new FetchError(`${req.component}: ${src.path} is shorter than its chunk index`, 'mismatch')
            await write(buf.subarray(0, bytesRead))
            done += bytesRead
          }
        } finally {
          await fh.close()
        }
      } else {
        const checked = new FetchedChunks(index, written, write, (i) => new FetchError(`${req.component}: chunk ${i} from ${req.url} does not match the chunk index`, 'mismatch'))
        await readRange(req, run.offset, run.length, async (chunk) => {
          fetched += chunk.length
          req.onBytes?.(chunk.length)
          await checked.push(chunk)
        })
        await checked.end()
      }
    }
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
  }
}

/**
 * Fetched bytes are checked chunk by chunk against the new index as they arrive, so a bad
 * mirror is caught early; reused bytes are only covered by the whole-file hash at the end
 * (a mismatch there falls back just the same, without hashing every local chunk twice).
 * `emit` receives checked bytes in file order, starting at file offset `offset`.
 *
 * Linear in the bytes fetched whatever the chunk size: whole chunks inside a piece are checked
 * where they lie, and only a chunk split across pieces is copied, once, into one buffer of
 * chunk_size (growing a buffer per piece would copy chunk_size^2 / piece bytes per chunk).
 */
export class FetchedChunks {
  private readonly carry: Buffer
  private carried = 0
  constructor(
    private readonly index: ChunkIndex,
    private offset: number,
    private readonly emit: (checked: Buffer) => Promise<void>,
    private readonly mismatch: (chunk: number) => Error,
  ) {
    this.carry = Buffer.allocUnsafe(index.chunkSize)
  }

  async push(data: Buffer): Promise<void> {
    const size = this.index.chunkSize
    let at = 0
    if (this.carried > 0) {
      at = data.copy(this.carry, this.carried, 0, Math.min(data.length, size - this.carried))
      this.carried += at
      if (this.carried < size) return
      await this.accept(this.carry)
      this.carried = 0
    }
    const whole = data.length - at - ((data.length - at) % size)
    if (whole > 0) await this.accept(data.subarray(at, at + whole))
    this.carried = data.copy(this.carry, 0, at + whole)
  }

  /** The end of the fetched run: what is left is the file's last, short chunk. */
  async end(): Promise<void> {
    if (this.carried > 0) await this.accept(this.carry.subarray(0, this.carried))
    this.carried = 0
  }

  /** Checks every chunk of `bytes` (whole chunks, or the short last one), then emits them all. */
  private async accept(bytes: Buffer): Promise<void> {
    const size = this.index.chunkSize
    for (let at = 0; at < bytes.length; at += size) {
      const i = Math.floor((this.offset + at) / size)
      if (chunkHash(bytes.subarray(at, at + size)).toString('hex') !== chunkKey(this.index, i)) throw this.mismatch(i)
    }
    await this.emit(bytes)
    this.offset += bytes.length
  }
}
