// Shared by the stand-in `systemctl` and its per-unit supervisor: where the state lives, how a
// unit file and an EnvironmentFile are read (the way systemd reads them), the start rate limit,
// and the status file that `show` answers from. Plain CommonJS so node runs it without a build.
'use strict'
const fs = require('node:fs')
const path = require('node:path')
const crypto = require('node:crypto')

/** The two settings every invocation needs; an invocation without them must not fall through to a real systemctl. */
function config() {
  const root = process.env.NULLSPACE_TEST_SYSTEMD_ROOT
  const state = process.env.NULLSPACE_TEST_SYSTEMD_STATE
  if (!root || !path.isAbsolute(root)) throw new Error('NULLSPACE_TEST_SYSTEMD_ROOT must be the absolute path of the spec root')
  if (!state || !path.isAbsolute(state)) throw new Error('NULLSPACE_TEST_SYSTEMD_STATE must be the absolute path of the stand-in state dir')
  return { root, state }
}

const UNIT_DIR = 'etc/systemd/system'
const unitFileOnDisk = (root, unit) => path.join(root, UNIT_DIR, unit)
const loadedCopy = (state, unit) => path.join(state, 'loaded', unit)
const statusFile = (state, unit) => path.join(state, `${unit}.json`)
const supervisorFile = (state, unit) => path.join(state, `${unit}.supervisor.json`)
const limitFile = (state, unit) => path.join(state, `${unit}.limit.json`)
const enabledFile = (state) => path.join(state, 'enabled.json')
const serviceLog = (state, unit) => path.join(state, `${unit}.log`)

function readJson(file, fallback) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'))
  } catch (e) {
    if (e.code === 'ENOENT') return fallback
    throw e
  }
}

