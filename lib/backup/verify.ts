// `backup verify`: the record's signature, the archive's size and sha256, every member equal to
// its record entry, and a restore drill: the archive extracted into a scratch directory beside
// it and every file rehashed there. Success writes `<id>.verified.json`; any failure removes an
// earlier one, so a mark never outlives the bytes it vouched for.
import fs from 'node:fs/promises'
import path from 'node:path'
import { createHash, randomBytes, type KeyObject } from 'node:crypto'
import { E } from '../commonjs.cjs'
import { BACKUP_ID, type BackupRecord, decodeRecord, VerifiedMark } from './record.js'
import { isUnreadable, openRegularFile, readBlocks, readRegularFile, writeFileAtomic } from '../fsx.js'
import { checkSignature, keyId } from '../signature.js'
import { TOOL_VERSION } from '../version.js'
import { usageError } from '../errors.js'

export const MAX_RECORD_BYTES = 64 * 1024 * 1024

export interface BackupFiles {
  readonly dir: string
  readonly id: string
  readonly archive: string
  readonly record: string
  readonly sig: string
  readonly verified: string
}

export const filesOf = (dir: string, id: string): BackupFiles => ({
  dir,
  id,
  archive: path.join(dir, `${id}.tar.gz`),
  record: path.join(dir, `${id}.json`),
  sig: path.join(dir, `${id}.json.sig`),
  verified: path.join(dir, `${id}.verified.json`),
})

/** `ID` (in `dir`) or a FILE of a backup (`<id>.tar.gz`, `<id>.json`, ...). */
export function locateBackup(arg: string, dir: string): BackupFiles {
  if (BACKUP_ID.test(arg)) return filesOf(dir, arg)
  const base = path.basename(arg).replace(/\.(tar\.gz|json\.sig|verified\.json|json)$/, '')
  if (!BACKUP_ID.test(base)) throw usageError(`${arg}: not a backup id (<yyyymmddTHHMMSSZ>-<release-id>) nor a backup's file (<id>.tar.gz, <id>.json); see backup list`)
  return filesOf(path.dirname(path.resolve(arg)), base)
}

export interface SignatureStatus {
  readonly status: 'valid' | 'unsigned' | 'not checked'
  readonly key_id: string | null
}

export interface VerifyResult {
  readonly backup_id: string
  readonly ok: boolean
  /** The first problem, naming the entry or file; null when ok. */
  readonly problem: string | null
  readonly record: BackupRecord | null
  readonly signature: SignatureStatus
  readonly verified_at: string | null
  /** The extracted tree, when asked to keep it (restore); removed otherwise. */
  readonly drill: string | null
}

export interface VerifyOptions {
  /** The public key to check the signature with; null when none is known. */
  readonly key: KeyObject | null
  readonly keepDrill: boolean
  readonly now: () => Date
}

async function sha256Of(file: string, size: number): Promise<string | null> {
  const opened = await openRegularFile(file, size)
  if (isUnreadable(opened)) return null
  const hash = createHash('sha256')
  try {
    for await (const block of readBlocks(opened.fh, size)) hash.update(block)
  } finally {
    await opened.fh.close()
  }
  return hash.digest('hex')
}

async function readMark(file: string): Promise<VerifiedMark | null> {
  const raw = await readRegularFile(file, 64 * 1024)
  if (isUnreadable(raw)) return null
  try {
    const d = VerifiedMark.decode(JSON.parse(raw.toString('utf8')))
    return E.isRight(d) ? d.right : null
  } catch {
    return null
  }
}

/** When the backup's `.verified.json` says it verified, or null (none, or not a mark). */
export const verifiedAt = async (f: BackupFiles): Promise<string | null> => (await readMark(f.verified))?.verified_at ?? null

