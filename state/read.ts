// Reads the actual state of a host root: releases and their seals, `current`, links,
// rendered files, partial downloads, the state file and the journal. Only reads.
import fs from 'node:fs/promises'
import type { Stats } from 'node:fs'
import path from 'node:path'
import { E } from '../lib/commonjs.cjs'
import { type Layout, MANIFEST_FILE, PARTS, STAGING, HOOKS_DIR, API_UNIT, APPLIANCE_ENV, RELEASES_HOST_DIR, STATE_DIR } from '../lib/layout.js'
import { Manifest } from '../lib/manifest/codec.js'
import { RELEASE_ID } from '../lib/manifest/codec.js'
import { errnoCode } from '../lib/errors.js'
import { isTempName } from '../lib/fsx.js'
import { hashFile } from '../lib/hash.js'
import { type SealRead, readSeal } from './seal.js'
import { type StateFile, readStateFile } from './state-file.js'
import { type Journal, inspectJournal, withSwitchSeen } from './journal.js'
import { type UnsafeHookPath, readHookDir } from './hooks.js'

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

export interface ReleaseOnDisk {
  readonly id: string
  readonly seal: SealRead
  /** What is at each sealed component's install path (only for sealed releases). */
  readonly files: Readonly<Record<string, PathState>>
}

export interface PartOnDisk {
  readonly size: number
  readonly url: string | null
}

export interface ActualState {
  readonly root: string
  /** Sorted by id. */
  readonly releases: readonly ReleaseOnDisk[]
  /** What `releases/current` is. */
  readonly currentLink: PathState
  /** The release `current` names, when it is a symlink to a release id. */
  readonly current: string | null
  /** The active release's manifest (trusted from its seal), for its links and facts. */
  readonly currentManifest: Manifest | null
  readonly state: StateFile
  readonly journal: Journal | null
  /** Set when journal.json exists but cannot be read or decoded: the planner refuses every change (fail closed). */
  readonly journalProblem: string | null
  /** Compatibility link paths asked about, keyed by absolute host path. */
  readonly links: Readonly<Record<string, PathState>>
  /** Rendered files' content, keyed by absolute host path; null when absent. */
  readonly rendered: Readonly<Record<string, string | null>>
  /** Partial downloads keyed by sha256. */
  readonly parts: Readonly<Record<string, PartOnDisk>>
  /** Release ids with a staging directory, and what each holds at each install path. */
  readonly staging: Readonly<Record<string, Readonly<Record<string, PathState>>>>
  /** Leftover temp names (crash between create and rename) in the releases directory. */
  readonly tempLeftovers: readonly string[]
  /** Host paths the tool writes through that are symlinks or not directories: a planted path. */
  readonly unsafePaths: readonly { readonly path: string; readonly problem: string }[]
  /** Post-switch hooks that may run (run-parts names, safe to run as root), in lexical order. */
  readonly hooks: readonly string[]
  /** Host paths asked about (links, release files) whose name the filesystem refuses as too long. */
  readonly tooLong: readonly string[]
  /** What makes the post-switch hooks unsafe to run as root (state/hooks.ts): the planner refuses to activate. */
  readonly unsafeHooks: readonly UnsafeHookPath[]
}

export interface Interest {
  /** The release a plan is about, so its staging files are looked at. */
  readonly releaseId?: string
  readonly installPaths?: readonly string[]
  readonly linkPaths?: readonly string[]
  /** Rehash the installed files of `releaseId` when it is sealed (--deep), instead of trusting their stat. */
  readonly rehash?: boolean
}

/**
 * A record keyed by names from disk or a manifest (release ids, install paths, host paths): no
 * prototype, so a release named `constructor` or an install path `toString` finds only its own entry.
 */
const keyedByName = <T>(): Record<string, T> => Object.create(null) as Record<string, T>

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

async function readDirNames(dir: string): Promise<string[]> {
  try {
    return (await fs.readdir(dir)).sort()
  } catch (e) {
    const code = errnoCode(e)
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ENAMETOOLONG') return []
    throw e
  }
}

async function readText(p: string): Promise<string | null> {
  try {
    return await fs.readFile(p, 'utf8')
  } catch (e) {
    const code = errnoCode(e)
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR' || code === 'ENAMETOOLONG') return null
    throw e
  }
}

