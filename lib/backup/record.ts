// The backup record `<id>.json` (ARCHITECTURE.md section 8.2): what the archive must hold, entry by
// entry, and which release it belongs to. The codec is the format; every file read back is decoded.
import { t, E } from '../commonjs.cjs'
import { formatProblem, problemsFromErrors } from '../manifest/problems.js'

export const BACKUP_FORMAT = 'nullspace-backup-v1'

/** `<UTC yyyymmddTHHMMSSZ>-<release-id>`: sorts by time, no character a shell or a filesystem minds. */
export const BACKUP_ID = /^(\d{8}T\d{6}Z)-([A-Za-z0-9][A-Za-z0-9._-]{0,63})$/

export const backupIdOf = (at: Date, releaseId: string): string => `${at.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z')}-${releaseId}`

export const BackupEntry = t.intersection([
  t.type({
    path: t.string,
    type: t.union([t.literal('file'), t.literal('dir'), t.literal('symlink')]),
    size: t.number,
    mode: t.number,
  }),
  t.partial({
    /** Files only: 64 lowercase hex. */
    sha256: t.string,
    /** Symlinks only: the link's text, never followed. */
    target: t.string,
  }),
])
export type BackupEntry = t.TypeOf<typeof BackupEntry>

export const BackupRecord = t.type({
  format: t.literal(BACKUP_FORMAT),
  backup_id: t.string,
  created_at: t.string,
  release_id: t.string,
  version: t.string,
  manifest_digest: t.string,
  migration_bundle_sha256: t.string,
  tool_version: t.string,
  archive: t.type({ file: t.string, sha256: t.string, size: t.number }),
  entries: t.array(BackupEntry),
})
export type BackupRecord = t.TypeOf<typeof BackupRecord>

export const VerifiedMark = t.type({ verified_at: t.string, tool_version: t.string })
export type VerifiedMark = t.TypeOf<typeof VerifiedMark>

/** Decodes record bytes; Left is the reason, completing a sentence that starts with the file's name. */
export function decodeRecord(bytes: Buffer): E.Either<string, BackupRecord> {
  let json: unknown
  try {
    json = JSON.parse(bytes.toString('utf8'))
  } catch {
    return E.left('is not valid JSON')
  }
  const decoded = BackupRecord.decode(json)
  if (E.isLeft(decoded)) return E.left(`is not a ${BACKUP_FORMAT} record (${problemsFromErrors(decoded.left).map(formatProblem)[0]})`)
  const problems = recordProblems(decoded.right)
  return problems.length > 0 ? E.left(`is not a consistent backup record: ${problems[0]}`) : E.right(decoded.right)
}

/**
 * An archive member name the restore may write: relative, normalised, no `..`, no empty or `.`
 * segment, under one of the four top-level parts of the layout.
 */
export function entryPathProblem(p: string): string | null {
  if (p === '' || p.startsWith('/')) return 'is absolute or empty'
  const segs = p.split('/')
  if (segs.some((s) => s === '' || s === '.' || s === '..')) return 'is not a normalised relative path (an empty, . or .. segment)'
  if (p.includes('\0')) return 'contains a NUL byte'
  const top = segs[0]
  if (top === 'dump' || top === 'files') return null
  if (p === 'etc' || p === 'etc/nullspace' || p.startsWith('etc/nullspace/')) return p === 'etc/nullspace/evidence-key' ? 'is the evidence key, which never enters a backup' : null
  if (['var', 'var/lib', 'var/lib/nullspace', 'var/lib/nullspace/state.json'].includes(p)) return null
  return 'is outside dump/, etc/nullspace/, var/lib/nullspace/state.json and files/'
}

/** Every cross-field problem of a decoded record. */
export function recordProblems(r: BackupRecord): string[] {
  const problems: string[] = []
  const m = BACKUP_ID.exec(r.backup_id)
  if (!m) problems.push(`backup_id ${JSON.stringify(r.backup_id)} is not <yyyymmddTHHMMSSZ>-<release-id>`)
  else if (m[2] !== r.release_id) problems.push(`backup_id ${r.backup_id} does not name release_id ${r.release_id}`)
  if (r.archive.file !== `${r.backup_id}.tar.gz`) problems.push(`archive.file must be ${r.backup_id}.tar.gz`)
  if (!/^[0-9a-f]{64}$/.test(r.archive.sha256)) problems.push('archive.sha256 is not 64 lowercase hex')
  if (!Number.isSafeInteger(r.archive.size) || r.archive.size < 0) problems.push('archive.size is not a byte count')
  const seen = new Set<string>()
  for (const e of r.entries) {
    const where = `entries: ${JSON.stringify(e.path)}`
    const bad = entryPathProblem(e.path)
    if (bad) problems.push(`${where} ${bad}`)
    if (seen.has(e.path)) problems.push(`${where} is listed twice`)
    seen.add(e.path)
    if (!Number.isSafeInteger(e.size) || e.size < 0) problems.push(`${where}: size is not a byte count`)
    if (e.type === 'file' && !/^[0-9a-f]{64}$/.test(e.sha256 ?? '')) problems.push(`${where}: a file needs a sha256 of 64 lowercase hex`)
    if (e.type === 'symlink' && e.target === undefined) problems.push(`${where}: a symlink needs its target`)
    if (e.type !== 'file' && e.size !== 0) problems.push(`${where}: a ${e.type} has size 0`)
  }
  return problems
}
