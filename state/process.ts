// When a process started, as wall-clock time: field 22 of /proc/<pid>/stat (clock ticks after
// boot) placed on the wall clock by /proc/uptime. `doctor` compares it with the last switch.
import { readFileSync } from 'node:fs'
import { processStartTime } from './lock.js'

/** USER_HZ: the unit of /proc's start times, 100 on every Linux architecture this tool runs on (x86_64, aarch64). */
const CLOCK_TICKS_PER_S = 100

/**
 * The boot time to the hundredth of a second: now less the uptime. (/proc/stat's `btime` is
 * truncated to the second, which put a process restarted right after a switch before it.)
 */
function bootTimeMs(): number | null {
  try {
    const uptime = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0])
    return Number.isFinite(uptime) ? Date.now() - uptime * 1000 : null
  } catch {
    return null
  }
}

/** The start of `pid`, or null when it is gone or /proc cannot say (precision: about 20 ms). */
export function processStartedAt(pid: number): Date | null {
  if (pid <= 0) return null
  const ticks = Number(processStartTime(pid))
  const boot = bootTimeMs()
  if (!Number.isFinite(ticks) || boot === null) return null
  return new Date(boot + (ticks * 1000) / CLOCK_TICKS_PER_S)
}
