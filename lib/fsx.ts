// The dangerous filesystem moves, written once (systemd's fs-util is the model): temp name
// in the same directory, fsync, rename, fsync the directory. No other module calls
// fs.rename or fs.symlink directly.
import fs from 'node:fs/promises'
import { constants } from 'node:fs'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import { EXIT, Failure } from './errors.js'

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

/** Writes `data` to `target` so a reader sees the old file or the new one, never a torn one. */
export async function writeFileAtomic(target: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  const tmp = tempName(target)
  try {
    const fh = await fs.open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode)
    try {
      await fh.writeFile(data)
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

/** Points the symlink `link` at `target` atomically: a temp link renamed over it (DESIGN.md section 3). */
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