/** Temp name in the same directory, then rename: a reader sees the old file or the new one. */
function writeJsonAtomic(file, value) {
  const tmp = `${file}.tmp-${process.pid}-${crypto.randomBytes(4).toString('hex')}`
  fs.writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`)
  fs.renameSync(tmp, file)
}

/** What systemd answers for a unit it has no state for (never started, or not found). */
const DEAD = Object.freeze({
  ActiveState: 'inactive',
  SubState: 'dead',
  MainPID: '0',
  NRestarts: '0',
  ExecMainStartTimestamp: '',
  ExecMainPID: '0',
  ExecMainCode: '0',
  ExecMainStatus: '0',
  Result: 'success',
  InvocationID: '',
})

function readStatus(state, unit) {
  return { ...DEAD, ...readJson(statusFile(state, unit), {}) }
}

function writeStatus(state, unit, patch) {
  const next = { ...readStatus(state, unit), ...patch }
  for (const k of Object.keys(next)) next[k] = String(next[k])
  writeJsonAtomic(statusFile(state, unit), next)
  return next
}

/** systemd's timestamp format (`Sun 2026-12-06 04:12:00 UTC`), in UTC. */
function systemdTimestamp(ms) {
  const d = new Date(ms)
  const day = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'][d.getUTCDay()]
  return `${day} ${d.toISOString().slice(0, 10)} ${d.toISOString().slice(11, 19)} UTC`
}

// ---- processes -------------------------------------------------------------------------------

/** Field 22 of /proc/<pid>/stat (start time in clock ticks), and the state letter; null when gone. */
function procStat(pid) {
  let text
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return null
  }
  // The command name is in parentheses and may hold spaces: fields count from the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ')
  return { state: rest[0], pgrp: Number(rest[2]), startTime: rest[19] }
}

/** A process is alive when /proc has it, it is not a zombie, and (when known) it started when we recorded. */
function alive(pid, startTime) {
  if (!pid) return false
  const st = procStat(pid)
  if (!st || st.state === 'Z' || st.state === 'X') return false
  return startTime === undefined || st.startTime === startTime
}

function killGroup(pgid, signal) {
  try {
    process.kill(-pgid, signal)
  } catch {
    // The group is already gone.
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

/** The supervisor of `unit` when it is still running (pid and start time both match), else null. */
function liveSupervisor(state, unit) {
  const s = readJson(supervisorFile(state, unit), null)
  return s && alive(s.pid, s.startTime) ? s : null
}

// ---- unit files ------------------------------------------------------------------------------

/** Time spans as systemd writes them: `2`, `2s`, `500ms`, `1min`, `1min 30s`, `infinity`. Returns ms. */
function parseTimespan(text, what) {
  const s = text.trim()
  if (s === 'infinity') return Infinity
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s) * 1000
  const units = { us: 0.001, usec: 0.001, ms: 1, msec: 1, s: 1000, sec: 1000, second: 1000, seconds: 1000, m: 60_000, min: 60_000, minute: 60_000, minutes: 60_000, h: 3_600_000, hr: 3_600_000, hour: 3_600_000, hours: 3_600_000 }
  let total = 0
  let rest = s
  while (rest.length) {
    const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]+)/.exec(rest)
    if (!m || units[m[2]] === undefined) throw new Error(`${what}: cannot read time span ${JSON.stringify(text)}`)
    total += Number(m[1]) * units[m[2]]
    rest = rest.slice(m[0].length)
  }
  return total
}

/** `[Section]` -> key -> every value in order (a key may repeat; an empty assignment resets the list). */
function parseUnit(text) {
  const sections = {}
  let current = null
  const lines = text.replace(/\\\n/g, ' ').split('\n')
  for (const raw of lines) {
    const line = raw.trim()
    if (!line || line.startsWith('#') || line.startsWith(';')) continue
    const sec = /^\[(.+)\]$/.exec(line)
    if (sec) {
      current = sections[sec[1]] ??= {}
      continue
    }
    const eq = line.indexOf('=')
    if (current === null || eq < 0) continue
    const key = line.slice(0, eq).trim()
    const value = line.slice(eq + 1).trim()
    if (value === '') current[key] = []
    else (current[key] ??= []).push(value)
  }
  return sections
}

/** The settings the stand-in honours, with systemd's defaults where the unit says nothing. */
function serviceSettings(text, unit) {
  const u = parseUnit(text)
  const last = (sec, key) => {
    const v = u[sec]?.[key]
    return v && v.length ? v[v.length - 1] : undefined
  }
  const exec = last('Service', 'ExecStart')
  if (exec === undefined) throw new Error(`${unit}: no ExecStart= in [Service]`)
  // Prefixes systemd allows before the path: '-' (failure ignored), '@', '+', '!', ':'.
  const words = exec.replace(/^[-@+!:]+/, '').trim().split(/\s+/)
  const restart = last('Service', 'Restart') ?? 'no'
  if (!['no', 'on-failure', 'always'].includes(restart)) throw new Error(`${unit}: Restart=${restart} is not one the stand-in knows (no, on-failure, always)`)
  return {
    execPath: words[0],
    execArgs: words.slice(1),
    environmentFiles: u.Service?.EnvironmentFile ?? [],
    environment: u.Service?.Environment ?? [],
    restart,
    restartSecMs: parseTimespan(last('Service', 'RestartSec') ?? '100ms', 'RestartSec'),
    startLimitIntervalMs: parseTimespan(last('Unit', 'StartLimitIntervalSec') ?? '10s', 'StartLimitIntervalSec'),
    startLimitBurst: Number(last('Unit', 'StartLimitBurst') ?? '5'),
    wantedBy: (u.Install?.WantedBy ?? []).flatMap((v) => v.split(/\s+/)),
  }
}

// ---- environment files -----------------------------------------------------------------------

/**
 * An EnvironmentFile the way systemd 252 reads one (src/basic/env-file.c, a state machine):
 * `KEY=VALUE` lines; a line starting with `#` or `;` is a comment; whitespace before the value
 * and after an unquoted one is dropped. A value may open with "double quotes" (a backslash
 * unescapes one of `"\`$`, eats a newline, and stays in front of anything else) or 'single quotes'
 * (taken as they are); after the closing quote, whitespace is skipped and another quoted or
 * unquoted part may follow and is appended. Unquoted, a backslash takes the next character
 * literally (a backslash-newline joins lines), and quote characters are literal.
 */
function parseEnvFile(text) {
  const out = {}
  const NL = '\n\r'
  const WS = ' \t\n\r'
  let state = 'pre-key'
  let key = ''
  let value = ''
  let trailing = -1 // where trailing unquoted whitespace starts in `value`, or -1
  const push = () => {
    if (state === 'value' && trailing >= 0) value = value.slice(0, trailing)
    key = key.replace(/[ \t\n\r]+$/, '')
    // systemd drops assignments with invalid names when it builds the environment.
    if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) out[key] = value
    key = ''
    value = ''
  }
  for (const c of text) {
    switch (state) {
      case 'pre-key':
        if (c === '#' || c === ';') state = 'comment'
        else if (!WS.includes(c)) {
          state = 'key'
          key = c
        }
        break
      case 'key':
        if (NL.includes(c)) {
          state = 'pre-key'
          key = ''
        } else if (c === '=') state = 'pre-value'
        else key += c
        break
      case 'pre-value':
        if (NL.includes(c)) {
          push()
          state = 'pre-key'
        } else if (c === "'") state = 'single'
        else if (c === '"') state = 'double'
        else if (c === '\\') state = 'value-escape'
        else if (!WS.includes(c)) {
          state = 'value'
          trailing = -1
          value += c
        }
        break
      case 'value':
        if (NL.includes(c)) {
          push()
          state = 'pre-key'
        } else if (c === '\\') {
          state = 'value-escape'
          trailing = -1
        } else {
          if (!WS.includes(c)) trailing = -1
          else if (trailing < 0) trailing = value.length
          value += c
        }
        break
      case 'value-escape':
        state = 'value'
        trailing = -1
        if (!NL.includes(c)) value += c
        break
      case 'single':
        if (c === "'") state = 'pre-value'
        else value += c
        break
      case 'double':
        if (c === '"') state = 'pre-value'
        else if (c === '\\') state = 'double-escape'
        else value += c
        break
      case 'double-escape':
        state = 'double'
        if ('"\\`$'.includes(c)) value += c
        else if (c !== '\n') value += `\\${c}`
        break
      case 'comment':
        if (c === '\\') state = 'comment-escape'
        else if (NL.includes(c)) state = 'pre-key'
        break
      case 'comment-escape':
        // systemd 252: a backslash-newline continues the comment onto the next line.
        state = 'comment'
        break
    }
  }
  if (['pre-value', 'value', 'value-escape', 'single', 'double', 'double-escape'].includes(state)) push()
  return out
}

