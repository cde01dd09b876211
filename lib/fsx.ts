// The dangerous filesystem moves, written once (systemd's fs-util is the model): temp name
// in the same directory, fsync, rename, fsync the directory. No other module calls
// fs.rename or fs.symlink directly.
import fs, { type FileHandle } from 'node:fs/promises'
import { constants } from 'node:fs'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import { EXIT, Failure, errnoCode } from './errors.js'

const tempName = (target: string) => path.join(path.dirname(target), `.${path.basename(target)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`)

export async function fsyncPath(p: string): Promise<void> {
  const fh = await fs.open(p, constants.O_RDONLY)
  try {
    await fh.sync()
  } finally {
    await fh.close()
  }
}

export const fsyncDir = fsyncPath

/**
 * The discipline, once: `fill` creates the temp file beside `target` and returns it open; it is
 * given its mode, synced, closed and renamed over `target`, and the directory is synced. On any
 * failure the temp file is removed and `target` is as it was.
 */
async function replaceAtomic(target: string, mode: number, fill: (tmp: string) => Promise<FileHandle>): Promise<void> {
  const tmp = tempName(target)
  try {
    const fh = await fill(tmp)
    try {
      await fh.chmod(mode)
      await fh.sync()
    } finally {
      await fh.close()
    }
    await fs.rename(tmp, target)
  } catch (e) {
    await fs.rm(tmp, { force: true })
    throw e
  }
  await fsyncDir(path.dirname(target))
}

/** Writes `data` to `target` so a reader sees the old file or the new one, never a torn one. */
export function writeFileAtomic(target: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  return replaceAtomic(target, mode, async (tmp) => {
    const fh = await fs.open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode)
    try {
      await fh.writeFile(data)
      return fh
    } catch (e) {
      await fh.close()
      throw e
    }
  })
}

/** Copies the file `from` over `target` so a reader sees the old file or the new one (a backup's entry put back). */
export function copyFileAtomic(from: string, target: string, mode: number): Promise<void> {
  return replaceAtomic(target, mode, async (tmp) => {
    await fs.copyFile(from, tmp, constants.COPYFILE_EXCL)
    return fs.open(tmp, constants.O_RDONLY | constants.O_NOFOLLOW)
  })
}

/** Points the symlink `link` at `target` atomically: a temp link renamed over it (ARCHITECTURE.md section 3). */
export async function switchSymlink(link: string, target: string): Promise<void> {
  const tmp = tempName(link)
  await fs.symlink(target, tmp)
  try {
    await fs.rename(tmp, link)
  } catch (e) {
    await fs.rm(tmp, { force: true })
    throw e
  }
  await fsyncDir(path.dirname(link))
}

/** Renames a finished directory into place and makes the rename durable. */
export async function renameDurable(from: string, to: string): Promise<void> {
  await fs.rename(from, to)
  await fsyncDir(path.dirname(to))
  if (path.dirname(from) !== path.dirname(to)) await fsyncDir(path.dirname(from))
}

/** fsync every file and directory below `dir`, children first. */
export async function fsyncTree(dir: string): Promise<void> {
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name)
    if (entry.isDirectory()) await fsyncTree(p)
    else if (entry.isFile()) await fsyncPath(p)
  }
  await fsyncDir(dir)
}

/** Makes `dest` a hard link to `src`, removing whatever `dest` was first. */
export async function replaceWithHardLink(src: string, dest: string): Promise<void> {
  await fs.rm(dest, { force: true })
  await fs.link(src, dest)
}

/**
 * Removes the tree `dir` so no reader sees half of it: renamed durably to `aside` (a name in the
 * same filesystem, cleared first), then deleted. With `missingOk`, a `dir` that is not there is no error.
 */
export async function removeTreeAside(dir: string, aside: string, o: { missingOk?: boolean } = {}): Promise<void> {
  await fs.rm(aside, { recursive: true, force: true })
  try {
    await renameDurable(dir, aside)
  } catch (e) {
    if (o.missingOk && errnoCode(e) === 'ENOENT') return
    throw e
  }
  await fs.rm(aside, { recursive: true, force: true })
}

/**
 * A plain rename(2), not made durable, for a move whose loss in a crash is harmless (a dead
 * holder's lock taken over). False when `from` is not there.
 */
export async function renameIfPresent(from: string, to: string): Promise<boolean> {
  try {
    await fs.rename(from, to)
    return true
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return false
    throw e
  }
}

/** Leftover temp names from writeFileAtomic/switchSymlink (a crash between create and rename). */
export const isTempName = (name: string) => /^\..+\.tmp-\d+-[0-9a-f]{8}$/.test(name)

/**
 * `mkdir -p` of `dir` below `root` that refuses to pass through a symlink or a non-directory:
 * a link planted at any level must not redirect a write outside the root.
 */