export async function verifyBackup(f: BackupFiles, o: VerifyOptions): Promise<VerifyResult> {
  let record: BackupRecord | null = null
  let signature: SignatureStatus = { status: 'not checked', key_id: null }
  let drill: string | null = null
  const failed = async (problem: string): Promise<VerifyResult> => {
    await fs.rm(f.verified, { force: true })
    if (drill !== null) await fs.rm(drill, { recursive: true, force: true })
    return { backup_id: f.id, ok: false, problem, record, signature, verified_at: null, drill: null }
  }

  const raw = await readRegularFile(f.record, MAX_RECORD_BYTES)
  if (isUnreadable(raw)) return failed(`${f.record} ${raw.why}`)
  const decoded = decodeRecord(raw)
  if (E.isLeft(decoded)) return failed(`${f.record} ${decoded.left}`)
  record = decoded.right
  if (record.backup_id !== f.id) return failed(`${f.record} records backup_id ${record.backup_id}, not ${f.id}: a record renamed from another backup`)

  const sigPresent = (await fs.lstat(f.sig).catch(() => null)) !== null
  if (o.key !== null) {
    const id = keyId(o.key)
    if (!sigPresent) return failed(`${f.sig} is missing, but the record must be signed by key ${id}: an unsigned record could have been rewritten`)
    const check = await checkSignature(raw, f.sig, new Map([[id, o.key]]), { followSymlink: false })
    if (E.isLeft(check)) return failed(`${f.record}: ${check.left}`)
    signature = { status: 'valid', key_id: id }
  } else signature = { status: sigPresent ? 'not checked' : 'unsigned', key_id: null }

  const st = await fs.lstat(f.archive).catch(() => null)
  if (st === null) return failed(`${f.archive} is missing`)
  if (!st.isFile()) return failed(`${f.archive} is not a regular file`)
  if (st.size !== record.archive.size) return failed(`${f.archive} has ${st.size} bytes, recorded ${record.archive.size} (truncated or replaced)`)
  const sha = await sha256Of(f.archive, record.archive.size)
  if (sha !== record.archive.sha256) return failed(`${f.archive} has sha256 ${sha ?? '(unreadable)'}, recorded ${record.archive.sha256} (changed after the backup)`)

  drill = path.join(f.dir, `.${f.id}.drill.tmp-${process.pid}-${randomBytes(4).toString('hex')}`)
  await fs.mkdir(drill, { mode: 0o700 })
  // tar is loaded only when an archive is read, not by every plan that asks the migration guard.
  const { checkArchive } = await import('./archive.js')
  const check = await checkArchive(f.archive, record.entries, drill)
  if (check.problem !== null) return failed(`${f.archive}: ${check.problem}`)
  // The drill: what was extracted is read back from disk, file by file.
  for (const e of record.entries) {
    const p = path.join(drill, e.path)
    const lst = await fs.lstat(p).catch(() => null)
    const kind = lst === null ? 'missing' : lst.isSymbolicLink() ? 'symlink' : lst.isDirectory() ? 'dir' : lst.isFile() ? 'file' : 'other'
    if (kind !== e.type) return failed(`restore drill: ${e.path} came out ${kind}, recorded ${e.type}`)
    if (e.type === 'file') {
      const got = await sha256Of(p, e.size)
      if (got !== e.sha256) return failed(`restore drill: ${e.path} reads back as sha256 ${got ?? '(unreadable or resized)'}, recorded ${e.sha256}`)
    }
    if (e.type === 'symlink' && (await fs.readlink(p)) !== e.target) return failed(`restore drill: ${e.path} links elsewhere than recorded`)
  }
  if (!o.keepDrill) {
    await fs.rm(drill, { recursive: true, force: true })
    drill = null
  }
  const verified_at = o.now().toISOString()
  await writeFileAtomic(f.verified, `${JSON.stringify({ verified_at, tool_version: TOOL_VERSION }, null, 2)}\n`, 0o600)
  return { backup_id: f.id, ok: true, problem: null, record, signature, verified_at, drill }
}

