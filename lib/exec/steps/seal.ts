// Steps that write a seal: `seal` turns a staged release into a sealed one (manifest, seal,
// fsync, one rename into place); `repair` restores a sealed release's changed file and
// updates its seal.
import fs from 'node:fs/promises'
import path from 'node:path'
import { MANIFEST_FILE, SIGNATURE_FILE } from '../../layout.js'
import type { ArtifactRef } from '../../plan/types.js'
import { stagesArtifact } from '../../plan/artifact.js'
import { fsyncTree, removeTreeAside, renameDurable, writeFileAtomic } from '../../fsx.js'
import { operationFailed } from '../../errors.js'
import { type Obtained, type Seal, type SealedComponent, readSeal, writeSeal } from '../../../state/seal.js'
import { DIR_MODE, type StepRun } from '../context.js'
import { fetchStep, stagedPath, verifiedAt } from './obtain.js'

/** Collects what is staged into a seal, writes it, then renames the release into place. */
export async function sealStep(run: StepRun, releaseId: string, replacesUnsealed: boolean): Promise<string> {
  const { ctx } = run
  const { layout } = ctx
  const dir = layout.staged(releaseId)
  const final = layout.release(releaseId)
  const components: SealedComponent[] = []
  for (const c of run.plan.steps.flatMap((s) => (stagesArtifact(s) && s.release_id === releaseId ? [s.artifact] : []))) {
    if (run.skipped.has(c.component)) {
      components.push({ name: c.component, kind: c.kind, install_path: c.install_path, status: 'skipped', sha256: c.sha256, size: c.size, reason: 'optional artifact absent at its source' })
      continue
    }
    const file = path.join(dir, c.install_path)
    const st = await fs.stat(file)
    if (st.size !== c.size) throw operationFailed(`${c.component}: staged file has ${st.size} bytes, not ${c.size}; run the command again`)
    components.push({
      name: c.component,
      kind: c.kind,
      install_path: c.install_path,
      status: 'installed',
      sha256: c.sha256,
      size: c.size,
      mtime_ms: Math.trunc(st.mtimeMs),
      ino: st.ino,
      obtained: run.obtained.get(c.component) ?? { how: 'fetched', bytes_fetched: 0 },
    })
  }
  await run.mkdirs(dir)
  await writeFileAtomic(path.join(dir, MANIFEST_FILE), ctx.manifestBytes, 0o444)
  if (ctx.signatureBytes) await writeFileAtomic(path.join(dir, SIGNATURE_FILE), ctx.signatureBytes, 0o444)
  await fsyncTree(dir)
  const seal: Seal = {
    format_version: 1,
    release_id: releaseId,
    manifest_id: ctx.manifestId,
    version: ctx.version,
    manifest_digest: run.plan.manifest.digest,
    sealed_at: ctx.now().toISOString(),
    signed: ctx.signatureBytes !== null,
    components,
  }
  await writeSeal(dir, seal)
  await fs.chmod(dir, DIR_MODE)
  if (replacesUnsealed) await removeTreeAside(final, path.join(layout.staging, `.replaced-${releaseId}`), { missingOk: true })
  await renameDurable(dir, final)
  return `sealed ${releaseId}`
}

export async function repairStep(run: StepRun, releaseId: string, a: ArtifactRef): Promise<string> {
  const { layout } = run.ctx
  const final = path.join(layout.release(releaseId), a.install_path)
  let how: Obtained
  if (await verifiedAt(final, a)) {
    how = { how: 'verified-local' }
  } else {
    await fetchStep(run, releaseId, a, false)
    const staged = stagedPath(run, releaseId, a)
    await run.mkdirs(path.dirname(final))
    await renameDurable(staged, final)
    await fs.rm(layout.staged(releaseId), { recursive: true, force: true })
    const obtained = run.obtained.get(a.component)
    how = { how: 'repaired', bytes_fetched: obtained?.how === 'fetched' ? obtained.bytes_fetched : 0 }
  }
  const read = await readSeal(layout.release(releaseId))
  if (read.kind !== 'sealed') throw operationFailed(`release ${releaseId}: ${read.kind === 'invalid' ? read.reason : 'the seal is missing'}`)
  const st = await fs.stat(final)
  const components = read.seal.components.map((c): SealedComponent =>
    c.install_path === a.install_path && c.status === 'installed' ? { ...c, mtime_ms: Math.trunc(st.mtimeMs), ino: st.ino, obtained: how } : c,
  )
  await writeSeal(layout.release(releaseId), { ...read.seal, components })
  return how.how === 'verified-local' ? 'bytes intact; seal updated' : 'replaced with a verified copy'
}
