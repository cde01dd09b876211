// Post-switch hooks: executables in `etc/nullspace/hooks/post-switch.d`, run in lexical
// order; a non-zero exit (or a timeout) means the activation failed. Which hooks may run is
// decided before the switch (state/hooks.ts, the planner's blockers); this runs them.
//
// Each hook runs in a process group of its own, and the whole group is killed (SIGKILL) when
// the hook outlives --hook-timeout and when this tool is stopped by SIGINT, SIGTERM or SIGHUP
// while a hook runs: a `sleep 4242 &` of a hook cut off must not live on as root. A hook that
// exits by itself keeps whatever it started in the background (a hook may start a helper on
// purpose); only the hook itself is waited for.
import { spawn } from 'node:child_process'
import type { Socket } from 'node:net'
import path from 'node:path'
import { EXIT, Failure } from '../errors.js'

export interface HookEnv {
  readonly root: string
  readonly releaseId: string
  readonly previousReleaseId: string | null
  readonly operation: string
  /** Backup hooks (pre-backup.d, post-restore.d): the dump directory they write or read. */
  readonly backupDir?: string
  /** What the hooks are called in messages; default `post-switch`. */
  readonly kind?: string
}

/** A hook, a unit's restart or health wait, or the smoke failed after a switch: the release is active but not proven. */
export class ActivationFailed extends Failure {
  constructor(
    message: string,
    readonly what: 'hook' | 'smoke' | 'service',
  ) {
    super(EXIT.failed, message)
  }
}

/** Process groups of hooks now running (a hook's pid is its group id). */
const running = new Set<number>()

const killGroup = (pgid: number): void => {
  try {
    process.kill(-pgid, 'SIGKILL')
  } catch {
    // the group is gone already
  }
}

const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const

/** Kills every running hook group, then dies of the same signal (a detached group gets no Ctrl-C of its own). */
function onStopSignal(signal: NodeJS.Signals): void {
  for (const pgid of running) killGroup(pgid)
  running.clear()
  watch(false)
  process.kill(process.pid, signal)
}
const onExit = (): void => {
  for (const pgid of running) killGroup(pgid)
}

function watch(on: boolean): void {
  for (const sig of STOP_SIGNALS) {
    if (on) process.once(sig, onStopSignal)
    else process.removeListener(sig, onStopSignal)
  }
  if (on) process.once('exit', onExit)
  else process.removeListener('exit', onExit)
}

export async function runHook(dir: string, name: string, env: HookEnv, timeoutMs: number): Promise<void> {
  const file = path.join(dir, name)
  await new Promise<void>((resolve, reject) => {
    const child = spawn(file, [], {
      cwd: env.root,
      // Its own process group, so a timeout or a stop signal can kill everything it started.
      detached: true,
      // Hook output goes to stderr: stdout stays machine-readable under --json. It is relayed, not
      // inherited, so a reader that went away (stderr closed) cannot kill a hook with SIGPIPE.
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        NULLSPACE_ROOT: env.root,
        NULLSPACE_RELEASE_ID: env.releaseId,
        NULLSPACE_PREVIOUS_RELEASE_ID: env.previousReleaseId ?? '',
        NULLSPACE_OPERATION: env.operation,
        ...(env.backupDir === undefined ? {} : { NULLSPACE_BACKUP_DIR: env.backupDir }),
      },
    })
    for (const out of [child.stdout, child.stderr]) out?.on('data', (d: Buffer) => process.stderr.write(d))
    const pgid = child.pid
    if (pgid !== undefined) {
      if (running.size === 0) watch(true)
      running.add(pgid)
    }
    const forget = () => {
      if (pgid === undefined || !running.delete(pgid)) return
      if (running.size === 0) watch(false)
    }
    const timer = setTimeout(() => {
      if (pgid !== undefined) killGroup(pgid)
      forget()
      reject(new ActivationFailed(`${env.kind ?? 'post-switch'} hook ${name} did not finish within ${timeoutMs / 1000} s (--hook-timeout)`, 'hook'))
    }, timeoutMs)
    child.on('error', (e) => {
      clearTimeout(timer)
      forget()
      reject(new ActivationFailed(`${env.kind ?? 'post-switch'} hook ${name} could not be started: ${e.message}`, 'hook'))
    })
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      // Something the hook left running may keep the pipes open: they must not keep this process alive.
      for (const out of [child.stdout, child.stderr]) (out as Socket | null)?.unref()
      forget()
      if (code === 0) resolve()
      else reject(new ActivationFailed(`${env.kind ?? 'post-switch'} hook ${name} failed (${signal ? `killed by ${signal}` : `exit ${code}`})`, 'hook'))
    })
  })
}

/** Runs `names` in order; the first failure stops the rest (the backup and restore hooks). */
export async function runHooks(dir: string, names: readonly string[], env: HookEnv, timeoutMs: number): Promise<void> {
  for (const name of names) await runHook(dir, name, env, timeoutMs)
}
