// Which chunks of a new artifact a host already has, in files of sealed releases whose
// chunk index it kept. Pure: indexes in, runs out.
import { type ChunkIndex, chunkCount, chunkKey } from './format.js'

export interface ChunkSource {
  readonly releaseId: string
  readonly installPath: string
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

export function planDelta(target: ChunkIndex, sources: readonly ChunkSource[]): DeltaPlan {
  const where = new Map<string, { source: number; offset: number }>()
  sources.forEach((s, si) => {
    const n = chunkCount(s.index)
    for (let i = 0; i < n; i++) {
      // A short last chunk only matches a short last chunk of the same length.
      if ((i + 1) * s.index.chunkSize > s.index.size || s.index.chunkSize !== target.chunkSize) continue
      const key = chunkKey(s.index, i)
      if (!where.has(key)) where.set(key, { source: si, offset: i * s.index.chunkSize })
    }
  })
  const raw: Run[] = []
  const n = chunkCount(target)
  for (let i = 0; i < n; i++) {
    const offset = i * target.chunkSize
    const length = Math.min(target.chunkSize, target.size - offset)
    const hit = length === target.chunkSize ? where.get(chunkKey(target, i)) : undefined
    const last = raw.at(-1)
    if (hit) {
      if (last?.kind === 'reuse' && last.source === hit.source && last.sourceOffset + last.length === hit.offset && last.offset + last.length === offset)
        raw[raw.length - 1] = { ...last, length: last.length + length }
      else raw.push({ kind: 'reuse', offset, length, source: hit.source, sourceOffset: hit.offset })
    } else if (last?.kind === 'fetch') raw[raw.length - 1] = { ...last, length: last.length + length }
    else raw.push({ kind: 'fetch', offset, length })
  }
  const runs = coalesce(raw)
  const fetchBytes = runs.reduce((s, r) => s + (r.kind === 'fetch' ? r.length : 0), 0)
  return { runs, fetchBytes, reusedBytes: target.size - fetchBytes }
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
