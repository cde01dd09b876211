// The on-disk layout of ARCHITECTURE.md section 3, as paths under a root. Host paths in the
// manifest (`active_path`) are absolute on the host; `hostPath` puts them under --root.
import path from 'node:path'

export const RELEASES = 'opt/nullspace/releases'
export const NULLSPACE_DIR = '/opt/nullspace'
export const RELEASES_HOST_DIR = '/opt/nullspace/releases'
export const CURRENT = 'current'
export const STAGING = '.staging'
export const PARTS = 'parts'
export const SEAL_FILE = '.nullspace-release.json'
export const MANIFEST_FILE = 'manifest.json'
export const SIGNATURE_FILE = 'manifest.json.sig'
/** Chunk indexes a release keeps for later delta upgrades. */
export const CHUNKS_DIR = '.nullspace-chunks'

/** Linux limits, in bytes: a name (one path segment), and a path with its terminating NUL. */
export const NAME_MAX = 255
export const PATH_MAX = 4096
/**
 * What a temp name (`.<name>.tmp-<pid>-<8 hex>`, fsx.ts) adds to the name it stands in for:
 * 1 + 5 + at most 7 digits of pid (pid_max is at most 2^22) + 1 + 8.
 */
export const TEMP_NAME_EXTRA = 22
/** The longest segment and host path a manifest may name, so that the temp names beside them fit too. */
export const MAX_SEGMENT_BYTES = NAME_MAX - TEMP_NAME_EXTRA
export const MAX_HOST_PATH_BYTES = PATH_MAX - 1 - TEMP_NAME_EXTRA

export const APPLIANCE_ENV = '/etc/nullspace/appliance.env'
export const API_UNIT = '/etc/systemd/system/nullspace-api.service'
export const HOOKS_DIR = '/etc/nullspace/hooks/post-switch.d'
export const TRUSTED_KEYS_DIR = '/etc/nullspace/trusted-keys'
export const EVIDENCE_KEY = '/etc/nullspace/evidence-key'
export const STATE_DIR = '/var/lib/nullspace'
/** Names in STATE_DIR. */
export const STATE_FILE = 'state.json'
export const JOURNAL_FILE = 'journal.json'
export const LOCK_FILE = 'lock'
export const DEFAULT_EVIDENCE_DIR = '/var/lib/nullspace/evidence/launch-gate'

/** Every path the tool touches under one root. */
export interface Layout {
  readonly root: string
  readonly releases: string
  readonly current: string
  readonly staging: string
  readonly parts: string
  readonly stateDir: string
  readonly stateFile: string
  readonly journalFile: string
  readonly lockFile: string
  release(id: string): string
  staged(id: string): string
  /** An absolute host path (e.g. an active_path) under the root. */
  host(hostPath: string): string
}

export function layout(root: string): Layout {
  const r = path.resolve(root)
  const releases = path.join(r, RELEASES)
  const stateDir = path.join(r, STATE_DIR)
  return {
    root: r,
    releases,
    current: path.join(releases, CURRENT),
    staging: path.join(releases, STAGING),
    parts: path.join(releases, STAGING, PARTS),
    stateDir,
    stateFile: path.join(stateDir, STATE_FILE),
    journalFile: path.join(stateDir, JOURNAL_FILE),
    lockFile: path.join(stateDir, LOCK_FILE),
    release: (id) => path.join(releases, id),
    staged: (id) => path.join(releases, STAGING, id),
    host: (hostPath) => path.join(r, hostPath),
  }
}

/** `/a/b/c` -> `/a`, `/a/b`, `/a/b/c`. */
const withAncestors = (hostDir: string): string[] => hostDir.split('/').slice(1).map((_, i, segs) => `/${segs.slice(0, i + 1).join('/')}`)

/**
 * The host directories the executor writes into, with their parents, in this order: the releases,
 * the state directory, /etc/nullspace (rendered files, hooks, keys) and the unit directory. Each
 * must be a real directory (or absent), never a symlink.
 */
export const WRITTEN_HOST_DIRS: readonly string[] = [...new Set([RELEASES_HOST_DIR, STATE_DIR, path.posix.dirname(APPLIANCE_ENV), path.posix.dirname(API_UNIT)].flatMap(withAncestors))]

/** The relative text of a compatibility link at `activePath` that reaches `installPath` through `current`. */
export function compatLinkTarget(activePath: string, installPath: string): string {
  return path.posix.relative(path.posix.dirname(activePath), path.posix.join(RELEASES_HOST_DIR, CURRENT, installPath))
}
