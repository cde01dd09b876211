// Reads the actual state of a host root: releases and their seals, `current`, links,
// rendered files, partial downloads, the state file and the journal. Only reads.
import fs from 'node:fs/promises'
import path from 'node:path'
import { type Layout, MANIFEST_FILE, PARTS, STAGING, HOOKS_DIR, API_UNIT, APPLIANCE_ENV, NULLSPACE_DIR, RELEASES_HOST_DIR, STATE_DIR, WRITTEN_HOST_DIRS } from '../lib/layout.js'
import { Manifest, RELEASE_ID } from '../lib/manifest/codec.js'
import { errnoCode } from '../lib/errors.js'
import { isTempName } from '../lib/fsx.js'
import { hashFileOffThread } from '../lib/hash-thread.js'
import { type SealRead, readSeal } from './seal.js'
import { readSealedManifest } from './sealed-release.js'
import { type PathState, pathState } from './path-state.js'
import { type StateFile, readStateFile } from './state-file.js'
import { type Journal, inspectJournal, withSwitchSeen } from './journal.js'
import { type UnsafeHookPath, readHookDir } from './hooks.js'

export { type FileStat, type PathState, pathState } from './path-state.js'

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
  /**
   * The active release's manifest, for its links and facts: only when its bytes hash to the digest
   * its seal recorded (trusted from its seal), else null.
   */
  readonly currentManifest: Manifest | null
  /**
   * Set when `current` names a sealed release whose manifest.json is missing or no longer hashes to
   * its seal's digest (changed since it was sealed): the planner refuses to judge a new release against it.
   */
  readonly currentManifestProblem: string | null
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
  /**
   * Temp-named files (fsx's `.<name>.tmp-<pid>-<hex>`) as sorted host paths, found where this tool
   * writes: beside `current`, in each release, anywhere under `.staging`, in the state directory,
   * /etc/nullspace, the unit directory and each link's directory. Which of them are this tool's
   * abandoned temps the planner decides (lib/plan/temp-leftovers.ts).
   */
  readonly tempFiles: readonly string[]
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
    const installed = seal.seal.components.filter((c) => c.status === 'installed')
    const states = await Promise.all(installed.map((c) => pathState(path.join(dir, c.install_path))))
    for (const [i, c] of installed.entries()) files[c.install_path] = states[i]
    // Every file to rehash starts at once: the large ones hash side by side, one per core.
    if (rehash)
      await Promise.all(
        installed.map(async ({ install_path: p }) => {
          const st = files[p]
          if (st?.kind === 'file') files[p] = { ...st, sha256: (await hashFileOffThread(path.join(dir, p))).sha256 }
        }),
      )
  }
  return { id, seal, files }
}

