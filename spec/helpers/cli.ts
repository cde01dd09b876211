// Runs the real CLI as a child process, with its own deadline so a hang fails fast.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import * as assert from 'uvu/assert'

/** The repository: specs run from dist/spec/helpers. */
export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..')
/** The package's `bin` (what `npm run build` bundles into dist/bin/), the tool as it ships. */
export const CLI = path.join(REPO, (JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { bin: Record<string, string> }).bin['nullspace-host'])

export interface CliResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

export interface CliOptions {
  env?: NodeJS.ProcessEnv
  cwd?: string
  /** Deadline in ms; the child is SIGKILLed and the promise rejects past it. */
  timeoutMs?: number
  input?: string
}

export function runCli(args: string[], o: CliOptions = {}): Promise<CliResult> {
  return runProcess(process.execPath, [CLI, ...args], o)
}

export function runProcess(cmd: string, args: string[], o: CliOptions = {}): Promise<CliResult> {
  const timeoutMs = o.timeoutMs ?? 60_000
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: o.cwd,
      env: { ...process.env, NO_COLOR: '1', NULLSPACE_ROOT: '', ...o.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${path.basename(cmd)} ${args.join(' ')}: no exit within ${timeoutMs} ms\nstderr: ${stderr}`))
    }, timeoutMs)
    child.on('error', (e) => {
      clearTimeout(timer)
      reject(e)
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr })
    })
    child.stdin.end(o.input ?? '')
  })
}

/** Parses stdout as JSON, with the output in the error when it is not. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a spec reads the fields it asserts on
export function json<T = any>(r: CliResult): T {
  try {
    return JSON.parse(r.stdout) as T
  } catch {
    throw new Error(`stdout is not JSON (exit ${r.code}):\n${r.stdout}\nstderr:\n${r.stderr}`)
  }
}

/** The whole result, for assertion messages. */
export const show = (r: CliResult) => `exit ${r.code}${r.signal ? ` (${r.signal})` : ''}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`

/** Asserts the exit code, with the whole result in the message; returns the result. */
export function exits(r: CliResult, code: number, what: string): CliResult {
  assert.is(r.code, code, `${what}: expected exit ${code}, ${show(r)}`)
  return r
}
