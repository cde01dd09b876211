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
import { decodeIndex } from './format.js'
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

export async function gatherDeltaInputs(l: Layout, desired: DesiredState, actual: ActualState, plan: Plan, f: FetchSettings): Promise<DeltaInputs> {
  const out: DeltaInputs = { inputs: new Map(), summaries: {}, prefetched: new Map(), warnings: [] }
  const fetching = new Set(plan.steps.flatMap((s) => (s.action === 'fetch' && !s.staged ? [s.artifact.component] : [])))
  for (const c of desired.components) {
    if (!c.chunkIndex || !fetching.has(c.name)) continue
    const sources = []
    for (const r of actual.releases) {
      if (r.id === desired.releaseId || r.seal.kind !== 'sealed' || isMarkedFailed(actual.state, r.id)) continue
      const old = r.seal.seal.components.find((x) => x.kind === c.kind && x.status === 'installed')
      const oldIndex = old && r.seal.seal.components.find((x) => x.name === `${old.name}.chunks` && x.status === 'installed')
      if (!old || !oldIndex || !sealedFileIntact(old, r.files[old.install_path]) || !sealedFileIntact(oldIndex, r.files[oldIndex.install_path])) continue
      const index = decodeIndex(await fs.readFile(path.join(l.release(r.id), oldIndex.install_path)).catch(() => Buffer.alloc(0)))
      if (typeof index === 'string' || index.chunkSize !== c.chunkIndex.chunkSize) continue
      sources.push({ releaseId: r.id, installPath: old.install_path, path: path.join(l.release(r.id), old.install_path), index })
    }
    if (sources.length === 0) continue
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
    const delta = planDelta(index, sources)
    out.inputs.set(c.name, { index, sources })
    out.summaries[c.name] = {
      fetch_bytes: delta.fetchBytes,
      reused_bytes: delta.reusedBytes,
      chunk_size: index.chunkSize,
      sources: sources.map((s) => ({ release_id: s.releaseId, install_path: s.installPath })),
    }
  }
  return out
}