async function readRelease(dir: string, id: string, rehash: boolean): Promise<ReleaseOnDisk> {
  const seal = await readSeal(dir)
  const files = keyedByName<PathState>()
  if (seal.kind === 'sealed') {
    for (const c of seal.seal.components) {
      if (c.status !== 'installed') continue
      const file = path.join(dir, c.install_path)
      const st = await pathState(file)
      files[c.install_path] = rehash && st.kind === 'file' ? { ...st, sha256: (await hashFile(file)).sha256 } : st
    }
  }
  return { id, seal, files }
}

async function readCurrentManifest(dir: string): Promise<Manifest | null> {
  const text = await readText(path.join(dir, MANIFEST_FILE))
  if (text === null) return null
  try {
    const decoded = Manifest.decode(JSON.parse(text))
    return E.isRight(decoded) ? decoded.right : null
  } catch {
    return null
  }
}

async function readParts(dir: string): Promise<Record<string, PartOnDisk>> {
  const parts = keyedByName<PartOnDisk>()
  for (const name of await readDirNames(dir)) {
    const m = /^([0-9a-f]{64})\.part$/.exec(name)
    if (!m) continue
    const st = await pathState(path.join(dir, name))
    if (st.kind !== 'file') continue
    let url: string | null = null
    try {
      url = (JSON.parse((await readText(path.join(dir, `${name}.json`))) ?? 'null') as { url?: string } | null)?.url ?? null
    } catch {
      url = null
    }
    parts[m[1]] = { size: st.stat.size, url }
  }
  return parts
}

/**
 * Temp files of writes a killed run never renamed into place (writeFileAtomic, switchSymlink),
 * as host paths: beside `current`, in each release (a seal rewritten by a repair), anywhere
 * under `.staging`, in /etc/nullspace and /var/lib/nullspace, and the temps of the files this
 * tool renders or links in directories it shares with others. Only runs that hold the host
 * lock write these, so under the lock every one of them is abandoned. Never through a
 * symlink: a link planted anywhere here must not be walked, nor what is behind it removed.
 */
async function readTempLeftovers(l: Layout, releaseIds: readonly string[], linkPaths: Iterable<string>): Promise<string[]> {
  const found: string[] = []
  const entries = async (hostDir: string) =>
    (await pathState(l.host(hostDir))).kind === 'directory' ? await fs.readdir(l.host(hostDir), { withFileTypes: true }) : []
  /** Temp-named files in `hostDir` (`deep`: and in its subdirectories); with `only`, just the temps of those file names. */
  const sweep = async (hostDir: string, o: { deep?: boolean; only?: readonly string[] } = {}): Promise<void> => {
    for (const d of await entries(hostDir)) {
      const p = path.posix.join(hostDir, d.name)
      if (d.isDirectory()) {
        if (o.deep) await sweep(p, o)
      } else if (isTempName(d.name) && (o.only === undefined || o.only.some((f) => d.name.startsWith(`.${f}.tmp-`)))) found.push(p)
    }
  }
  await sweep(RELEASES_HOST_DIR)
  for (const id of releaseIds) await sweep(path.posix.join(RELEASES_HOST_DIR, id))
  await sweep(path.posix.join(RELEASES_HOST_DIR, STAGING), { deep: true })
  await sweep(STATE_DIR, { only: ['state.json', 'journal.json'] })
  await sweep(path.posix.dirname(APPLIANCE_ENV))
  await sweep(path.posix.dirname(API_UNIT), { only: [path.posix.basename(API_UNIT)] })
  const linkDirs = new Map<string, string[]>()
  for (const p of linkPaths) linkDirs.set(path.posix.dirname(p), [...(linkDirs.get(path.posix.dirname(p)) ?? []), path.posix.basename(p)])
  // A link directory already swept whole (/etc/nullspace) would only list the same files again: the Set drops them.
  for (const [dir, only] of linkDirs) await sweep(dir, { only })
  return [...new Set(found)].sort()
}

