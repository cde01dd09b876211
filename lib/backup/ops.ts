// What `backup create`, `backup verify` and `upgrade --backup` share: a backup taken or
// verified, with its history event. The caller holds the host lock.
import type { Layout } from '../layout.js'
import { readCurrentId } from '../../state/read.js'
import { BACKUP_ID, backupIdOf } from './record.js'
import { createBackup, type CreatedBackup, type CreateOptions } from './create.js'
import { verifyBackup, type BackupFiles, type VerifyOptions, type VerifyResult } from './verify.js'
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
