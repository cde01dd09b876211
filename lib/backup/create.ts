// `backup create`: runs the pre-backup hooks into a dump directory, archives the dump, the
// configuration, the state file and the operator's backup paths, and writes the record (signed
// with the evidence key when one is configured). Every file is written under a temp name and
// renamed into place last, record last of all: a failed or killed backup leaves no `<id>.*`.
// The caller holds the host lock.
import fs from 'node:fs/promises'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import { BACKUP_FORMAT, BACKUP_ID, backupIdOf, type BackupRecord } from './record.js'
import type { ArchiveSource } from './archive.js'
import { EVIDENCE_KEY, STATE_DIR, type Layout } from '../layout.js'
import { errnoCode, Failure, operationFailed } from '../errors.js'
import { fsyncDir, isUnreadable, mkdirUnder, readRegularFile, renameDurable } from '../fsx.js'
import { signBytes } from '../signature.js'
import { TOOL_VERSION } from '../version.js'
import { readHookDir } from '../../state/hooks.js'
import { runHooks } from '../exec/hooks.js'
import { readCurrentId } from '../../state/read.js'
import { loadSealedRelease } from '../../state/sealed-release.js'
import { evidenceSigningKey } from './keys.js'

export const BACKUPS_DIR = '/var/lib/nullspace/backups'
export const BACKUP_PATHS = '/etc/nullspace/backup-paths'
export const PRE_BACKUP_HOOKS = '/etc/nullspace/hooks/pre-backup.d'
export const POST_RESTORE_HOOKS = '/etc/nullspace/hooks/post-restore.d'
export const CONFIG_DIR = '/etc/nullspace'

/** `--dest` as given, else the host's backups directory under the root. */
export const backupsDir = (l: Layout, dest: string | undefined): string => (dest === undefined ? l.host(BACKUPS_DIR) : path.resolve(dest))

export interface CreateOptions {
  readonly dest: string | undefined
  readonly hookTimeoutMs: number
  readonly now: () => Date
  readonly warn: (text: string) => void
}

export interface CreatedBackup {
  readonly dir: string
  readonly record: BackupRecord
  readonly signed: boolean
  readonly warnings: readonly string[]
}

/** Temp names of this module: `.<id>.<what>.tmp-<pid>-<8 hex>`; a dead pid's are swept by the next create. */
const TEMP = /^\.(.+)\.tmp-(\d+)-[0-9a-f]{8}$/
const tempName = (dir: string, name: string) => path.join(dir, `.${name}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`)

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return errnoCode(e) === 'EPERM'
  }
}

/**
 * Removes what a killed create left: temp files and work directories of a pid that is gone, and
 * an archive or signature renamed into place whose record (renamed last) never followed.
 */
export async function sweepTemps(dir: string): Promise<void> {
  const names = await fs.readdir(dir).catch(() => [] as string[])
  for (const name of names) {
    const m = TEMP.exec(name)
    const orphan = /^(.+)\.(tar\.gz|json\.sig)$/.exec(name)
    if ((m && Number(m[2]) !== process.pid && !alive(Number(m[2]))) || (orphan && BACKUP_ID.test(orphan[1]) && !names.includes(`${orphan[1]}.json`)))
      await fs.rm(path.join(dir, name), { recursive: true, force: true })
  }
}

/** `etc/nullspace/backup-paths`: absolute, normalised host paths, one a line, `#` comments. */
async function readBackupPaths(l: Layout): Promise<string[]> {
  const file = l.host(BACKUP_PATHS)
  const raw = await readRegularFile(file, 1024 * 1024)
  if (isUnreadable(raw)) {
    if (raw.missing) return []
    throw operationFailed(`${file} ${raw.why}; it must be a file listing one absolute host path a line`)
  }
  const paths: string[] = []
  raw.toString('utf8').split('\n').forEach((line, i) => {
    const p = line.trim()
    if (p === '' || p.startsWith('#')) return
    if (!path.posix.isAbsolute(p) || path.posix.normalize(p) !== p || p === '/' || p.endsWith('/'))
      throw operationFailed(`${file} line ${i + 1}: ${JSON.stringify(p)} is not an absolute, normalised host path below / (e.g. /srv/nullspace/data); fix the line. No backup was written`)
    if (!paths.includes(p)) paths.push(p)
  })
  return paths
}

/** A listed path is read where it is: a link above it (say /srv -> /) would carry the backup off the root. */
async function refuseLinkedParents(l: Layout, hostPath: string): Promise<void> {
  for (let d = path.posix.dirname(hostPath); d !== '/'; d = path.posix.dirname(d)) {
    const st = await fs.lstat(l.host(d)).catch(() => null)
    if (st?.isSymbolicLink()) throw operationFailed(`${l.host(BACKUP_PATHS)} lists ${hostPath}, but ${l.host(d)} is a symlink; list the real path instead. No backup was written`)
  }
}

