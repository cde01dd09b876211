// Post-switch hooks: executables in `etc/nullspace/hooks/post-switch.d`, run in lexical
// order; a non-zero exit (or a timeout) means the activation failed.
import { spawn } from 'node:child_process'
import type { Socket } from 'node:net'
import path from 'node:path'
import { EXIT, Failure } from '../errors.js'

export interface HookEnv {
  readonly root: string
  readonly releaseId: string
  readonly previousReleaseId: string | null
  readonly operation: string
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

export async function runHook(dir: string, name: string, env: HookEnv, timeoutMs: number): Promise<void> {
  const file = path.join(dir, name)
  await new Promise<void>((resolve, reject) => {
    const child = spawn(file, [], {
      cwd: env.root,
      // Hook output goes to stderr: stdout stays machine-readable under --json. It is relayed, not
      // inherited, so a reader that went away (stderr closed) cannot kill a hook with SIGPIPE.
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        NULLSPACE_ROOT: env.root,
        NULLSPACE_RELEASE_ID: env.releaseId,
        NULLSPACE_PREVIOUS_RELEASE_ID: env.previousReleaseId ?? '',
        NULLSPACE_OPERATION: env.operation,
      },
    })
    for (const out of [child.stdout, child.stderr]) out?.on('data', (d: Buffer) => process.stderr.write(d))
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new ActivationFailed(`post-switch hook ${name} did not finish within ${timeoutMs / 1000} s (--hook-timeout)`, 'hook'))
    }, timeoutMs)
    child.on('error', (e) => {
      clearTimeout(timer)
      reject(new ActivationFailed(`post-switch hook ${name} could not be started: ${e.message}`, 'hook'))
    })
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      // Something the hook left running may keep the pipes open: they must not keep this process alive.
      for (const out of [child.stdout, child.stderr]) (out as Socket | null)?.unref()
      if (code === 0) resolve()
      else reject(new ActivationFailed(`post-switch hook ${name} failed (${signal ? `killed by ${signal}` : `exit ${code}`})`, 'hook'))
    })
  })
}

export async function runHooks(dir: string, names: readonly string[], env: HookEnv, timeoutMs: number): Promise<void> {
  for (const name of names) await runHook(dir, name, env, timeoutMs)
}
