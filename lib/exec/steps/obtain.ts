// Steps that obtain an artifact into a release's staging directory: fetch (download or
// file:// copy, verified), delta (local chunks plus fetched ranges), link (a hard link to a
// sealed release's verified file) and adopt (rehash a copy an unsealed release holds).
import fs from 'node:fs/promises'
import path from 'node:path'
import type { ArtifactRef } from '../../plan/types.js'
import { replaceWithHardLink, writeFileAtomic } from '../../fsx.js'
import { hashFile } from '../../hash.js'
import { operationFailed } from '../../errors.js'
import { fetchArtifact } from '../../fetch/index.js'
import { FetchError, type FetchRequest } from '../../fetch/types.js'
import { assembleDelta } from '../../chunks/assemble.js'
import { CHUNK_INDEX_KIND } from '../../desired.js'
import { formatBytes } from '../../bytes.js'
import { crashAfterBytes } from '../crash-seam.js'
import { StepError, isSystemError, type StepRun } from '../context.js'

export function stagedPath(run: StepRun, releaseId: string, a: ArtifactRef): string {
  return path.join(run.ctx.layout.staged(releaseId), a.install_path)
}

function fetchRequest(run: StepRun, a: ArtifactRef, dest: string): FetchRequest {
  const { ctx } = run
  return {
    component: a.component,
    url: a.url,
    sha256: a.sha256,
    size: a.size,
    dest,
    mode: a.mode,
    partsDir: ctx.layout.parts,
    manifestDir: ctx.manifestDir,
    allowHttp: ctx.fetch.allowHttp,
    stallTimeoutMs: ctx.fetch.stallTimeoutMs,
    minSpeed: ctx.fetch.minSpeed,
    retries: ctx.fetch.retries,
    backoffMs: ctx.fetch.backoffMs,
    onBytes: (n) => {
      ctx.report.bytes(a.component, n)
      crashAfterBytes(n)
    },
  }
}

/** Assembles from local chunks plus fetched ranges; any failure falls back to a full, verified fetch. */
export async function deltaStep(run: StepRun, releaseId: string, a: ArtifactRef): Promise<string> {
  const input = run.ctx.deltas?.get(a.component)
  if (!input) return fetchStep(run, releaseId, a, false)
  const dest = stagedPath(run, releaseId, a)
  await run.mkdirs(path.dirname(dest))
  await run.mkdirs(run.ctx.layout.parts)
  await fs.rm(dest, { force: true })
  try {
    const r = await assembleDelta(fetchRequest(run, a, dest), input)
    run.transferred(r.fetched)
    run.obtained.set(a.component, { how: 'delta', bytes_fetched: r.fetched, bytes_reused: r.reused })
    return `delta: ${formatBytes(r.reused)} reused, ${formatBytes(r.fetched)} fetched`
  } catch (e) {
    run.ctx.report.warn(`${a.component}: delta failed (${(e as Error).message}); fetching it whole`)
    return fetchStep(run, releaseId, a, false)
  }
}

/** Downloads into the part, verifies, moves into staging. `staged` files are rehashed first. */
export async function fetchStep(run: StepRun, releaseId: string, a: ArtifactRef, staged: boolean): Promise<string> {
  const { ctx } = run
  const dest = stagedPath(run, releaseId, a)
  if (staged && (await verifiedAt(dest, a, { ownInode: true }))) {
    await fs.chmod(dest, a.mode)
    run.obtained.set(a.component, { how: 'fetched', bytes_fetched: 0 })
    return 'already staged and verified'
  }
  await run.mkdirs(path.dirname(dest))
  await run.mkdirs(ctx.layout.parts)
  await fs.rm(dest, { force: true })
  const prefetched = ctx.prefetched?.get(a.sha256)
  if (prefetched && prefetched.length === a.size) {
    await writeFileAtomic(dest, prefetched, a.mode)
    run.transferred(a.size)
    run.obtained.set(a.component, { how: 'fetched', bytes_fetched: a.size })
    return `${formatBytes(a.size)} (read while planning)`
  }
  try {
    const r = await fetchArtifact(fetchRequest(run, a, dest))
    run.transferred(r.bytesTransferred)
    run.obtained.set(a.component, { how: 'fetched', bytes_fetched: r.bytesTransferred })
    return r.resumedFrom > 0 ? `resumed at ${formatBytes(r.resumedFrom)}, ${formatBytes(r.bytesTransferred)}` : formatBytes(r.bytesTransferred)
  } catch (e) {
    if (e instanceof FetchError && e.reason === 'absent' && !a.required) {
      run.skipped.add(a.component)
      return 'optional and absent: skipped'
    }
    if (e instanceof FetchError && a.kind === CHUNK_INDEX_KIND) {
      // A chunk index only speeds up later upgrades: without it this release just cannot be a delta source.
      run.skipped.add(a.component)
      ctx.report.warn(`${e.message}; the release is sealed without this chunk index`)
      return 'chunk index unusable: skipped'
    }
    if (e instanceof FetchError) throw operationFailed(`${e.message}. Nothing was switched; ${run.activeNote()}`)
    // A write error's system message names no file: say which directory it was writing.
    if (isSystemError(e)) throw new StepError(`${a.component}: ${e.message} (fetching into ${ctx.layout.parts}); ${run.hostStands()}`, e.code)
    throw e
  }
}

/**
 * The bytes at `file` are the artifact's, in a regular file of the root's own (never through a
 * symlink; with `ownInode`, not an inode shared with a file elsewhere, whose writer could change it).
 */
export async function verifiedAt(file: string, a: ArtifactRef, o: { ownInode?: boolean } = {}): Promise<boolean> {
  try {
    const st = await fs.lstat(file)
    if (!st.isFile() || (o.ownInode && st.nlink !== 1)) return false
    const d = await hashFile(file)
    return d.sha256 === a.sha256 && d.size === a.size
  } catch {
    return false
  }
}

export async function linkStep(run: StepRun, releaseId: string, a: ArtifactRef, from: string): Promise<string> {
  const src = path.join(run.ctx.layout.release(from), a.install_path)
  const dest = stagedPath(run, releaseId, a)
  await run.mkdirs(path.dirname(dest))
  const [s, d] = await Promise.all([fs.stat(src), fs.lstat(dest).catch(() => null)])
  if (d?.ino !== s.ino) await replaceWithHardLink(src, dest)
  run.obtained.set(a.component, { how: 'linked', from_release: from })
  return `hard link to ${from}`
}

export async function adoptStep(run: StepRun, releaseId: string, a: ArtifactRef): Promise<string> {
  const local = path.join(run.ctx.layout.release(releaseId), a.install_path)
  if (await verifiedAt(local, a, { ownInode: true })) {
    const dest = stagedPath(run, releaseId, a)
    await run.mkdirs(path.dirname(dest))
    await replaceWithHardLink(local, dest)
    await fs.chmod(dest, a.mode)
    run.obtained.set(a.component, { how: 'verified-local' })
    return 'local copy verified'
  }
  return fetchStep(run, releaseId, a, false)
}
