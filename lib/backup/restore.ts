// `backup restore`: puts a verified backup of the active release back. The backup is verified
// again first, and the restore drill's extracted tree is what is put back: each entry under a
// temp name renamed over its place, never through a link. The managed units are stopped
// around it (systemd), the post-restore hooks load the dump, then the units start and are
// health-checked. The caller holds the host lock.
import fs from 'node:fs/promises'
import path from 'node:path'
import type { KeyObject } from 'node:crypto'
import { E } from '../commonjs.cjs'
import type { Layout } from '../layout.js'
import type { ServiceManager } from '../plan/types.js'
import { operationFailed } from '../errors.js'
import { copyFileAtomic, isUnreadable, mkdirUnder, readRegularFile, switchSymlink } from '../fsx.js'
import { readHookDir } from '../../state/hooks.js'
import { runHooks } from '../exec/hooks.js'
import { systemctl, waitHealthy } from '../exec/services.js'
import { readCurrentId } from '../../state/read.js'
import { loadSealedRelease } from '../../state/sealed-release.js'
import { renderApplianceFiles, unitOf } from '../appliance-files.js'
import { decodeRecord, type BackupEntry } from './record.js'
import { MAX_RECORD_BYTES, verifyBackup, type BackupFiles } from './verify.js'
import { POST_RESTORE_HOOKS } from './create.js'

export interface RestoreOptions {
  readonly key: KeyObject | null
  readonly serviceManager: ServiceManager
  readonly settleS: number
  readonly timeoutS: number
  readonly hookTimeoutMs: number
}

export interface Restored {
  readonly backup_id: string
  readonly release_id: string
  /** Entries put back on the host (the dump is not: the hooks load it). */
  readonly restored: number
  readonly hooks: readonly string[]
  readonly services: 'restarted' | 'not managed'
}

/** Where an archive member goes on the host (null: the dump, which only the hooks read). */
function hostPathOf(l: Layout, name: string): string | null {
  if (name === 'dump' || name.startsWith('dump/')) return null
  if (name.startsWith('files/')) return l.host(name.slice('files'.length))
  return l.host(`/${name}`)
}

/** One entry from the drill to its host path: a temp name beside it, renamed over it; a link is replaced, never written through. */
async function putBack(l: Layout, e: BackupEntry, from: string, to: string): Promise<void> {
  await mkdirUnder(l.root, path.dirname(to))
  if (e.type === 'dir') {
    await mkdirUnder(l.root, to, e.mode)
    await fs.chmod(to, e.mode)
    return
  }
  if (e.type === 'symlink') return switchSymlink(to, e.target!)
  await copyFileAtomic(from, to, e.mode)
}

export async function restoreBackup(l: Layout, f: BackupFiles, o: RestoreOptions): Promise<Restored> {
  const active = await readCurrentId(l)
  if (active === null) throw operationFailed(`no active release on this host: install the release backup ${f.id} was taken under, then restore it. Nothing was changed`)
  // The release is checked before the (long) verify: a dump of an older schema does not load into a newer one.
  const raw = await readRegularFile(f.record, MAX_RECORD_BYTES)
  if (isUnreadable(raw)) throw operationFailed(`${f.record} ${raw.why}; see backup list. Nothing was changed`)
  const decoded = decodeRecord(raw)
  if (E.isLeft(decoded)) throw operationFailed(`${f.record} ${decoded.left}. Nothing was changed`)
  const releaseId = decoded.right.release_id
  if (releaseId !== active)
    throw operationFailed(`backup ${f.id} is of release ${releaseId}, but ${active} is active: run nullspace-host rollback --to ${releaseId} first (a dump of an older schema does not load into a newer one). Nothing was changed`)
  const v = await verifyBackup(f, { key: o.key, keepDrill: true, now: () => new Date() })
  if (!v.ok || v.drill === null || v.record === null) throw operationFailed(`backup ${f.id} does not verify: ${v.problem}; it cannot be restored. Nothing was changed`)
  const drill = v.drill
  try {
    const release = await loadSealedRelease(l, active)
    const units = renderApplianceFiles(release.manifest, release.digest).map((x) => unitOf(x)).filter((u): u is string => u !== null)
    const managed = o.serviceManager === 'systemd'
    if (managed) for (const unit of units) await systemctl('stop', unit)
    let restored = 0
    for (const e of v.record.entries) {
      const to = hostPathOf(l, e.path)
      if (to === null) continue
      try {
        await putBack(l, e, path.join(drill, e.path), to)
      } catch (err) {
        throw operationFailed(`restore of ${f.id} stopped at ${e.path} -> ${to}: ${(err as Error).message}. ${restored} entries were put back${managed ? ' and the units are stopped' : ''}; fix the cause and run backup restore ${f.id} --yes again`)
      }
      restored++
    }
    // The hooks as restored: the backup's own post-restore.d, judged by the same rule as every hook.
    const hooks = await readHookDir(l, POST_RESTORE_HOOKS)
    if (hooks.unsafe.length > 0) throw operationFailed(`post-restore hook path ${hooks.unsafe[0].path} ${hooks.unsafe[0].problem}. The files are restored, the dump is not loaded${managed ? ' and the units are stopped' : ''}`)
    try {
      await runHooks(l.host(POST_RESTORE_HOOKS), hooks.runnable, { root: l.root, releaseId: active, previousReleaseId: null, operation: 'restore', backupDir: path.join(drill, 'dump'), kind: 'post-restore' }, o.hookTimeoutMs)
    } catch (err) {
      throw operationFailed(`${(err as Error).message}: the files of ${f.id} are restored but its dump may not be loaded${managed ? ', and the units are stopped' : ''}; fix the hook and run backup restore ${f.id} --yes again`)
    }
    if (managed)
      for (const unit of units) {
        try {
          await systemctl('start', unit)
          await waitHealthy({ unit, pidBefore: 0, settleS: o.settleS, timeoutS: o.timeoutS })
        } catch (err) {
          throw operationFailed(`${f.id} is restored, but ${(err as Error).message}; read the unit's log (journalctl -u ${unit})`)
        }
      }
    return { backup_id: f.id, release_id: active, restored, hooks: hooks.runnable, services: managed ? 'restarted' : 'not managed' }
  } finally {
    await fs.rm(drill, { recursive: true, force: true })
  }
}