export async function mkdirUnder(root: string, dir: string, mode = 0o755): Promise<void> {
  const rel = path.relative(root, dir)
  if (rel.startsWith('..') || path.isAbsolute(rel)) throw new Error(`${dir} is outside ${root}`)
  let p = root
  for (const seg of rel === '' ? [] : rel.split(path.sep)) {
    p = path.join(p, seg)
    let st
    try {
      st = await fs.lstat(p)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e
      try {
        await fs.mkdir(p, { mode })
      } catch (e2) {
        if ((e2 as NodeJS.ErrnoException).code !== 'EEXIST') throw e2
      }
      await fs.chmod(p, mode)
      st = await fs.lstat(p)
    }
    if (st.isSymbolicLink()) throw new UnsafePathError(p, `is a symlink (to ${await fs.readlink(p)}); refusing to write through it`)
    if (!st.isDirectory()) throw new UnsafePathError(p, 'is not a directory')
  }
}

export class UnsafePathError extends Failure {
  constructor(
    readonly path: string,
    problem: string,
  ) {
    super(EXIT.failed, `${path} ${problem}; move it aside. Nothing outside the root was written`)
  }
}

/** Why readRegularFile did not read a file; `why` completes a sentence that starts with the file's name. */
export interface UnreadableFile {
  readonly missing: boolean
  readonly why: string
}

export interface RegularFileOptions {
  /** Follow a symlink at the last component (the target must still be a regular file); default false. */
  readonly followSymlink?: boolean
}

const kindOf = (st: import('node:fs').Stats) =>
  st.isFIFO() ? 'a FIFO' : st.isDirectory() ? 'a directory' : st.isCharacterDevice() ? 'a character device' : st.isBlockDevice() ? 'a block device' : st.isSocket() ? 'a socket' : 'not a file'

/**
 * Opens `p` for reading only when it is a regular file of at most `maxBytes`. O_NONBLOCK so a
 * FIFO planted there cannot hang the open, O_NOFOLLOW so a symlink (to /dev/zero, or to a file
 * outside the folder being checked) is refused, and fstat on the opened descriptor, so the file
 * judged is the file read. The caller closes the handle.
 */
export async function openRegularFile(p: string, maxBytes: number, o: RegularFileOptions = {}): Promise<{ fh: fs.FileHandle; size: number } | UnreadableFile> {
  let fh: fs.FileHandle
  try {
    fh = await fs.open(p, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY | (o.followSymlink ? 0 : constants.O_NOFOLLOW))
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return { missing: true, why: 'does not exist' }
    if (code === 'ELOOP') return { missing: false, why: 'is a symbolic link, which is not followed' }
    return { missing: false, why: `cannot be read: ${(e as Error).message}` }
  }
  let problem: UnreadableFile
  try {
    const st = await fh.stat()
    if (st.isFile() && st.size <= maxBytes) return { fh, size: st.size }
    problem = !st.isFile() ? { missing: false, why: `is not a regular file (${kindOf(st)})` } : { missing: false, why: `is ${st.size} bytes, over the ${maxBytes}-byte limit for it` }
  } catch (e) {
    problem = { missing: false, why: `cannot be read: ${(e as Error).message}` }
  }
  await fh.close()
  return problem
}

export const isUnreadable = <T extends object>(r: T | UnreadableFile): r is UnreadableFile => !Buffer.isBuffer(r) && 'why' in r && 'missing' in r

/** The bytes of a regular file of at most `maxBytes` (see openRegularFile); a file that grows past the cap while it is read is refused too. */
export async function readRegularFile(p: string, maxBytes: number, o: RegularFileOptions = {}): Promise<Buffer | UnreadableFile> {
  const opened = await openRegularFile(p, maxBytes, o)
  if (isUnreadable(opened)) return opened
  const blocks: Buffer[] = []
  let total = 0
  try {
    for await (const block of readBlocks(opened.fh, maxBytes)) {
      blocks.push(Buffer.from(block))
      total += block.length
    }
  } catch (e) {
    return { missing: false, why: `cannot be read: ${(e as Error).message}` }
  } finally {
    await opened.fh.close()
  }
  return total > maxBytes ? grewPast(maxBytes) : Buffer.concat(blocks, total)
}

export const grewPast = (maxBytes: number): UnreadableFile => ({ missing: false, why: `grew past the ${maxBytes}-byte limit for it while it was read` })

/** A regular file's blocks through one reused 1 MiB buffer (copy what you keep); stops once more than `maxBytes` came, so the caller sees the excess and refuses it. */
export async function* readBlocks(fh: fs.FileHandle, maxBytes: number): AsyncGenerator<Buffer> {
  const buf = Buffer.allocUnsafe(1024 * 1024)
  for (let total = 0; total <= maxBytes; ) {
    const { bytesRead } = await fh.read(buf, 0, buf.length, null)
    if (bytesRead === 0) return
    total += bytesRead
    yield buf.subarray(0, bytesRead)
  }
}
