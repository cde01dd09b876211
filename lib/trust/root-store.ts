// The installed trust root under a host root: `etc/nullspace/trust/root.json` and the
// `root.json.sig` it was installed with. Trust material (lib/trust-material.ts): owned by root or
// the invoking user, not writable by group or other, no symlink anywhere from --root down.
import fs from 'node:fs/promises'
import path from 'node:path'
import { E } from '../commonjs.cjs'
import { errnoCode } from '../errors.js'
import { isUnreadable, mkdirUnder, readRegularFile, writeFileAtomic } from '../fsx.js'
import { trustMaterialProblems } from '../trust-material.js'
import { decodeRoot, isExpired, MAX_ROOT_BYTES, type TrustRoot } from './root-format.js'

export const TRUST_DIR = '/etc/nullspace/trust'
export const ROOT_FILE = 'root.json'
export const ROOT_SIG_FILE = 'root.json.sig'

export const trustDir = (hostRoot: string) => path.join(hostRoot, TRUST_DIR)
export const rootFile = (hostRoot: string) => path.join(trustDir(hostRoot), ROOT_FILE)

export type InstalledRoot =
  | { readonly state: 'absent'; readonly file: string }
  /** Present but unusable (unsafe, unreadable, invalid): every manifest is refused, never the trusted keys used instead. */
  | { readonly state: 'unusable'; readonly file: string; readonly problems: readonly string[] }
  | { readonly state: 'installed'; readonly file: string; readonly root: TrustRoot }

/** The host's root, judged as trust material and decoded; absent only when root.json does not exist. */
export async function readInstalledRoot(hostRoot: string): Promise<InstalledRoot> {
  const file = rootFile(hostRoot)
  try {
    await fs.lstat(file)
  } catch (e) {
    const code = errnoCode(e)
    if (code === 'ENOENT' || code === 'ENOTDIR') return { state: 'absent', file }
  }
  const unsafe = await trustMaterialProblems(hostRoot, file)
  if (unsafe.length > 0) return { state: 'unusable', file, problems: unsafe }
  const bytes = await readRegularFile(file, MAX_ROOT_BYTES)
  if (isUnreadable(bytes)) return { state: 'unusable', file, problems: [`${file} ${bytes.why}`] }
  const root = await decodeRoot(bytes, file)
  return E.isLeft(root) ? { state: 'unusable', file, problems: [root.left] } : { state: 'installed', file, root: root.right }
}

/**
 * Installs verified root bytes and their signature bytes (each 0644). The signature first: a
 * crash between the two leaves the old root.json in force, and the same command again
 * finishes. Refused when the trust directory or a parent is not safe trust material.
 */
export async function installRootFiles(hostRoot: string, rootBytes: Buffer, sigBytes: Buffer): Promise<string[]> {
  const dir = trustDir(hostRoot)
  // Judged before anything is created in it, and again once the directory exists.
  for (const step of ['before', 'after'] as const) {
    if (step === 'after') await mkdirUnder(hostRoot, dir, 0o755)
    const unsafe = await trustMaterialProblems(hostRoot, dir)
    if (unsafe.length > 0) return unsafe
  }
  await writeFileAtomic(path.join(dir, ROOT_SIG_FILE), sigBytes, 0o644)
  await writeFileAtomic(path.join(dir, ROOT_FILE), rootBytes, 0o644)
  return []
}

/** What doctor reports of the trust root: an unusable or expired root refuses every manifest. */
export async function trustRootProblems(hostRoot: string, now: Date): Promise<string[]> {
  const installed = await readInstalledRoot(hostRoot)
  if (installed.state === 'unusable') return installed.problems.map((p) => `trust root unusable, every manifest is refused: ${p}`)
  if (installed.state === 'installed' && isExpired(installed.root, now))
    return [`the trust root ${installed.file} (version ${installed.root.version}) expired at ${installed.root.expiresAt}: every manifest is refused; install a newer root with trust update FILE`]
  return []
}
