// What is at a path, read with lstat (never through a symlink): the one fact the state
// reader and the seal both compare against.
import fs from 'node:fs/promises'
import type { Stats } from 'node:fs'
import { errnoCode } from '../lib/errors.js'

export interface FileStat {
  readonly size: number
  readonly mtimeMs: number
  readonly ino: number
  readonly mode: number
}

export type PathState =
  | {
      readonly kind: 'absent'
      /** The name is longer than the filesystem allows (ENAMETOOLONG): nothing can be there. */
      readonly tooLong?: true
    }
  | { readonly kind: 'symlink'; readonly target: string }
  | {
      readonly kind: 'file'
      readonly stat: FileStat
      /** The bytes' sha256, read only when asked (install/apply --deep): a change that kept size, mtime and inode shows here. */
      readonly sha256?: string
    }
  | { readonly kind: 'directory' }
  | { readonly kind: 'other' }

function toStat(st: Stats): FileStat {
  return { size: st.size, mtimeMs: Math.trunc(st.mtimeMs), ino: st.ino, mode: st.mode & 0o7777 }
}

export async function pathState(p: string): Promise<PathState> {
  let st: Stats
  try {
    st = await fs.lstat(p)
  } catch (e) {
    const code = errnoCode(e)
    if (code === 'ENOENT' || code === 'ENOTDIR') return { kind: 'absent' }
    // A path sealed by an older tool that did not measure paths: reported, never thrown.
    if (code === 'ENAMETOOLONG') return { kind: 'absent', tooLong: true }
    throw e
  }
  if (st.isSymbolicLink()) return { kind: 'symlink', target: await fs.readlink(p) }
  if (st.isFile()) return { kind: 'file', stat: toStat(st) }
  if (st.isDirectory()) return { kind: 'directory' }
  return { kind: 'other' }
}
