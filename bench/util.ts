// Small helpers of the benchmark harness: processes with wall time, medians, formatting,
// temp dirs. Nothing here imports lib/: the harness drives the compiled CLI as a user would.
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
/** The repository root (dist/bench/../..). */
export const REPO = path.resolve(here, '../..')
/** The package's `bin` (dist/bin/main.mjs, what `npm run build` bundles), or main()'s snapshot of it. */
export let CLI = path.join(REPO, (JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { bin: Record<string, string> }).bin['nullspace-host'])

/**
 * Copies the bin (self-contained: its entry and chunks) under bench/out/, so a rebuild of
 * dist/ by someone else during a long run cannot break or change the tool halfway. `from`
 * benches another build's entry instead (a copy of an older dist/bin: the "before" figures).
 */
export function snapshotCli(from?: string): string {
  if (from) CLI = path.resolve(from)
  // One snapshot per bench process: two benches at once (before and after) must not share one.
  const snap = path.join(REPO, `bench/out/cli-${process.pid}`)
  fs.rmSync(snap, { recursive: true, force: true })
  process.on('exit', () => fs.rmSync(snap, { recursive: true, force: true }))
  fs.cpSync(path.dirname(CLI), snap, { recursive: true })
  CLI = path.join(snap, path.basename(CLI))
  return CLI
}
export const NODE = process.execPath

export const KiB = 1024
export const MiB = 1024 * KiB
export const GiB = 1024 * MiB