export async function createBackup(l: Layout, o: CreateOptions): Promise<CreatedBackup> {
  // tar is loaded by the commands that write or read an archive, not by every plan that asks the migration guard.
  const { ArchiveFailure, writeArchive } = await import('./archive.js')
  const releaseId = await readCurrentId(l)
  if (releaseId === null) throw operationFailed('no active release on this host (releases/current); a backup belongs to the release it was taken under: install one first')
  const release = await loadSealedRelease(l, releaseId)
  const bundle = release.manifest.components.find((c) => c.kind === 'migration_bundle')
  const key = await evidenceSigningKey(l)
  const dir = backupsDir(l, o.dest)
  if (o.dest === undefined) await mkdirUnder(l.root, dir, 0o700)
  else await fs.mkdir(dir, { recursive: true, mode: 0o700 })
  await sweepTemps(dir)

  const at = o.now()
  const id = backupIdOf(at, releaseId)
  const existing = (await fs.readdir(dir)).filter((n) => n.startsWith(`${id}.`))
  if (existing.length > 0) throw operationFailed(`${path.join(dir, existing[0])} exists: a backup named ${id} was taken this second; run the command again`)

  const warnings: string[] = []
  const warn = (text: string) => {
    warnings.push(text)
    o.warn(text)
  }
  const work = tempName(dir, `${id}.work`)
  const archiveTmp = tempName(dir, `${id}.tar.gz`)
  const recordTmp = tempName(dir, `${id}.json`)
  const sigTmp = tempName(dir, `${id}.json.sig`)
  const final = { archive: path.join(dir, `${id}.tar.gz`), record: path.join(dir, `${id}.json`), sig: path.join(dir, `${id}.json.sig`) }
  try {
    const dump = path.join(work, 'dump')
    await fs.mkdir(dump, { recursive: true, mode: 0o700 })
    const hooks = await readHookDir(l, PRE_BACKUP_HOOKS)
    if (hooks.unsafe.length > 0) throw operationFailed(`pre-backup hook path ${hooks.unsafe[0].path} ${hooks.unsafe[0].problem}. No backup was written`)
    await runHooks(l.host(PRE_BACKUP_HOOKS), hooks.runnable, { root: l.root, releaseId, previousReleaseId: null, operation: 'backup', backupDir: dump, kind: 'pre-backup' }, o.hookTimeoutMs)

    const sources: ArchiveSource[] = [{ name: 'dump', hostPath: dump }]
    const exists = async (p: string) => (await fs.lstat(p).catch(() => null)) !== null
    if (await exists(l.host(CONFIG_DIR))) sources.push({ name: 'etc/nullspace', hostPath: l.host(CONFIG_DIR) })
    if (await exists(l.stateFile)) sources.push({ name: 'var/lib/nullspace/state.json', hostPath: l.stateFile })
    for (const p of await readBackupPaths(l)) {
      await refuseLinkedParents(l, p)
      if (!(await exists(l.host(p)))) throw operationFailed(`${l.host(BACKUP_PATHS)} lists ${p}, which does not exist under the root; create it or remove the line. No backup was written`)
      sources.push({ name: `files${p}`, hostPath: l.host(p) })
    }
    // Private keys never enter a backup; nor does the backup directory itself, when a listed path holds it.
    const exclude = new Set([l.host(EVIDENCE_KEY), dir, l.host(path.posix.join(STATE_DIR, 'lock'))])
    const written = await writeArchive(archiveTmp, sources, exclude, warn)
    const record: BackupRecord = {
      format: BACKUP_FORMAT,
      backup_id: id,
      created_at: at.toISOString(),
      release_id: releaseId,
      version: release.manifest.version,
      manifest_digest: release.digest,
      migration_bundle_sha256: bundle?.sha256 ?? '',
      tool_version: TOOL_VERSION,
      archive: { file: `${id}.tar.gz`, sha256: written.sha256, size: written.size },
      entries: written.entries,
    }
    const recordBytes = Buffer.from(`${JSON.stringify(record, null, 2)}\n`)
    await writeNew(recordTmp, recordBytes)
    if (key) await writeNew(sigTmp, Buffer.from(`${JSON.stringify(signBytes(recordBytes, key), null, 2)}\n`))
    await fs.rm(work, { recursive: true, force: true })
    // The record names the backup: it is renamed last, so a reader never sees a record without its archive.
    await renameDurable(archiveTmp, final.archive)
    if (key) await renameDurable(sigTmp, final.sig)
    await renameDurable(recordTmp, final.record)
    return { dir, record, signed: key !== null, warnings }
  } catch (e) {
    await Promise.all([work, archiveTmp, recordTmp, sigTmp, final.archive, final.sig].map((p) => fs.rm(p, { recursive: true, force: true })))
    await fsyncDir(dir).catch(() => {})
    if (e instanceof Failure) throw e
    if (e instanceof ArchiveFailure) throw operationFailed(`${e.message}. No backup was written`)
    throw operationFailed(`backup failed: ${(e as Error).message}. No backup was written`)
  }
}

async function writeNew(file: string, bytes: Buffer): Promise<void> {
  const fh = await fs.open(file, 'wx', 0o600)
  try {
    await fh.writeFile(bytes)
    await fh.sync()
  } finally {
    await fh.close()
  }
}
