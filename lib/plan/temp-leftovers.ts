// Which temp-named files the state reader found are this tool's own, abandoned by a killed run
// (a write never renamed into place: writeFileAtomic, switchSymlink). Only runs that hold the
// host lock write them, so under the lock every one of them is abandoned. Pure: the planner
// cleans what this returns.
import path from 'node:path'
import { API_UNIT, APPLIANCE_ENV, JOURNAL_FILE, RELEASES_HOST_DIR, STAGING, STATE_DIR, STATE_FILE } from '../layout.js'
import type { ActualState } from '../../state/read.js'

const isTempOf = (name: string, file: string) => name.startsWith(`.${file}.tmp-`)

/**
 * The directories this tool owns whole (beside `current`, each release, anywhere under `.staging`,
 * /etc/nullspace) give up every temp; those it shares with others give up only the temps of the
 * files it writes there: state.json and journal.json, the unit file, each compatibility link.
 */
export function abandonedTemps(actual: Pick<ActualState, 'tempFiles' | 'releases' | 'links'>): string[] {
  const ownedWhole = new Set([RELEASES_HOST_DIR, ...actual.releases.map((r) => path.posix.join(RELEASES_HOST_DIR, r.id)), path.posix.dirname(APPLIANCE_ENV)])
  const staging = `${path.posix.join(RELEASES_HOST_DIR, STAGING)}/`
  const ownFiles = new Map<string, string[]>([
    [STATE_DIR, [STATE_FILE, JOURNAL_FILE]],
    [path.posix.dirname(API_UNIT), [path.posix.basename(API_UNIT)]],
  ])
  for (const p of Object.keys(actual.links)) {
    const dir = path.posix.dirname(p)
    ownFiles.set(dir, [...(ownFiles.get(dir) ?? []), path.posix.basename(p)])
  }
  return actual.tempFiles.filter((p) => {
    const dir = path.posix.dirname(p)
    const name = path.posix.basename(p)
    return ownedWhole.has(dir) || p.startsWith(staging) || (ownFiles.get(dir) ?? []).some((f) => isTempOf(name, f))
  })
}
