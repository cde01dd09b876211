// When a process started, as wall-clock time: field 22 of /proc/<pid>/stat (clock ticks after
// boot) plus the boot time (`btime` of /proc/stat). `doctor` compares it with the last switch.
import { readFileSync } from 'node:fs'
import { processStartTime } from './lock.js'

/** USER_HZ: the unit of /proc's start times, 100 on every Linux architecture this tool runs on (x86_64, aarch64). */
const CLOCK_TICKS_PER_S = 100

function bootTimeMs(): number | null {
  try {
    const m = /^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))
    return m ? Number(m[1]) * 1000 : null
  } catch {
    return null
  }
}

/** The start of `pid`, or null when it is gone or /proc cannot say (precision: 10 ms, and the boot time's second). */
export function processStartedAt(pid: number): Date | null {
  const ticks = Number(processStartTime(pid))
  const boot = bootTimeMs()
  if (!Number.isFinite(ticks) || boot === null || pid <= 0) return null
  return new Date(boot + (ticks * 1000) / CLOCK_TICKS_PER_S)
}
