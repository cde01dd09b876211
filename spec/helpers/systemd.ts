// The stand-in systemd of ARCHITECTURE.md section 6 for specs of section 8.1: `env` puts the stand-in
// `systemctl` (spec/helpers/systemctl-stand-in/) first on PATH for the real CLI, and the helpers
// read what it recorded (calls, unit status) and end every process it started. No real systemd
// is ever booted by a test.
import fs from 'node:fs'
import path from 'node:path'
import { REPO, runProcess, type CliResult } from './cli.js'
import { tempDir } from './tmp.js'

/** The directory holding the stand-in `systemctl` (source files, run by node without a build). */
export const STAND_IN_DIR = path.join(REPO, 'spec/helpers/systemctl-stand-in')

/** What `systemctl show` answers for a unit the stand-in has no state for (as systemd does for a not-found unit). */
const DEAD: Record<string, string> = { ActiveState: 'inactive', SubState: 'dead', MainPID: '0', NRestarts: '0' }

export interface StandIn {
  /** The spec's --root the units and their ExecStart/EnvironmentFile paths are read under. */
  readonly root: string
  /** The stand-in's state dir: calls.log, loaded/, <unit>.json, <unit>.log (the service's output), extra.env. */
  readonly stateDir: string
  /** For runCli/runProcess: PATH with the stand-in first, and the stand-in's two settings. */
  readonly env: NodeJS.ProcessEnv
  /** Replaces the extra environment every service gets from its next start on (e.g. another port). */
  setExtraEnv(vars: Record<string, string>): void
  /** Every systemctl invocation so far, argv without `systemctl`, in order. */
  calls(): string[][]
  /** The unit's status as its supervisor last wrote it (systemd property names, string values). */
  status(unit: string): Record<string, string>
  /** The unit's MainPID (0 when no process runs). */
  mainPid(unit: string): number
  /** The service's output plus the stand-in's own log lines (like `journalctl -u`), for failure messages. */
  serviceLog(unit: string): string
  /** Runs the stand-in `systemctl` directly (10 s deadline), as the tool would. */
  systemctl(...args: string[]): Promise<CliResult>
  /** Polls the status every 50 ms until `ready` holds; fails after `ms` with the last status and the service log. */
  waitFor(unit: string, what: string, ready: (s: Record<string, string>) => boolean, ms?: number): Promise<Record<string, string>>
  /** SIGKILLs every supervisor and service this stand-in started, and waits (5 s deadline) until none is left. */
  stopAll(): Promise<void>
}

const live = new Set<string>()

/** This process as `<pid>:<start time>` (/proc/self/stat field 22): supervisors exit when it is gone, even if it was SIGKILLed. */
const OWNER = (() => {
  const stat = fs.readFileSync('/proc/self/stat', 'utf8')
  return `${process.pid}:${stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]}`
})()

export interface StandInOptions {
  /** Environment every service gets after its EnvironmentFile (e.g. NULLSPACE_TEST_API_PORT). */
  extraEnv?: Record<string, string>
  /**
   * Load the unit files already under the root, as a host booted with them would (no call is
   * logged). Without it a unit is known only after a `daemon-reload`: stricter than systemd,
   * which loads a unit file it has never seen on demand.
   */
  booted?: boolean
}

/** A stand-in systemd for `root`, with its state in a fresh temp dir. */
export function standInSystemd(root: string, o: StandInOptions = {}): StandIn {
  const stateDir = tempDir('systemd-stand-in')
  if (o.booted) {
    const units = path.join(root, 'etc/systemd/system')
    fs.mkdirSync(path.join(stateDir, 'loaded'))
    for (const name of fs.existsSync(units) ? fs.readdirSync(units) : []) {
      const file = path.join(units, name)
      if (name.endsWith('.service') && fs.statSync(file, { throwIfNoEntry: false })?.isFile()) fs.copyFileSync(file, path.join(stateDir, 'loaded', name))
    }
  }
  const setExtraEnv = (vars: Record<string, string>) => fs.writeFileSync(path.join(stateDir, 'extra.env'), JSON.stringify(vars))
  if (o.extraEnv) setExtraEnv(o.extraEnv)
  live.add(stateDir)
  const status = (unit: string): Record<string, string> => {
    try {
      return { ...DEAD, ...(JSON.parse(fs.readFileSync(path.join(stateDir, `${unit}.json`), 'utf8')) as Record<string, string>) }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { ...DEAD }
      throw e
    }
  }
  const serviceLog = (unit: string) => {
    try {
      return fs.readFileSync(path.join(stateDir, `${unit}.log`), 'utf8')
    } catch {
      return ''
    }
  }
  const env: NodeJS.ProcessEnv = {
    // The stand-in runs with `#!/usr/bin/env node`: the node running the specs comes right after it.
    PATH: `${STAND_IN_DIR}:${path.dirname(process.execPath)}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    NULLSPACE_TEST_SYSTEMD_ROOT: root,
    NULLSPACE_TEST_SYSTEMD_STATE: stateDir,
    NULLSPACE_TEST_SYSTEMD_OWNER: OWNER,
  }
  return {
    root,
    stateDir,
    env,
    setExtraEnv,
    calls: () => {
      const file = path.join(stateDir, 'calls.log')
      if (!fs.existsSync(file)) return []
      return fs
        .readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as string[])
    },
    status,
    mainPid: (unit) => Number(status(unit).MainPID),
    serviceLog,
    systemctl: (...args) => runProcess(path.join(STAND_IN_DIR, 'systemctl'), args, { env, timeoutMs: 10_000 }),
    waitFor: async (unit, what, ready, ms = 10_000) => {
      for (const end = Date.now() + ms; ; await sleep(50)) {
        const s = status(unit)
        if (ready(s)) return s
        if (Date.now() > end) throw new Error(`${unit}: ${what}: not within ${ms} ms; last status ${JSON.stringify(s)}\nservice log:\n${serviceLog(unit)}`)
      }
    },
    stopAll: async () => {
      for (const end = Date.now() + 5_000; ; await sleep(25)) {
        if (killAll(stateDir) === 0) break
        if (Date.now() > end) throw new Error(`stand-in systemd: processes still alive 5 s after SIGKILL: ${standInProcesses(stateDir).join(', ')}`)
      }
      live.delete(stateDir)
    },
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * Pids of the live processes a stand-in started (supervisors, services and their children): the
 * ones whose environment names its state dir. Read from /proc, so nothing it started escapes.
 */
export function standInProcesses(stateDir: string): number[] {
  const marker = Buffer.from(`\0NULLSPACE_TEST_SYSTEMD_STATE=${stateDir}\0`)
  const found: number[] = []
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8')
      if (/^[ZX]$/.test(stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3))) continue // a zombie is already dead
      const environ = Buffer.concat([Buffer.from([0]), fs.readFileSync(`/proc/${name}/environ`)])
      if (environ.includes(marker)) found.push(Number(name))
    } catch {
      // The process ended while we looked.
    }
  }
  return found
}

/** SIGKILLs supervisors first (so none restarts its service), then everything else; returns how many were alive. */
function killAll(stateDir: string): number {
  const pids = standInProcesses(stateDir)
  const isSupervisor = (pid: number) => {
    try {
      return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('systemctl-stand-in/supervisor.js')
    } catch {
      return false
    }
  }
  const kill = (pid: number) => {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // already gone
    }
  }
  pids.filter(isSupervisor).forEach(kill)
  pids.forEach(kill)
  return pids.length
}

// A backstop for a spec that forgot stopAll or failed before reaching it: no process outlives the run.
process.on('exit', () => {
  for (const stateDir of live) killAll(stateDir)
})
