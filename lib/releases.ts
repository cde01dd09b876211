// `releases list` and `prune`: which releases a host keeps, and what removing one frees.
// Pure over an inventory read by state/inventory.ts.
import type { HostInventory, ReleaseInventory } from '../state/inventory.js'
import { isMarkedFailed, isPinned, rollbackTarget } from '../state/state-file.js'

export interface ReleaseRow {
  readonly release_id: string
  readonly version: string | null
  readonly sealed: boolean
  readonly sealed_at: string | null
  readonly active: boolean
  readonly rollback_target: boolean
  readonly failed: boolean
  /** Pinned with `releases pin`: prune never removes it. */
  readonly pinned: boolean
  readonly pin_reason: string | null
  /** Bytes of this release's files, each inode once. */
  readonly bytes: number
  /** Bytes only this release holds: what removing it alone frees. */
  readonly unique_bytes: number
}

export interface ReleaseListing {
  readonly releases: readonly ReleaseRow[]
  /** Bytes on disk of all releases, hard links counted once. */
  readonly total_bytes: number
}

const sum = (xs: Iterable<number>) => [...xs].reduce((a, b) => a + b, 0)

/** Bytes freed by removing `gone` together: inodes whose every link is inside them. */
export function bytesFreed(gone: readonly ReleaseInventory[]): number {
  const links = new Map<number, number>()
  const size = new Map<number, number>()
  const nlink = new Map<number, number>()
  for (const r of gone)
    for (const [ino, s] of r.inodes) {
      links.set(ino, (links.get(ino) ?? 0) + (r.linksHere.get(ino) ?? 0))
      size.set(ino, s)
      nlink.set(ino, r.nlink.get(ino) ?? 1)
    }
  return sum([...links].filter(([ino, n]) => n >= (nlink.get(ino) ?? 1)).map(([ino]) => size.get(ino) ?? 0))
}

export function rollbackTargetOf(inv: HostInventory): string | null {
  const a = inv.actual
  return rollbackTarget(a.state, a.current, (id) => a.releases.some((r) => r.id === id && r.seal.kind === 'sealed'))
}

export function listReleases(inv: HostInventory): ReleaseListing {
  const a = inv.actual
  const target = rollbackTargetOf(inv)
  const all = new Map<number, number>()
  const releases = a.releases.map((r): ReleaseRow => {
    const i = inv.releases.find((x) => x.id === r.id)!
    for (const [ino, s] of i.inodes) all.set(ino, s)
    const sealed = r.seal.kind === 'sealed' ? r.seal.seal : null
    return {
      release_id: r.id,
      version: sealed?.version ?? null,
      sealed: sealed !== null,
      sealed_at: sealed?.sealed_at ?? null,
      active: r.id === a.current,
      rollback_target: r.id === target,
      failed: isMarkedFailed(a.state, r.id),
      pinned: isPinned(a.state, r.id),
      pin_reason: isPinned(a.state, r.id) ? a.state.pins![r.id].reason ?? null : null,
      bytes: sum(i.inodes.values()),
      unique_bytes: bytesFreed([i]),
    }
  })
  return { releases, total_bytes: sum(all.values()) }
}

export interface PrunePlan {
  readonly keep: readonly string[]
  readonly remove: readonly string[]
  readonly staging: readonly string[]
  readonly bytes_freed: number
}

/** Keeps the `keep` most recently active good releases, plus `current`, the rollback target and every pinned release, always. */
export function planPrune(inv: HostInventory, keep: number): PrunePlan {
  const a = inv.actual
  const target = rollbackTargetOf(inv)
  const lastActive = (id: string) => a.state.history.reduce((at, h, i) => (h.to === id ? i : at), -1)
  const good = a.releases
    .filter((r) => r.seal.kind === 'sealed' && !isMarkedFailed(a.state, r.id))
    .sort((x, y) => lastActive(y.id) - lastActive(x.id) || (y.seal.kind === 'sealed' && x.seal.kind === 'sealed' ? y.seal.seal.sealed_at.localeCompare(x.seal.seal.sealed_at) : 0) || y.id.localeCompare(x.id))
    .map((r) => r.id)
  const pinned = a.releases.map((r) => r.id).filter((id) => isPinned(a.state, id))
  const kept = new Set([...good.slice(0, keep), ...[a.current, target].filter((x): x is string => x !== null), ...pinned])
  const remove = a.releases.map((r) => r.id).filter((id) => !kept.has(id))
  return {
    keep: a.releases.map((r) => r.id).filter((id) => kept.has(id)),
    remove,
    staging: inv.staging,
    bytes_freed: bytesFreed([...inv.releases.filter((r) => remove.includes(r.id)), ...(inv.staging.length > 0 ? [inv.stagingInventory] : [])]),
  }
}
