// Gathers what a delta needs before planning: the new chunk index (fetched into memory and
// verified; nothing is written, so plan and --dry-run stay read-only) and the kept indexes
// of sealed releases' files of the same kind. Only called when a chunked component must be
// fetched, so a no-op plan never reads an index.
import type { MinSpeed } from '../fetch/watch.js'
import fs from 'node:fs/promises'
import path from 'node:path'
import type { DesiredState } from '../desired.js'
import type { Layout } from '../layout.js'
import type { ActualState } from '../../state/read.js'
import type { DeltaSummary } from '../plan/planner.js'
import { sealedFileIntact } from '../../state/seal.js'
import { isMarkedFailed } from '../../state/state-file.js'
import type { Plan } from '../plan/types.js'
import { fetchVerifiedBuffer } from '../fetch/range.js'
import { type ChunkIndex, decodeIndex, nominalChunkSize, schemeKey } from './format.js'
import { indexFile } from './compute.js'
import { planDelta } from './delta.js'
import type { DeltaInput } from './assemble.js'

export interface DeltaInputs {
  readonly inputs: Map<string, DeltaInput>
  readonly summaries: Record<string, DeltaSummary>
  readonly prefetched: Map<string, Buffer>
  readonly warnings: string[]
}

export interface FetchSettings {
  readonly allowHttp: boolean
  readonly stallTimeoutMs: number
  readonly minSpeed: MinSpeed
}

/** A sealed file of the same kind that a delta may copy from, and the index its release kept (if any). */
interface Candidate {
  readonly releaseId: string
  readonly installPath: string
  readonly path: string
  readonly keptIndex: string | null
}

export async function gatherDeltaInputs(l: Layout, desired: DesiredState, actual: ActualState, plan: Plan, f: FetchSettings): Promise<DeltaInputs> {
  const out: DeltaInputs = { inputs: new Map(), summaries: {}, prefetched: new Map(), warnings: [] }
  const fetching = new Set(plan.steps.flatMap((s) => (s.action === 'fetch' && !s.staged ? [s.artifact.component] : [])))
  for (const c of desired.components) {
    if (!c.chunkIndex || !fetching.has(c.name)) continue
    const candidates: Candidate[] = []
    for (const r of actual.releases) {
      if (r.id === desired.releaseId || r.seal.kind !== 'sealed' || isMarkedFailed(actual.state, r.id)) continue
      const old = r.seal.seal.components.find((x) => x.kind === c.kind && x.status === 'installed')
      if (!old || !sealedFileIntact(old, r.files[old.install_path])) continue
      const oldIndex = r.seal.seal.components.find((x) => x.name === `${old.name}.chunks` && x.status === 'installed')
      const keptIndex = oldIndex && sealedFileIntact(oldIndex, r.files[oldIndex.install_path]) ? path.join(l.release(r.id), oldIndex.install_path) : null
      candidates.push({ releaseId: r.id, installPath: old.install_path, path: path.join(l.release(r.id), old.install_path), keptIndex })
    }
    if (candidates.length === 0) continue
    const ref = desired.components.find((x) => x.name === c.chunkIndex!.component)!
    let bytes: Buffer
    try {
      bytes = await fetchVerifiedBuffer({
        component: ref.name, url: ref.url, sha256: ref.sha256, size: ref.size, dest: '', mode: 0o444, partsDir: '', manifestDir: desired.manifestDir,
        allowHttp: f.allowHttp, stallTimeoutMs: f.stallTimeoutMs, minSpeed: f.minSpeed, retries: 0, backoffMs: 0,
      })
    } catch (e) {
      out.warnings.push(`${c.name}: no delta, the chunk index could not be read (${(e as Error).message}); it is fetched whole`)
      continue
    }
    const index = decodeIndex(bytes)
    if (typeof index === 'string' || index.sha256 !== c.sha256 || index.size !== c.size) {
      out.warnings.push(`${c.name}: no delta, the chunk index does not describe the artifact the manifest names; it is fetched whole`)
      continue
    }
    out.prefetched.set(ref.sha256, bytes)
    const sources = await sourcesFor(index, candidates, actual.current)
    if (sources.length === 0) continue
    const delta = planDelta(index, sources)
    out.inputs.set(c.name, { index, sources, plan: delta })
    out.summaries[c.name] = {
      fetch_bytes: delta.fetchBytes,
      reused_bytes: delta.reusedBytes,
      chunk_size: nominalChunkSize(index.scheme),
      sources: sources.map((s) => ({ release_id: s.releaseId, install_path: s.installPath })),
    }
  }
  return out
}

/**
 * The new index decides how bytes are matched: a sealed file is a source through the index its
 * release kept when that index cuts by the same scheme, and otherwise (a release with a format-1
 * index, or none, before one with format 2) through an index of the file computed here, once
 * per upgrade, for the active release's file only (reading one image, not one per release).
 */
async function sourcesFor(index: ChunkIndex, candidates: readonly Candidate[], current: string | null): Promise<DeltaInput['sources'][number][]> {
  const key = schemeKey(index.scheme)
  const sources: DeltaInput['sources'][number][] = []
  const unindexed: Candidate[] = []
  for (const cand of candidates) {
    const kept = cand.keptIndex ? decodeIndex(await fs.readFile(cand.keptIndex).catch(() => Buffer.alloc(0))) : 'none'
    if (typeof kept !== 'string' && schemeKey(kept.scheme) === key) sources.push({ ...cand, index: kept })
    else unindexed.push(cand)
  }
  const local = sources.length === 0 ? (unindexed.find((x) => x.releaseId === current) ?? unindexed.at(-1)) : undefined
  if (local) {
    const computed = await indexFile(local.path, index.scheme).catch(() => null)
    if (computed) sources.push({ ...local, index: computed })
  }
  return sources
}