/** Directories the executor writes into; each must be a real directory (or absent), never a symlink. */
function writtenDirs(l: Layout, interest: Interest): string[] {
  const dirs = new Set(['/opt', '/opt/nullspace', '/opt/nullspace/releases', '/var', '/var/lib', '/var/lib/nullspace', '/etc', '/etc/nullspace', '/etc/systemd', '/etc/systemd/system'])
  for (const link of interest.linkPaths ?? []) for (let d = path.posix.dirname(link); d.startsWith('/opt/nullspace/'); d = path.posix.dirname(d)) dirs.add(d)
  const out = [...dirs].map((d) => l.host(d))
  out.push(l.staging, l.parts)
  if (interest.releaseId !== undefined) {
    for (const base of [l.staged(interest.releaseId), l.release(interest.releaseId)]) {
      out.push(base)
      for (const p of interest.installPaths ?? []) for (let d = path.posix.dirname(p); d !== '.'; d = path.posix.dirname(d)) out.push(path.join(base, d))
    }
  }
  return [...new Set(out)]
}

const releaseNamedBy = (link: PathState): string | null => (link.kind === 'symlink' && RELEASE_ID.test(link.target) ? link.target : null)

/** The release id `current` names, or null: the one fact of the host state some commands need first. */
export const readCurrentId = async (l: Layout): Promise<string | null> => releaseNamedBy(await pathState(l.current))

export async function readActualState(l: Layout, interest: Interest = {}): Promise<ActualState> {
  const unsafePaths: { path: string; problem: string }[] = []
  for (const d of writtenDirs(l, interest)) {
    const st = await pathState(d)
    if (st.kind === 'symlink') unsafePaths.push({ path: d, problem: `is a symlink (to ${st.target}); refusing to write through it` })
    else if (st.kind !== 'absent' && st.kind !== 'directory') unsafePaths.push({ path: d, problem: 'is not a directory' })
  }

  const names = await readDirNames(l.releases)
  const releases: ReleaseOnDisk[] = []
  for (const name of names) {
    if (!RELEASE_ID.test(name)) continue
    const st = await pathState(l.release(name))
    if (st.kind === 'directory') releases.push(await readRelease(l.release(name), name, interest.rehash === true && name === interest.releaseId))
  }

  const currentLink = await pathState(l.current)
  const current = releaseNamedBy(currentLink)
  const currentManifest = current !== null && releases.some((r) => r.id === current) ? await readCurrentManifest(l.release(current)) : null

  const linkPaths = new Set([...(interest.linkPaths ?? []), ...(currentManifest?.components.flatMap((c) => (c.active_path ? [c.active_path] : [])) ?? [])])
  const links = keyedByName<PathState>()
  for (const p of [...linkPaths].sort()) links[p] = await pathState(l.host(p))

  const rendered = keyedByName<string | null>()
  for (const p of [APPLIANCE_ENV, API_UNIT]) {
    // A directory (or device, FIFO) planted where a file is rendered would fail its rename after the switch.
    const st = await pathState(l.host(p))
    if (st.kind === 'directory' || st.kind === 'other') unsafePaths.push({ path: l.host(p), problem: `is a ${st.kind === 'directory' ? 'directory' : 'special file'}, not a rendered file; move it aside` })
    rendered[p] = await readText(l.host(p))
  }

  const staging = keyedByName<Record<string, PathState>>()
  for (const name of await readDirNames(l.staging)) {
    if (name === PARTS || !RELEASE_ID.test(name)) continue
    const files = keyedByName<PathState>()
    if (name === interest.releaseId) for (const p of interest.installPaths ?? []) files[p] = await pathState(path.join(l.staged(name), p))
    staging[name] = files
  }

  const hooks = await readHookDir(l, HOOKS_DIR)
  const journal = await inspectJournal(l.journalFile)

  const tooLong = [
    ...Object.entries(links).flatMap(([p, st]) => (st.kind === 'absent' && st.tooLong ? [p] : [])),
    ...releases.flatMap((r) => Object.entries(r.files).flatMap(([p, st]) => (st.kind === 'absent' && st.tooLong ? [path.posix.join(RELEASES_HOST_DIR, r.id, p)] : []))),
  ]

  return {
    root: l.root,
    releases,
    currentLink,
    current,
    currentManifest,
    state: await readStateFile(l.stateFile),
    journal: withSwitchSeen(journal.kind === 'journal' ? journal.journal : null, current),
    journalProblem: journal.kind === 'corrupt' ? journal.problem : null,
    links,
    rendered,
    parts: await readParts(l.parts),
    staging,
    tempLeftovers: await readTempLeftovers(l, releases.map((r) => r.id), linkPaths),
    unsafePaths,
    hooks: hooks.runnable,
    unsafeHooks: hooks.unsafe,
    tooLong,
  }
}
