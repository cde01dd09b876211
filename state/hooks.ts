// Reads a hook directory (`etc/nullspace/hooks/post-switch.d`, and the hook directories of
// ARCHITECTURE.md section 8): which hooks would run, and what makes a hook unsafe to run as root.
// Only reads: the planner turns unsafe findings into blockers, doctor into problems.
//
// The rule: a hook runs only if it, and every directory from it up to --root, is owned by root
// (or the uid running this tool) and not writable by group or other, so nobody but root can
// change what root runs. A hook may be a symlink to a file under the root that passes the
// same rule. Names follow run-parts (`^[A-Za-z0-9_-]+$`): `.hidden`, `x~`, `x.dpkg-old` and
// `x.disabled` are not hooks (never run, no problem), nor is a file without an execute bit.
// --root itself and the directories above it are the operator's business (as in invariant 7).
import fs from 'node:fs/promises'
import type { Stats } from 'node:fs'
import path from 'node:path'
import type { Layout } from '../lib/layout.js'
import { errnoCode } from '../lib/errors.js'

export const HOOK_NAME = /^[A-Za-z0-9_-]+$/

export interface UnsafeHookPath {
  readonly path: string
  /** What is wrong and the fix, e.g. `is writable by others (mode 777); ...: chmod go-w <path>`. */
  readonly problem: string
}

export interface HookDirRead {
  /** Hook names that may run, in lexical order. */
  readonly runnable: readonly string[]
  /** Every unsafe path found: the hook directory's chain up to the root, hooks, their link targets. */
  readonly unsafe: readonly UnsafeHookPath[]
}

const lstatOrNull = async (p: string): Promise<Stats | null> => {
  try {
    return await fs.lstat(p)
  } catch (e) {
    const code = errnoCode(e)
    if (code === 'ENOENT' || code === 'ENOTDIR') return null
    throw e
  }
}

/** Whether `p` is strictly below `top` (also when `top` is `/`, the default root). */
const isBelow = (p: string, top: string): boolean => {
  const rel = path.relative(top, p)
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel)
}

const trustedUids = (): ReadonlySet<number> => new Set([0, process.geteuid?.() ?? 0])

/** Owner and mode of one path (not followed): what is wrong with it as part of root's hook path, or null. */
function ownerAndMode(p: string, st: Stats): string | null {
  if (!trustedUids().has(st.uid)) return `is owned by uid ${st.uid}; hooks run as root, so only root may own their path: chown root ${p}`
  if (!st.isSymbolicLink() && (st.mode & 0o022) !== 0)
    return `is writable by ${[st.mode & 0o020 ? 'group' : '', st.mode & 0o002 ? 'others' : ''].filter(Boolean).join(' and ')} (mode ${(st.mode & 0o7777).toString(8)}); hooks run as root, so nobody else may change their path: chmod go-w ${p}`
  return null
}

/** Reads `hostDir` (a host path such as `/etc/nullspace/hooks/post-switch.d`) under `l.root`. */
export async function readHookDir(l: Layout, hostDir: string): Promise<HookDirRead> {
  const dir = l.host(hostDir)
  const unsafe = new Map<string, string>()
  const flag = (p: string, problem: string) => void (unsafe.has(p) || unsafe.set(p, problem))

  /** Judges every directory from `from` up to (not including) `top`; false when one is not a real directory. */
  const judgeChain = async (from: string, top: string): Promise<boolean> => {
    let real = true
    for (let d = from; isBelow(d, top); d = path.dirname(d)) {
      const st = await lstatOrNull(d)
      if (st === null) continue
      if (st.isSymbolicLink()) {
        flag(d, `is a symlink (to ${await fs.readlink(d)}); hooks run as root only from real directories under the root: replace it with a directory`)
        real = false
      } else if (!st.isDirectory()) {
        flag(d, 'is not a directory')
        real = false
      } else {
        const wrong = ownerAndMode(d, st)
        if (wrong) flag(d, wrong)
      }
    }
    return real
  }

  const dirStat = await lstatOrNull(dir)
  if (dirStat === null) return { runnable: [], unsafe: [] }
  if (!(await judgeChain(dir, l.root)) || !dirStat.isDirectory()) return { runnable: [], unsafe: toList(unsafe) }

  // Hooks of a directory others could change are judged too (every finding is reported), but none may run.
  const dirSafe = unsafe.size === 0
  const realRoot = await fs.realpath(l.root)
  const runnable: string[] = []
  for (const name of (await fs.readdir(dir)).sort()) {
    if (!HOOK_NAME.test(name)) continue
    const p = path.join(dir, name)
    const st = await lstatOrNull(p)
    if (st === null) continue
    if (st.isSymbolicLink()) {
      const target = await fs.realpath(p).catch(() => null)
      const targetStat = target === null ? null : await lstatOrNull(target)
      // A dangling link or a link to a directory is not a hook, as run-parts skips them.
      if (target === null || targetStat === null || !targetStat.isFile() || (targetStat.mode & 0o111) === 0) continue
      if (!isBelow(target, realRoot)) {
        flag(p, `is a symlink to ${target}, outside --root; hooks run as root only from files under the root: put the hook itself in ${dir}`)
        continue
      }
      const linkWrong = ownerAndMode(p, st)
      if (linkWrong) flag(p, linkWrong)
      const targetWrong = ownerAndMode(target, targetStat)
      if (targetWrong) flag(target, targetWrong)
      const chainOk = await judgeChain(path.dirname(target), realRoot)
      if (!linkWrong && !targetWrong && chainOk && !unsafeUnder(unsafe, path.dirname(target))) runnable.push(name)
      continue
    }
    if (!st.isFile() || (st.mode & 0o111) === 0) continue
    const wrong = ownerAndMode(p, st)
    if (wrong) flag(p, wrong)
    else runnable.push(name)
  }
  return { runnable: dirSafe ? runnable : [], unsafe: toList(unsafe) }
}

/** Whether any flagged path is `dir` or one of its ancestors. */
const unsafeUnder = (unsafe: ReadonlyMap<string, string>, dir: string): boolean => [...unsafe.keys()].some((p) => dir === p || isBelow(dir, p))

const toList = (unsafe: ReadonlyMap<string, string>): UnsafeHookPath[] => [...unsafe].map(([p, problem]) => ({ path: p, problem })).sort((a, b) => a.path.localeCompare(b.path))
