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
  let pending: Buffer = Buffer.alloc(0)

  const write = async (data: Buffer) => {
    whole.update(data)
    await writeAll(out, [data], written)
    written += data.length
  }
  /**
   * Fetched bytes are checked chunk by chunk against the new index as they arrive, so a bad
   * mirror is caught early; reused bytes are only covered by the whole-file hash at the end
   * (a mismatch there falls back just the same, without hashing every local chunk twice).
   */
  const acceptFetched = async (data: Buffer, last: boolean) => {
    pending = pending.length ? Buffer.concat([pending, data]) : data
    let at = 0
    while (pending.length - at >= index.chunkSize || (last && at < pending.length)) {
      const chunk = pending.subarray(at, Math.min(at + index.chunkSize, pending.length))
      const i = ((written + at) / index.chunkSize) | 0
      if (chunkHash(chunk).toString('hex') !== chunkKey(index, i)) throw new FetchError(`${req.component}: chunk ${i} from ${req.url} does not match the chunk index`, 'mismatch')
      at += chunk.length
    }
    if (at > 0) await write(pending.subarray(0, at))
    pending = Buffer.from(pending.subarray(at))
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
        await readRange(req, run.offset, run.length, async (chunk) => {
          fetched += chunk.length
          req.onBytes?.(chunk.length)
          await acceptFetched(chunk, false)
        })
        await acceptFetched(Buffer.alloc(0), true)
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
