// What each release directory holds on disk, counting hard links once: a file shared by
// two releases is freed only when both are gone.
import fs from 'node:fs/promises'
import path from 'node:path'
import type { Layout } from '../lib/layout.js'
import { STAGING } from '../lib/layout.js'
import { readActualState, type ActualState } from './read.js'

export interface ReleaseInventory {
  readonly id: string
  /** Inode -> size of every regular file below the release directory. */
  readonly inodes: ReadonlyMap<number, number>
  /** Inode -> link count seen inside this release. */
  readonly linksHere: ReadonlyMap<number, number>
  /** Inode -> total link count (st.nlink). */
  readonly nlink: ReadonlyMap<number, number>
}

export interface HostInventory {
  readonly actual: ActualState
  readonly releases: readonly ReleaseInventory[]
  /** Names directly under `.staging/` (abandoned staging, parts). */
  readonly staging: readonly string[]
  /** `.staging/` as one more tree of inodes, so a file it shares with a removed release is counted once. */
  readonly stagingInventory: ReleaseInventory
}

async function walk(dir: string, inv: { inodes: Map<number, number>; linksHere: Map<number, number>; nlink: Map<number, number> }): Promise<void> {
  for (const e of await fs.readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) await walk(p, inv)
    else if (e.isFile()) {
      const st = await fs.lstat(p)
      inv.inodes.set(st.ino, st.size)
      inv.linksHere.set(st.ino, (inv.linksHere.get(st.ino) ?? 0) + 1)
      inv.nlink.set(st.ino, st.nlink)
    }
  }
}

export async function readInventory(l: Layout): Promise<HostInventory> {
  const actual = await readActualState(l)
  const releases: ReleaseInventory[] = []
  for (const r of actual.releases) {
    const inv = { inodes: new Map<number, number>(), linksHere: new Map<number, number>(), nlink: new Map<number, number>() }
    await walk(l.release(r.id), inv)
    releases.push({ id: r.id, ...inv })
  }
  const staging = (await fs.readdir(path.join(l.releases, STAGING)).catch(() => [] as string[])).sort()
  const st = { inodes: new Map<number, number>(), linksHere: new Map<number, number>(), nlink: new Map<number, number>() }
  await walk(path.join(l.releases, STAGING), st)
  return { actual, releases, staging, stagingInventory: { id: STAGING, ...st } }
}
