#!/usr/bin/env node
// The part of the stand-in that plays systemd's manager for ONE unit: started detached by
// `systemctl start|restart`, it runs the unit's ExecStart as its own process group, records the
// status that `show` answers, restarts by Restart=/RestartSec= under the start rate limit, and
// on SIGTERM (from `systemctl stop|restart`) stops the service the way systemd does: SIGTERM to
// the group, SIGKILL after a few seconds. It exits when the unit is no longer active.
//
//   supervisor.js <unit> <invocation-id>        (env: NULLSPACE_TEST_SYSTEMD_ROOT, _STATE, _OWNER)
'use strict'
const fs = require('node:fs')
const path = require('node:path')
const { spawn } = require('node:child_process')
const c = require('./common.js')

const STOP_GRACE_MS = 3000
// What systemd gives a service: no inherited environment, a fixed PATH. The directory of this
// node comes first so an artifact starting with `#!/usr/bin/env node` finds the node the specs run.
const SERVICE_PATH = [path.dirname(process.execPath), '/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'].join(':')

const [unit, invocationId] = process.argv.slice(2)
const { root, state } = c.config()
const log = (line) => fs.appendFileSync(c.serviceLog(state, unit), `[stand-in systemd] ${new Date().toISOString()} ${line}\n`)

let child = null
let restartTimer = null
let stopping = false
let stopTimedOut = false
let nRestarts = 0

const status = (patch) => c.writeStatus(state, unit, { InvocationID: invocationId, NRestarts: nRestarts, ...patch })

function finish(patch) {
  status({ MainPID: 0, ...patch })
  fs.rmSync(c.supervisorFile(state, unit), { force: true })
  process.exit(0)
}

/** The loaded copy of the unit (what the last daemon-reload saw), read at every start like the env files. */
function settings() {
  return c.serviceSettings(fs.readFileSync(c.loadedCopy(state, unit), 'utf8'), unit)
}

/** The service's environment, read at each start: EnvironmentFile=s under the root, Environment=, then the spec's extra.env. */
function serviceEnv(s) {
  const env = { PATH: SERVICE_PATH, INVOCATION_ID: invocationId, NULLSPACE_TEST_SYSTEMD_STATE: state }
  for (const spec of s.environmentFiles) {
    const optional = spec.startsWith('-')
    const file = spec.replace(/^-/, '')
    let text
    try {
      text = fs.readFileSync(path.join(root, file), 'utf8')
    } catch (e) {
      if (optional && e.code === 'ENOENT') continue
      throw new Error(`Failed to load environment files: ${file}: ${e.code ?? e.message}`)
    }
    Object.assign(env, c.parseEnvFile(text))
  }
  for (const line of s.environment) Object.assign(env, c.parseEnvironmentLine(line))
  Object.assign(env, c.readJson(path.join(state, 'extra.env'), {}))
  return env
}

function start() {
  let s
  try {
    s = settings()
  } catch (e) {
    log(e.message)
    return finish({ ActiveState: 'failed', SubState: 'failed', Result: 'resources' })
  }
  let env
  try {
    env = serviceEnv(s)
  } catch (e) {
    // systemd: the unit fails with result 'resources' and Restart= applies.
    log(e.message)
    return exited(s, { code: 1, signal: null, result: 'resources' })
  }
  const exe = path.join(root, s.execPath)
  try {
    fs.accessSync(exe, fs.constants.X_OK)
    // An absolute symlink on the way would leave the spec's root for the real host's paths.
    const real = fs.realpathSync(exe)
    if (!real.startsWith(`${fs.realpathSync(root)}/`)) throw Object.assign(new Error(), { code: `resolves outside the root, to ${real}` })
  } catch (e) {
    // systemd's 203/EXEC: the fork worked, the exec did not.
    log(`Failed to execute ${s.execPath}: ${e.code}`)
    return exited(s, { code: 203, signal: null, result: 'exit-code' })
  }
  const out = fs.openSync(c.serviceLog(state, unit), 'a')
  child = spawn(exe, s.execArgs, { cwd: root, env, detached: true, stdio: ['ignore', out, out] })
  fs.closeSync(out)
  const pid = child.pid
  fs.appendFileSync(path.join(state, 'pids.log'), `${JSON.stringify({ unit, role: 'service', pid })}\n`)
  const at = Date.now()
  status({ ActiveState: 'active', SubState: 'running', MainPID: pid, ExecMainPID: pid, ExecMainStartTimestamp: c.systemdTimestamp(at), ExecMainCode: 0, ExecMainStatus: 0, Result: 'success' })
  log(`Started ${unit}: ${s.execPath} as pid ${pid}`)
  child.on('error', (e) => log(`spawn error: ${e.message}`))
  child.on('exit', (code, signal) => {
    child = null
    // KillMode=control-group: what the main process left behind goes with it.
    c.killGroup(pid, 'SIGKILL')
    exited(s, { code, signal, result: signal ? 'signal' : 'exit-code' })
  })
}

