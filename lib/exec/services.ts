// The services of the appliance, driven through `systemctl` (ARCHITECTURE.md section 8.1). Only the
// forms the contract names are run: daemon-reload, enable, reset-failed, restart, stop, start,
// and show with the four properties the health wait reads.
import { execFile } from 'node:child_process'
import { ActivationFailed } from './hooks.js'
import { Failure, EXIT } from '../errors.js'

export interface UnitStatus {
  readonly active_state: string
  readonly sub_state: string
  readonly main_pid: number
  readonly n_restarts: number
}

/** How long one systemctl call may take: a restart waits for the old process to stop (systemd's TimeoutStopSec). */
const CALL_TIMEOUT_MS = 120_000
/** The health wait reads `show` this often (the contract asks for at least every 500 ms). */
const POLL_MS = 250

export type SystemctlVerb = 'daemon-reload' | 'enable' | 'reset-failed' | 'restart' | 'stop' | 'start' | 'show'

/** Runs `systemctl <verb> [unit] [...]`; resolves stdout, rejects with a one-line reason naming the call. */
export function systemctl(verb: SystemctlVerb, unit?: string, extra: readonly string[] = [], timeoutMs = CALL_TIMEOUT_MS): Promise<string> {
  const args = [verb, ...(unit === undefined ? [] : [unit]), ...extra]
  return new Promise((resolve, reject) => {
    execFile('systemctl', args, { timeout: timeoutMs, encoding: 'utf8', maxBuffer: 1024 * 1024 }, (error, stdout, stderr) => {
      if (!error) return resolve(stdout)
      const call = `systemctl ${args.join(' ')}`
      const code = (error as { code?: unknown }).code
      if (code === 'ENOENT') return reject(new Failure(EXIT.failed, `${call}: systemctl is not on PATH; on a host without systemd pass --service-manager none`))
      const said = stderr.trim().split('\n').filter(Boolean).at(-1)
      const how = error.killed ? `no answer within ${timeoutMs / 1000} s` : typeof code === 'number' ? `exit ${code}` : error.message
      reject(new ServiceCallFailed(`${call} failed (${how})${said ? `: ${said}` : ''}`))
    })
  })
}

/** systemctl itself failed: the activation failed (a rollback follows), it is not a usage error. */
export class ServiceCallFailed extends ActivationFailed {
  constructor(message: string) {
    super(message, 'service')
  }
}

const SHOW_PROPERTIES = ['ActiveState', 'SubState', 'MainPID', 'NRestarts'] as const

/** `systemctl show <unit> --property=...`, parsed; an unknown unit reads as inactive/dead. */
export async function unitStatus(unit: string): Promise<UnitStatus> {
  const text = await systemctl('show', unit, [`--property=${SHOW_PROPERTIES.join(',')}`], 30_000)
  const props = new Map<string, string>()
  for (const line of text.split('\n')) {
    const at = line.indexOf('=')
    if (at > 0) props.set(line.slice(0, at), line.slice(at + 1).trim())
  }
  const num = (k: string) => {
    const n = Number(props.get(k) ?? '0')
    return Number.isSafeInteger(n) && n >= 0 ? n : 0
  }
  return { active_state: props.get('ActiveState') ?? 'unknown', sub_state: props.get('SubState') ?? 'unknown', main_pid: num('MainPID'), n_restarts: num('NRestarts') }
}

/** `reset-failed` (a unit that hit its start limit would refuse the restart), then `restart`. Returns the MainPID before. */
export async function restartUnit(unit: string): Promise<number> {
  const before = await unitStatus(unit)
  await systemctl('reset-failed', unit)
  await systemctl('restart', unit)
  return before.main_pid
}

const describe = (s: UnitStatus) => `ActiveState=${s.active_state} SubState=${s.sub_state} MainPID=${s.main_pid} NRestarts=${s.n_restarts}`
const running = (s: UnitStatus) => s.active_state === 'active' && s.sub_state === 'running' && s.main_pid !== 0
/** States a unit does not leave by itself within a health wait: waiting longer proves nothing. */
const ended = (s: UnitStatus) => s.active_state === 'failed' || (s.active_state === 'inactive' && s.sub_state !== 'auto-restart')

export interface HealthWait {
  readonly unit: string
  /** The MainPID before the restart (null when the restart happened in an earlier, interrupted run). */
  readonly pidBefore: number | null
  readonly settleS: number
  readonly timeoutS: number
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * Waits until the unit runs a new process, then requires that process, its restart count and its
 * active/running state to hold for the settle time. A unit that exits, fails or restarts (a crash
 * loop) fails at once; one that never gets there fails at the timeout. Returns the proven MainPID
 * and the seconds the whole wait took.
 */
export async function waitHealthy(w: HealthWait): Promise<{ readonly pid: number; readonly seconds: number }> {
  const start = Date.now()
  const deadline = start + w.timeoutS * 1000
  const fail = (why: string, s: UnitStatus): never => {
    throw new ActivationFailed(`${w.unit} ${why} (last ${describe(s)})`, 'service')
  }
  let s = await unitStatus(w.unit)
  for (;;) {
    if (running(s) && s.main_pid !== w.pidBefore) break
    if (ended(s)) fail('did not come up: it is not running', s)
    if (Date.now() >= deadline) fail(`did not become active within ${w.timeoutS} s (--service-timeout)`, s)
    await sleep(POLL_MS)
    s = await unitStatus(w.unit)
  }
  const proven = s
  const settled = Date.now() + w.settleS * 1000
  while (Date.now() < settled) {
    await sleep(Math.min(POLL_MS, Math.max(0, settled - Date.now())))
    s = await unitStatus(w.unit)
    if (s.n_restarts !== proven.n_restarts) fail(`restarted while it settled (NRestarts ${proven.n_restarts} -> ${s.n_restarts}: a crash loop)`, s)
    if (s.main_pid !== proven.main_pid) fail(`changed its process while it settled (MainPID ${proven.main_pid} -> ${s.main_pid})`, s)
    if (!running(s)) fail(`stopped running within ${w.settleS} s of starting (--service-settle)`, s)
    if (Date.now() > deadline) fail(`did not settle within ${w.timeoutS} s (--service-timeout)`, s)
  }
  return { pid: proven.main_pid, seconds: (Date.now() - start) / 1000 }
}
