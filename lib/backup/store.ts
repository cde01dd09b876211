// The backups of a directory: listing them (newest first) and pruning old ones. A backup is
// its record `<id>.json`; what a killed create left without one is not a backup.
import fs from 'node:fs/promises'
import path from 'node:path'
import { E } from '../commonjs.cjs'
import { BACKUP_ID, decodeRecord } from './record.js'
import { filesOf, MAX_RECORD_BYTES, verifiedAt } from './verify.js'
import { isUnreadable, readRegularFile } from '../fsx.js'
import { errnoCode } from '../errors.js'

export interface BackupRow {
  readonly backup_id: string
  readonly created_at: string | null
  readonly release_id: string
  readonly version: string | null
  /** The archive's recorded size in bytes; null when the record is unreadable. */
  readonly size: number | null
  readonly signed: boolean
  readonly verified_at: string | null
  /** Why the record cannot be read; null when it decodes. */
  readonly problem: string | null
}

export async function listBackups(dir: string): Promise<BackupRow[]> {
  let names: string[]
  try {
    names = await fs.readdir(dir)
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return []
    throw e
  }
  const records = new Set(names.map((n) => /^(.+)\.json$/.exec(n)?.[1]).filter((id): id is string => id !== undefined && BACKUP_ID.test(id)))
  // `<id>.verified.json` looks like the record of an id ending in `.verified`: it is that id's mark.
  const ids = [...records].filter((id) => !(id.endsWith('.verified') && records.has(id.slice(0, -'.verified'.length))))
  const rows: BackupRow[] = []
  for (const id of ids.sort().reverse()) {
    const f = filesOf(dir, id)
    const raw = await readRegularFile(f.record, MAX_RECORD_BYTES)
    const decoded = isUnreadable(raw) ? E.left(raw.why) : decodeRecord(raw)
    const signed = names.includes(path.basename(f.sig))
    if (E.isLeft(decoded)) {
      rows.push({ backup_id: id, created_at: null, release_id: BACKUP_ID.exec(id)![2], version: null, size: null, signed, verified_at: null, problem: `${f.record} ${decoded.left}` })
      continue
    }
    const r = decoded.right
    rows.push({ backup_id: id, created_at: r.created_at, release_id: r.release_id, version: r.version, size: r.archive.size, signed, verified_at: await verifiedAt(f), problem: null })
  }
  return rows
}

export interface PruneResult {
  readonly kept: readonly string[]
  readonly removed: readonly string[]
}

/** Keeps the newest `keep` backups and always the newest verified one; removes every file of the others. */
export async function pruneBackups(dir: string, keep: number): Promise<PruneResult> {
  const rows = await listBackups(dir)
  const newestVerified = rows.find((r) => r.verified_at !== null)?.backup_id
  const kept = rows.filter((r, i) => i < keep || r.backup_id === newestVerified).map((r) => r.backup_id)
  const removed = rows.map((r) => r.backup_id).filter((id) => !kept.includes(id))
  for (const id of removed) {
    const f = filesOf(dir, id)
    // The record first: once it is gone the rest is not a backup, whatever happens next.
    for (const p of [f.record, f.verified, f.sig, f.archive]) await fs.rm(p, { force: true })
  }
  return { kept, removed }
}
