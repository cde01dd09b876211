// The host lock (`var/lib/nullspace/lock`): held by every command that changes the host.
// It records the holder's pid and process start time (field 22 of /proc/<pid>/stat), so a
// pid reused by another process is not mistaken for the holder, and a dead holder's lock is
// taken over. Creation is link(2) of a complete temp file: a reader never sees half a lock.
import fs from 'node:fs/promises'
import { constants, readFileSync } from 'node:fs'
import path from 'node:path'
import { EXIT, Failure, errnoCode } from '../lib/errors.js'
import { fsyncDir, mkdirUnder, renameIfPresent } from '../lib/fsx.js'

export interface LockHolder {
  readonly pid: number
  readonly start_time: string
  readonly command: string
}

export function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null
  } catch {
    return null
  }
}

export function holderAlive(h: LockHolder): boolean {
  const start = processStartTime(h.pid)
  return start !== null && start === h.start_time
}

export async function readLock(file: string): Promise<LockHolder | null> {
  try {
    const h = JSON.parse(await fs.readFile(file, 'utf8')) as LockHolder
    return typeof h.pid === 'number' ? h : { pid: 0, start_time: '', command: '' }
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return null
    // An unreadable or torn lock has no live holder we can name.
    return { pid: 0, start_time: '', command: '' }
  }
}

export interface HeldLock {
  release(): Promise<void>
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Takes the lock, waiting up to `timeoutS` seconds for a live holder; throws a Failure naming the holder. */
export async function acquireLock(root: string, file: string, command: string, timeoutS: number): Promise<HeldLock> {
  await mkdirUnder(root, path.dirname(file))
  const me: LockHolder = { pid: process.pid, start_time: processStartTime(process.pid) ?? '', command }
  const tmp = `${file}.${process.pid}.new`
  await removeAbandonedTemps(file)
  // Exclusive and not through a symlink: a link planted at this predictable name must not redirect the write.
  await fs.rm(tmp, { force: true })
  const fh = await fs.open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644)
  try {
    await fh.writeFile(`${JSON.stringify(me)}\n`)
  } finally {
    await fh.close()
  }
  const deadline = Date.now() + timeoutS * 1000
  try {
    for (;;) {
      try {
        await fs.link(tmp, file)
        await fsyncDir(path.dirname(file))
        return { release: () => releaseLock(file, me) }
      } catch (e) {
        if (errnoCode(e) !== 'EEXIST') throw e
      }
      const holder = await readLock(file)
      if (holder === null) continue
      if (!holderAlive(holder)) {
        await takeOverStale(file, holder)
        continue
      }
      if (Date.now() >= deadline) {
        // Its own exit (75, EX_TEMPFAIL): nothing failed, and the same command can be retried.
        throw new Failure(
          EXIT.busy,
          `the host is locked by pid ${holder.pid} (${holder.command || 'nullspace-host'}); nothing was changed; wait for it to finish and run the same command again, or pass --lock-timeout SECONDS`,
        )
      }
      await sleep(100)
    }
  } finally {
    await fs.rm(tmp, { force: true })
  }
}

/** Moves a dead holder's lock aside; if what was moved turns out to be live, it is put back. */
/**
 * A command killed while it waited for the lock (SIGKILL, power loss) leaves its
 * `lock.<pid>.new` behind; the next command removes those whose process is gone.
 */
async function removeAbandonedTemps(file: string): Promise<void> {
  const dir = path.dirname(file)
  const pattern = new RegExp(`^${path.basename(file)}\\.(\\d+)\\.new$`)
  for (const name of await fs.readdir(dir).catch(() => [] as string[])) {
    const pid = pattern.exec(name)?.[1]
    if (pid !== undefined && Number(pid) !== process.pid && processStartTime(Number(pid)) === null) await fs.rm(path.join(dir, name), { force: true })
  }
}

async function takeOverStale(file: string, stale: LockHolder): Promise<void> {
  const aside = `${file}.stale-${process.pid}`
  if (!(await renameIfPresent(file, aside))) return
  const moved = await readLock(aside)
  if (moved && (moved.pid !== stale.pid || moved.start_time !== stale.start_time) && holderAlive(moved)) {
    // Another process took the lock between our read and our rename: give it back.
    await fs.link(aside, file).catch(() => undefined)
  }
  await fs.rm(aside, { force: true })
}

async function releaseLock(file: string, me: LockHolder): Promise<void> {
  const holder = await readLock(file)
  if (holder && holder.pid === me.pid && holder.start_time === me.start_time) await fs.rm(file, { force: true })
}