/** `Environment=` assignments: space-separated `KEY=VALUE` words, double or single quoted. */
function parseEnvironmentLine(text) {
  const out = {}
  for (const m of text.matchAll(/"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g)) {
    const word = m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : (m[2] ?? m[3])
    const eq = word.indexOf('=')
    if (eq > 0) out[word.slice(0, eq)] = word.slice(eq + 1)
  }
  return out
}

// ---- the start rate limit (systemd's ratelimit_below) ----------------------------------------

/**
 * Counts one start against StartLimitIntervalSec/StartLimitBurst; false when it is refused. As in
 * systemd, the window opens at the first start and every start counts, explicit or by Restart=.
 */
function startAllowed(state, unit, settings, now = Date.now()) {
  if (!(settings.startLimitIntervalMs > 0) || !(settings.startLimitBurst > 0)) return true
  const l = readJson(limitFile(state, unit), { begin: 0, num: 0 })
  if (l.begin <= 0 || now - l.begin > settings.startLimitIntervalMs) {
    writeJsonAtomic(limitFile(state, unit), { begin: now, num: 1 })
    return true
  }
  if (l.num >= settings.startLimitBurst) return false
  writeJsonAtomic(limitFile(state, unit), { begin: l.begin, num: l.num + 1 })
  return true
}

function resetStartLimit(state, unit) {
  fs.rmSync(limitFile(state, unit), { force: true })
}

module.exports = {
  config,
  unitFileOnDisk,
  loadedCopy,
  statusFile,
  supervisorFile,
  limitFile,
  enabledFile,
  serviceLog,
  UNIT_DIR,
  readJson,
  writeJsonAtomic,
  DEAD,
  readStatus,
  writeStatus,
  systemdTimestamp,
  procStat,
  alive,
  killGroup,
  sleep,
  liveSupervisor,
  parseTimespan,
  parseUnit,
  serviceSettings,
  parseEnvFile,
  parseEnvironmentLine,
  startAllowed,
  resetStartLimit,
}
