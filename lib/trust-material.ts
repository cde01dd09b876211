// Trust material: the files and directories whose content decides what this host trusts
// (`etc/nullspace/trusted-keys/` and its keys; a trust root, when one comes) or
// signs with (the evidence key). Whoever can write trust material can make the host trust
// their key, so it must be owned by root or by the user running the tool, must not be
// writable by group or other, and must not be a symlink (a link moves the path out of what
// is judged). A private key must, in addition, be readable by its owner alone. Directories
// above --root are the operator's business and are not judged (ARCHITECTURE.md section 4, invariant 7).
// Self-contained on purpose: only node:fs and node:path, so any reader of trust can use it.
import fs from 'node:fs/promises'
import type { Stats } from 'node:fs'
import path from 'node:path'

const octal = (mode: number) => (mode & 0o7777).toString(8).padStart(4, '0')
const errnoOf = (e: unknown) => (typeof e === 'object' && e !== null && 'code' in e ? String((e as { code: unknown }).code) : undefined)
/** The user whose files the tool may trust besides root's (the effective uid, as the kernel sees it). */
export const invokingUid = (): number => process.geteuid?.() ?? 0

/**
 * Why one entry (its lstat, or the fstat of an opened file) is not safe trust material:
 * every reason, or none. A symlink is judged by the caller, which can name its target.
 */
export function unsafeOwnerOrMode(p: string, st: Stats, uid = invokingUid()): string[] {
  const problems: string[] = []
  if (st.uid !== 0 && st.uid !== uid) {
    problems.push(`${p} is owned by uid ${st.uid}, not root${uid === 0 ? '' : ` or uid ${uid}`}, so that user could change what this host trusts: chown root ${p}`)
  }
  if ((st.mode & 0o022) !== 0) {
    const who = (st.mode & 0o020) !== 0 && (st.mode & 0o002) !== 0 ? 'group and others' : (st.mode & 0o020) !== 0 ? 'group' : 'others'
    problems.push(`${p} is writable by ${who} (mode ${octal(st.mode)}), so they could add or replace a trusted key: chmod go-w ${p}`)
  }
  return problems
}

export async function symlinkProblem(p: string): Promise<string> {
  const to = await fs.readlink(p).catch(() => '?')
  return `${p} is a symlink (-> ${to}); trust material must be a real directory or file under the root, not a link to one: replace the link with what it names`
}

/**
 * Every problem of `target` and of each directory between `root` (not judged) and it.
 * A missing entry ends the walk: what does not exist holds no trust (the caller decides
 * what absence means). A symlink is a problem and ends the walk too.
 */
export async function trustMaterialProblems(root: string, target: string, uid = invokingUid()): Promise<string[]> {
  const rel = path.relative(path.resolve(root), path.resolve(target))
  const chain = rel === '' || rel.startsWith('..') || path.isAbsolute(rel) ? [path.resolve(target)] : rel.split(path.sep).map((_, i, all) => path.join(path.resolve(root), ...all.slice(0, i + 1)))
  const problems: string[] = []
  for (const p of chain) {
    let st: Stats
    try {
      st = await fs.lstat(p)
    } catch (e) {
      const code = errnoOf(e)
      if (code === 'ENOENT' || code === 'ENOTDIR') break
      problems.push(`${p} cannot be examined (${code ?? (e as Error).message}), so what it holds cannot be trusted; make it readable by the user running nullspace-host`)
      break
    }
    if (st.isSymbolicLink()) {
      problems.push(await symlinkProblem(p))
      break
    }
    problems.push(...unsafeOwnerOrMode(p, st, uid))
  }
  return problems
}

/**
 * Why a private key file (its fstat, or stat) is not used: group or other can read (or write,
 * or run) it. Null when only its owner can. Written `<p>: ...` like a read error of the key.
 */
export function exposedSecretProblem(p: string, st: Stats): string | null {
  if ((st.mode & 0o077) === 0) return null
  const who = (st.mode & 0o070) !== 0 && (st.mode & 0o007) !== 0 ? 'group and others' : (st.mode & 0o070) !== 0 ? 'group' : 'others'
  const how = (st.mode & 0o044) !== 0 ? 'readable by' : 'open to'
  return `${p}: ${how} ${who} (mode ${octal(st.mode)}); a private key that others can read proves nothing about who signed, so it is not used: chmod 600 ${p}`
}
