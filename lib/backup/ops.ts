// What `backup create`, `backup verify` and `upgrade --backup` share: a backup taken or
// verified, with its history event. The caller holds the host lock.
import { layout, type Layout } from '../layout.js'
import type { HostFlags } from '../operations.js'
import { operationFailed } from '../errors.js'
import { verifyingKey } from './keys.js'
import { readCurrentId } from '../../state/read.js'
import { BACKUP_ID, backupIdOf } from './record.js'
import { createBackup, type CreatedBackup, type CreateOptions } from './create.js'
import { filesOf, verifyBackup, type BackupFiles, type VerifyOptions, type VerifyResult } from './verify.js'
import { withEvent } from './events.js'

export async function takeBackup(l: Layout, o: CreateOptions): Promise<CreatedBackup> {
  const releaseId = await readCurrentId(l)
  if (releaseId === null) return createBackup(l, o) // refuses: nothing is active, so nothing to name an event by
  const at = o.now()
  return withEvent(l, { op: 'backup', backup_id: backupIdOf(at, releaseId), release_id: releaseId }, () => createBackup(l, { ...o, now: () => at }))
}

/** Verifies; records the event when `record` (the backup lives in the host's own backups directory). */
export async function checkBackup(l: Layout, f: BackupFiles, o: VerifyOptions, record: boolean): Promise<VerifyResult> {
  if (!record) return verifyBackup(f, o)
  const releaseId = BACKUP_ID.exec(f.id)?.[2] ?? ''
  return withEvent(l, { op: 'verify', backup_id: f.id, release_id: releaseId }, () => verifyBackup(f, o), (r) => r.ok, (r) => r.problem ?? undefined)
}

/**
 * `upgrade --backup`: a backup of the active release, taken and verified under the upgrade's lock;
 * one that does not verify stops the upgrade before any change. Null when nothing is active.
 */
export async function backupBeforeUpgrade(flags: HostFlags, warn: (text: string) => void): Promise<string | null> {
  const l = layout(flags.root)
  const active = await readCurrentId(l)
  if (active === null) return null
  const made = await takeBackup(l, { dest: undefined, hookTimeoutMs: flags.hookTimeoutS * 1000, now: () => new Date(), warn })
  const key = await verifyingKey(l, undefined)
  const r = await checkBackup(l, filesOf(made.dir, made.record.backup_id), { key: key?.key ?? null, keepDrill: false, now: () => new Date() }, true)
  if (!r.ok) throw operationFailed(`the backup taken before the upgrade, ${r.backup_id}, does not verify: ${r.problem}. Nothing was upgraded; ${active} is still active`)
  return r.backup_id
}