export interface Ran {
  readonly ms: number
  /** user+sys CPU of the command and the children it waited for (GNU time), when available. */
  readonly cpuMs: number | null
  /** Peak RSS in KiB (GNU time), when available. */
  readonly maxRssKiB: number | null
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

export interface RunOptions {
  readonly env?: NodeJS.ProcessEnv
  readonly cwd?: string
  /** Exit codes that count as success (default [0]); anything else throws with stderr. */
  readonly ok?: readonly number[]
  readonly timeoutMs?: number
  /** Called with the child once it is spawned (the resume case watches and kills it). */
  readonly onSpawn?: (child: import('node:child_process').ChildProcess) => void
  /** Do not throw on a signal death (the resume case kills on purpose). */
  readonly allowSignal?: boolean
  /** Run under GNU time for CPU and peak RSS (default: when /usr/bin/time is there). */
  readonly rusage?: boolean
}

const GNU_TIME = '/usr/bin/time'
export const HAS_GNU_TIME = (() => {
  const r = spawnSync(GNU_TIME, ['-f', '%U', 'true'], { encoding: 'utf8' })
  return r.status === 0 && /^\d+\.\d+\s*$/.test(r.stderr)
})()
let rusageSeq = 0

const MAX_CAPTURE = 1024 * 1024

/** Spawns cmd, waits, returns the wall time from spawn to exit (stdout/stderr captured, capped). */
export function run(cmd: string, args: readonly string[], o: RunOptions = {}): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const ru = (o.rusage ?? true) && HAS_GNU_TIME ? path.join(os.tmpdir(), `nullspace-bench-rusage-${process.pid}-${rusageSeq++}`) : null
    const argv = ru ? ['-f', '%U %S %M', '-o', ru, cmd, ...args] : args
    const t0 = process.hrtime.bigint()
    const child = spawn(ru ? GNU_TIME : cmd, argv, { cwd: o.cwd, env: { ...process.env, NO_COLOR: '1', NULLSPACE_ROOT: '', ...o.env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => {
      if (stdout.length < MAX_CAPTURE) stdout += d
    })
    child.stderr.on('data', (d: Buffer) => {
      if (stderr.length < MAX_CAPTURE) stderr += d
    })
    const timeoutMs = o.timeoutMs ?? 30 * 60_000
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${describe(cmd, args)}: no exit within ${timeoutMs} ms`))
    }, timeoutMs)
    child.on('error', (e) => {
      clearTimeout(timer)
      reject(e)
    })
    child.on('close', (code, sig) => {
      let signal = sig
      clearTimeout(timer)
      const ms = Number(process.hrtime.bigint() - t0) / 1e6
      let cpuMs: number | null = null
      let maxRssKiB: number | null = null
      if (ru) {
        // A child killed by a signal makes GNU time say so on the first line; the figures are last.
        const text = fs.existsSync(ru) ? fs.readFileSync(ru, 'utf8') : ''
        const m = /(\d+\.\d+) (\d+\.\d+) (\d+)\s*$/.exec(text)
        fs.rmSync(ru, { force: true })
        if (m) {
          cpuMs = (Number(m[1]) + Number(m[2])) * 1000
          maxRssKiB = Number(m[3])
        }
        // GNU time exits with the command's status, or 128+signal for a signal death.
        const killed = /Command terminated by signal (\d+)/.exec(text)
        if (signal === null && killed) signal = (os.constants.signals as Record<string, number>)['SIGKILL'] === Number(killed[1]) ? 'SIGKILL' : 'SIGTERM'
      }
      const r: Ran = { ms, cpuMs, maxRssKiB, code, signal, stdout, stderr }
      if (signal !== null && o.allowSignal) return resolve(r)
      if (code === null || !(o.ok ?? [0]).includes(code)) {
        return reject(new Error(`${describe(cmd, args)}: exit ${code ?? signal}\n${stderr.trim() || stdout.trim()}`))
      }
      resolve(r)
    })
    o.onSpawn?.(child)
  })
}

const describe = (cmd: string, args: readonly string[]) => [cmd === NODE ? 'node' : cmd, ...args].map((a) => (/[\s"']/.test(a) ? JSON.stringify(a) : a)).join(' ')

/** The CLI under test: `node dist/bin/main.mjs ...` (with node flags first, e.g. --cpu-prof). */
export const cli = (args: readonly string[], o: RunOptions = {}, nodeFlags: readonly string[] = []) => run(NODE, [...nodeFlags, CLI, ...args], o)

export const sh = (script: string, o: RunOptions = {}) => run('/bin/sh', ['-c', script], o)

/** Quotes one word for /bin/sh. */
export const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`

/**
 * Flushes dirty pages left by the previous run, so no run pays for another's writeback.
 * Dirty data only; the page cache is left alone (both sides run warm).
 */
export function settle(): void {
  spawnSync('sync')
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return '—'
  if (ms < 1000) return `${ms.toFixed(ms < 10 ? 1 : 0)} ms`
  return `${(ms / 1000).toFixed(2)} s`
}

export function fmtBytes(n: number): string {
  if (n >= GiB) return `${(n / GiB).toFixed(n % GiB ? 2 : 0)} GiB`
  if (n >= MiB) return `${(n / MiB).toFixed(n % MiB ? 1 : 0)} MiB`
  if (n >= KiB) return `${(n / KiB).toFixed(0)} KiB`
  return `${n} B`
}

/** Decimal throughput, as openssl speed and dd print it. */
export const fmtRate = (bytes: number, ms: number) => `${(bytes / (ms / 1000) / 1e6).toFixed(0)} MB/s`

export function log(line: string): void {
  process.stderr.write(`${line}\n`)
}

/** A fresh directory under the bench's temp base; removed with the base at the end. */
export function mkTemp(base: string, prefix: string): string {
  return fs.mkdtempSync(path.join(base, `${prefix}-`))
}

export function rmrf(p: string): void {
  fs.rmSync(p, { recursive: true, force: true })
}

/** Rotates the order of a rep's variants so no side always runs first (or right after a write). */
export function rotate<T>(xs: readonly T[], i: number): T[] {
  const k = i % xs.length
  return [...xs.slice(k), ...xs.slice(0, k)]
}

export function freeBytes(dir: string): number {
  const st = fs.statfsSync(dir)
  return st.bavail * st.bsize
}
