// Before any byte is fetched: will the root's filesystem hold what the plan brings in?
import fs from 'node:fs/promises'
import path from 'node:path'
import type { Layout } from '../layout.js'
import type { Plan } from '../plan/types.js'
import { obtainsArtifact } from '../plan/artifact.js'
import { operationFailed } from '../errors.js'

/** Bytes a plan may write: fetches, plus the worst case of repairs and adoptions; a delta writes the whole file, not only the bytes it fetches. */
export function bytesNeeded(plan: Plan): number {
  return plan.steps.reduce((n, s) => n + (!obtainsArtifact(s) ? 0 : s.action === 'fetch' ? (s.staged ? 0 : s.bytes) : s.artifact.size), 0)
}

async function nearestExisting(p: string): Promise<string> {
  for (let d = p; ; d = path.dirname(d)) {
    try {
      await fs.stat(d)
      return d
    } catch {
      if (d === path.dirname(d)) return d
    }
  }
}

export async function preflightSpace(l: Layout, plan: Plan): Promise<void> {
  const need = bytesNeeded(plan)
  if (need === 0) return
  const where = await nearestExisting(l.releases)
  const st = await fs.statfs(where)
  const free = st.bavail * st.bsize
  if (free < need)
    throw operationFailed(`not enough space on the filesystem holding ${where}: the plan needs ${need} bytes, ${free} are free. Nothing was changed; free space or prune old releases (prune --keep N)`)
}