// systemd counts these signals as a clean exit for Restart=on-failure.
const CLEAN_SIGNALS = ['SIGHUP', 'SIGINT', 'SIGTERM', 'SIGPIPE']

function exited(s, { code, signal, result }) {
  const clean = signal ? CLEAN_SIGNALS.includes(signal) : code === 0
  const exitFields = { ExecMainCode: signal ? 2 : 1, ExecMainStatus: signal ? signal : code, MainPID: 0 }
  log(`Main process exited, ${signal ? `signal=${signal}` : `status=${code}`}`)
  // As systemd: a stop that had to SIGKILL ends `failed` with result 'timeout'.
  if (stopping) return finish({ ...exitFields, ...(clean ? { ActiveState: 'inactive', SubState: 'dead', Result: 'success' } : { ActiveState: 'failed', SubState: 'failed', Result: stopTimedOut ? 'timeout' : result }) })
  const again = s.restart === 'always' || (s.restart === 'on-failure' && !clean)
  if (!again) return finish({ ...exitFields, ...(clean ? { ActiveState: 'inactive', SubState: 'dead', Result: 'success' } : { ActiveState: 'failed', SubState: 'failed', Result: result }) })
  status({ ...exitFields, ActiveState: 'activating', SubState: 'auto-restart', Result: clean ? 'success' : result })
  restartTimer = setTimeout(() => {
    restartTimer = null
    // systemd counts the restart when it queues the job, before the start limit refuses it.
    nRestarts++
    log(`Scheduled restart job, restart counter is at ${nRestarts}.`)
    if (!c.startAllowed(state, unit, s)) {
      log(`Start request repeated too quickly. Failed with result 'start-limit-hit'.`)
      return finish({ ActiveState: 'failed', SubState: 'failed', Result: 'start-limit-hit' })
    }
    start()
  }, s.restartSecMs)
}

process.on('SIGTERM', () => {
  if (stopping) return
  stopping = true
  if (restartTimer) {
    clearTimeout(restartTimer)
    return finish({ ActiveState: 'inactive', SubState: 'dead', Result: 'success' })
  }
  if (!child) return finish({ ActiveState: 'inactive', SubState: 'dead', Result: 'success' })
  const pid = child.pid
  status({ ActiveState: 'deactivating', SubState: 'stop-sigterm' })
  log(`Stopping ${unit} (pid ${pid})`)
  c.killGroup(pid, 'SIGTERM')
  setTimeout(() => {
    log(`State 'stop-sigterm' timed out. Killing.`)
    stopTimedOut = true
    status({ ActiveState: 'deactivating', SubState: 'stop-sigkill' })
    c.killGroup(pid, 'SIGKILL')
  }, STOP_GRACE_MS).unref()
})

// The spec process that made this stand-in (NULLSPACE_TEST_SYSTEMD_OWNER=<pid>:<start time>): when
// it is gone, even SIGKILLed before its exit hook ran, nothing of the stand-in may outlive it.
const owner = /^(\d+):(\d+)$/.exec(process.env.NULLSPACE_TEST_SYSTEMD_OWNER ?? '')
if (owner) {
  setInterval(() => {
    if (c.alive(Number(owner[1]), owner[2])) return
    if (child) c.killGroup(child.pid, 'SIGKILL')
    process.exit(0)
  }, 500)
}

fs.writeFileSync(c.supervisorFile(state, unit), JSON.stringify({ pid: process.pid, startTime: c.procStat(process.pid).startTime, invocationId }))
start()
