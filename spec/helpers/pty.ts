// Runs a command on a real pseudo-terminal with util-linux `script`, so the program sees a TTY
// exactly as at an operator's shell. Shell redirections in the command (`> out`, `2> err`)
// take a stream off the terminal; the transcript is what the terminal showed.
import { spawn } from 'node:child_process'
import { runCli, CLI } from './cli.js'

export interface PtyResult {
  code: number | null
  /** Everything written to the terminal (both streams unless redirected), with the escape codes. */
  transcript: string
}

/** Single-quotes a word for sh. */
export const sh = (word: string): string => (/^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`)

/** `node <package bin> ARGS...` as a shell command line. */
export const cliLine = (args: string[]): string => [process.execPath, CLI, ...args].map(sh).join(' ')

/** Runs `command` (a shell command line) on a pseudo-terminal, with its own deadline. */
export function runInPty(command: string, env: NodeJS.ProcessEnv = {}, timeoutMs = 60_000): Promise<PtyResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qfec', command, '/dev/null'], {
      // uvu sets FORCE_COLOR for itself: the command sees the environment of a plain shell.
      env: { ...process.env, NULLSPACE_ROOT: '', TERM: 'xterm', FORCE_COLOR: undefined, NO_COLOR: undefined, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let transcript = ''
    child.stdout.on('data', (d) => (transcript += d))
    child.stderr.on('data', (d) => (transcript += d))
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`script ${command}: no exit within ${timeoutMs} ms\n${transcript}`))
    }, timeoutMs)
    child.on('error', (e) => {
      clearTimeout(timer)
      reject(e)
    })
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, transcript })
    })
    child.stdin.end()
  })
}

/** Whether util-linux `script` is there (it is on every Debian/Ubuntu host and CI image we use). */
export async function haveScript(): Promise<boolean> {
  return runInPty('true', {}, 10_000).then(
    (r) => r.code === 0,
    () => false,
  )
}

export { runCli }