/** The active release's manifest when its seal vouches for it; a problem when the seal is there and the manifest is missing or changed. */
async function readCurrentManifest(l: Layout, release: ReleaseOnDisk | undefined): Promise<{ manifest: Manifest | null; problem: string | null }> {
  if (release === undefined || release.seal.kind !== 'sealed') return { manifest: null, problem: null }
  const read = await readSealedManifest(l.release(release.id), release.seal.seal)
  switch (read.kind) {
    case 'trusted':
      return { manifest: read.loaded.manifest, problem: null }
    case 'missing':
      return { manifest: null, problem: `the active release ${release.id} has no readable ${MANIFEST_FILE}` }
    case 'mismatch':
      return { manifest: null, problem: `${release.id}/${MANIFEST_FILE} does not match its seal (${read.digest}, sealed ${release.seal.seal.manifest_digest})` }
    default:
      return { manifest: null, problem: null }
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
 * Temp-named files in the directories listed on ActualState.tempFiles, as host paths. Never
 * through a symlink: a link planted anywhere here must not be walked.
 */
async function readTempFiles(l: Layout, releaseIds: readonly string[], linkPaths: Iterable<string>): Promise<string[]> {
  const found: string[] = []
  const entries = async (hostDir: string) =>
    (await pathState(l.host(hostDir))).kind === 'directory' ? await fs.readdir(l.host(hostDir), { withFileTypes: true }) : []
  /** Temp-named files in `hostDir` (`deep`: and in its subdirectories). */
  const sweep = async (hostDir: string, deep = false): Promise<void> => {
    for (const d of await entries(hostDir)) {
      const p = path.posix.join(hostDir, d.name)
      if (d.isDirectory()) {
        if (deep) await sweep(p, deep)
      } else if (isTempName(d.name)) found.push(p)
    }
  }
  const dirs = new Set([RELEASES_HOST_DIR, ...releaseIds.map((id) => path.posix.join(RELEASES_HOST_DIR, id)), STATE_DIR, path.posix.dirname(APPLIANCE_ENV), path.posix.dirname(API_UNIT)])
  for (const p of linkPaths) dirs.add(path.posix.dirname(p))
  await Promise.all([...[...dirs].map((dir) => sweep(dir)), sweep(path.posix.join(RELEASES_HOST_DIR, STAGING), true)])
  return [...new Set(found)].sort()
}

/** Directories the executor writes into; each must be a real directory (or absent), never a symlink. */
function writtenDirs(l: Layout, interest: Interest): string[] {
  const dirs = new Set(WRITTEN_HOST_DIRS)
  for (const link of interest.linkPaths ?? []) for (let d = path.posix.dirname(link); d.startsWith(`${NULLSPACE_DIR}/`); d = path.posix.dirname(d)) dirs.add(d)
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

/** Release ids with a staging directory; for the release a plan is about, what is at each install path. */
async function readStaging(l: Layout, interest: Interest): Promise<Record<string, Record<string, PathState>>> {
  const staging = keyedByName<Record<string, PathState>>()
  for (const name of await readDirNames(l.staging)) {
    if (name === PARTS || !RELEASE_ID.test(name)) continue
    const files = keyedByName<PathState>()
    if (name === interest.releaseId) for (const p of interest.installPaths ?? []) files[p] = await pathState(path.join(l.staged(name), p))
    staging[name] = files
  }
  return staging
}

export async function readActualState(l: Layout, interest: Interest = {}): Promise<ActualState> {
  // Reads that do not depend on each other run at once: a no-op plan on a host of 20 releases
  // is about a thousand small reads, and one at a time most of its wall time was spent waiting.
  const unsafePaths: { path: string; problem: string }[] = []
  const dirs = writtenDirs(l, interest)
  const dirStates = await Promise.all(dirs.map((d) => pathState(d)))
  for (const [i, d] of dirs.entries()) {
    const st = dirStates[i]
    if (st.kind === 'symlink') unsafePaths.push({ path: d, problem: `is a symlink (to ${st.target}); refusing to write through it` })
    else if (st.kind !== 'absent' && st.kind !== 'directory') unsafePaths.push({ path: d, problem: 'is not a directory' })
  }

  const names = (await readDirNames(l.releases)).filter((name) => RELEASE_ID.test(name))
  const found = await Promise.all(
    names.map(async (name) => ((await pathState(l.release(name))).kind === 'directory' ? readRelease(l.release(name), name, interest.rehash === true && name === interest.releaseId) : null)),
  )
  const releases = found.filter((r): r is ReleaseOnDisk => r !== null)

  const currentLink = await pathState(l.current)
  const current = releaseNamedBy(currentLink)
  const { manifest: currentManifest, problem: currentManifestProblem } = await readCurrentManifest(
    l,
    releases.find((r) => r.id === current),
  )

  const linkPaths = new Set([...(interest.linkPaths ?? []), ...(currentManifest?.components.flatMap((c) => (c.active_path ? [c.active_path] : [])) ?? [])])
  const links = keyedByName<PathState>()
  const sortedLinks = [...linkPaths].sort()
  const linkStates = await Promise.all(sortedLinks.map((p) => pathState(l.host(p))))
  for (const [i, p] of sortedLinks.entries()) links[p] = linkStates[i]

  const renderedPaths = [APPLIANCE_ENV, API_UNIT]
  const [renderedStates, renderedTexts, staging, hooks, journal, state, parts, tempFiles] = await Promise.all([
    Promise.all(renderedPaths.map((p) => pathState(l.host(p)))),
    Promise.all(renderedPaths.map((p) => readText(l.host(p)))),
    readStaging(l, interest),
    readHookDir(l, HOOKS_DIR),
    inspectJournal(l.journalFile),
    readStateFile(l.stateFile),
    readParts(l.parts),
    readTempFiles(l, releases.map((r) => r.id), linkPaths),
  ])
  const rendered = keyedByName<string | null>()
  for (const [i, p] of renderedPaths.entries()) {
    // A directory (or device, FIFO) planted where a file is rendered would fail its rename after the switch.
    const st = renderedStates[i]
    if (st.kind === 'directory' || st.kind === 'other') unsafePaths.push({ path: l.host(p), problem: `is a ${st.kind === 'directory' ? 'directory' : 'special file'}, not a rendered file; move it aside` })
    rendered[p] = renderedTexts[i]
  }

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
    currentManifestProblem,
    state,
    journal: withSwitchSeen(journal.kind === 'journal' ? journal.journal : null, current),
    journalProblem: journal.kind === 'corrupt' ? journal.problem : null,
    links,
    rendered,
    parts,
    staging,
    tempFiles,
    unsafePaths,
    hooks: hooks.runnable,
    unsafeHooks: hooks.unsafe,
    tooLong,
  }
}
