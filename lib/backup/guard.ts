// The migration guard (ARCHITECTURE.md section 8.2): an upgrade, or an install over an active release,
// to a release whose migration bundle differs and is not reversible needs a verified backup of
// the active release younger than --backup-max-age. `backupGuard` is pure (the planner's
// blockers); the shell below finds the backup.
import type { Manifest } from '../manifest/codec.js'
import type { Findings } from '../compat.js'
import type { Layout } from '../layout.js'
import { backupsDir } from './create.js'
import { listBackups } from './store.js'

export interface GuardFlags {
  /** false with --no-backup-check. */
  readonly check: boolean
  readonly maxAgeH: number
}

/** Whether moving from `active` to `next` runs migrations that cannot be undone. */
export function needsBackup(active: Manifest | null, next: Manifest): boolean {
  const a = active?.components.find((c) => c.kind === 'migration_bundle')
  const b = next.components.find((c) => c.kind === 'migration_bundle')
  return a !== undefined && b !== undefined && a.sha256 !== b.sha256 && !b.rollback.reversible
}

/** `fresh`: the id of a verified backup of the active release younger than the limit, or null. */
export function backupGuard(active: Manifest | null, next: Manifest, fresh: string | null, o: GuardFlags): Findings {
  if (!o.check || active === null || !needsBackup(active, next) || fresh !== null) return { warnings: [], blockers: [] }
  return {
    warnings: [],
    blockers: [
      {
        message: `the migration bundle of ${next.release_id} differs from ${active.release_id}'s and is not reversible, and no verified backup of ${active.release_id} younger than ${o.maxAgeH} h (--backup-max-age) is on this host; take one first with upgrade --backup (or backup create and backup verify), or pass --no-backup-check to upgrade without one`,
        exit: 1,
      },
    ],
  }
}

/** The newest verified backup of `releaseId` in the host's backups directory created within `maxAgeH` hours of `now` (any age when null). */
export async function verifiedBackupOf(l: Layout, releaseId: string, maxAgeH: number | null, now: Date): Promise<string | null> {
  for (const b of await listBackups(backupsDir(l, undefined))) {
    if (b.release_id !== releaseId || b.verified_at === null || b.created_at === null) continue
    const age = now.getTime() - Date.parse(b.created_at)
    if (maxAgeH === null || (age >= 0 && age <= maxAgeH * 3600_000)) return b.backup_id
  }
  return null
}
