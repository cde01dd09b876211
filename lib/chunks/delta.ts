// Which chunks of a new artifact a host already has, in files of sealed releases. Pure:
// indexes in, runs out. The new index decides: a source is matched by the new index's scheme
// (inputs.ts indexes a sealed file anew when its kept index cuts another way).
import { type ChunkIndex, chunkLength, hashLength, schemeKey } from './format.js'

export interface ChunkSource {
  readonly releaseId: string
  readonly installPath: string
  /** The sealed file's index, by the same scheme as the new index. */
  readonly index: ChunkIndex
}

/** A stretch of the new file: copied from a local file, or fetched as one range. */
export type Run =
  | { readonly kind: 'reuse'; readonly offset: number; readonly length: number; readonly source: number; readonly sourceOffset: number }
  | { readonly kind: 'fetch'; readonly offset: number; readonly length: number }

export interface DeltaPlan {
  readonly runs: readonly Run[]
  readonly reusedBytes: number
  readonly fetchBytes: number
}

/** Reused gaps shorter than this between two fetched stretches are fetched too: one request beats two. */
export const COALESCE_GAP = 64 * 1024

/**
 * A chunk hash as a Map key: its first 53 bits as a number (a number key is several times
 * faster than a string); equal keys also need equal lengths, and the whole-file sha256 decides.
 */
function hashKey(ix: ChunkIndex, i: number): number {
  const at = i * hashLength(ix.scheme)
  return ix.hashes.readUInt32LE(at) * 2097152 + (ix.hashes.readUInt32LE(at + 4) >>> 11)
}

export function planDelta(target: ChunkIndex, sources: readonly ChunkSource[]): DeltaPlan {
  const scheme = schemeKey(target.scheme)
  // Per key: source number, offset, length and chunk number, four numbers in a row of `found`.
  const where = new Map<number, number>()
  const found: number[] = []
  sources.forEach((s, si) => {
    if (schemeKey(s.index.scheme) !== scheme) return
    for (let i = 0; i < s.index.count; i++) {
      const key = hashKey(s.index, i)
      if (where.has(key)) continue
      where.set(key, found.length)
      found.push(si, s.index.offsets[i], chunkLength(s.index, i), i)
    }
  })
  const raw: { kind: 'reuse' | 'fetch'; offset: number; length: number; source: number; sourceOffset: number; next: number }[] = []
  for (let i = 0; i < target.count; i++) {
    const offset = target.offsets[i]
    const length = chunkLength(target, i)
    const last = raw.at(-1)
    // The chunk that follows the last reused one in its source, when it is this one too: a
    // repeated chunk (zero blocks) then extends the run instead of jumping to its first copy.
    if (last?.kind === 'reuse' && sameChunk(sources[last.source].index, last.next, target, i)) {
      last.length += length
      last.next++
      continue
    }
    const at = where.get(hashKey(target, i))
    // A chunk matches only a chunk of the same length (a short last chunk, a truncated hash).
    const hit = at !== undefined && found[at + 2] === length
    if (hit) {
      const [source, sourceOffset, chunk] = [found[at], found[at + 1], found[at + 3]]
      if (last?.kind === 'reuse' && last.source === source && last.sourceOffset + last.length === sourceOffset) {
        last.length += length
        last.next = chunk + 1
      } else raw.push({ kind: 'reuse', offset, length, source, sourceOffset, next: chunk + 1 })
    } else if (last?.kind === 'fetch') last.length += length
    else raw.push({ kind: 'fetch', offset, length, source: -1, sourceOffset: 0, next: 0 })
  }
  const runs = coalesce(raw.map((r): Run => (r.kind === 'reuse' ? { kind: 'reuse', offset: r.offset, length: r.length, source: r.source, sourceOffset: r.sourceOffset } : { kind: 'fetch', offset: r.offset, length: r.length })))
  const fetchBytes = runs.reduce((s, r) => s + (r.kind === 'fetch' ? r.length : 0), 0)
  return { runs, fetchBytes, reusedBytes: target.size - fetchBytes }
}

function sameChunk(a: ChunkIndex, i: number, b: ChunkIndex, j: number): boolean {
  if (i >= a.count || chunkLength(a, i) !== chunkLength(b, j)) return false
  const h = hashLength(a.scheme)
  return a.hashes.compare(b.hashes, j * h, (j + 1) * h, i * h, (i + 1) * h) === 0
}

function coalesce(runs: Run[]): Run[] {
  const out: Run[] = []
  for (const r of runs) {
    const prev = out.at(-1)
    const prev2 = out.at(-2)
    if (r.kind === 'fetch' && prev?.kind === 'reuse' && prev.length < COALESCE_GAP && prev2?.kind === 'fetch') {
      out.splice(-2, 2, { kind: 'fetch', offset: prev2.offset, length: prev2.length + prev.length + r.length })
    } else if (r.kind === 'fetch' && prev?.kind === 'fetch') out[out.length - 1] = { ...prev, length: prev.length + r.length }
    else out.push(r)
  }
  return out
}
