// The host id that places this host in a channel's rollouts (ARCHITECTURE.md section 8.4): the first
// line of `etc/machine-id` under the root, without its newline; else a random id made once and
// kept in `var/lib/nullspace/host-id`, so the host keeps its place from one run to the next.
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import { isUnreadable, mkdirUnder, readRegularFile, writeFileAtomic } from '../lib/fsx.js'
import { operationFailed } from '../lib/errors.js'
import type { Layout } from '../lib/layout.js'

export const MACHINE_ID = '/etc/machine-id'
export const HOST_ID_FILE = 'host-id'
/** machine-id(5) is 33 bytes; a file far bigger is not one. */
const MAX_ID_FILE_BYTES = 4096
const KEPT_ID = /^[0-9a-f]{32}$/

export interface HostId {
  readonly id: string
  /** Where it came from: `etc/machine-id`, or the id this tool keeps. */
  readonly source: 'machine-id' | 'host-id'
  /** The file it was read from (or written to). */
  readonly file: string
}

const hostIdFile = (l: Layout) => path.join(l.stateDir, HOST_ID_FILE)

/** The host id, or null when neither file holds one yet (reads only). */
export async function readHostId(l: Layout): Promise<HostId | null> {
  const machineIdFile = l.host(MACHINE_ID)
  // machine-id is often a link (to /run/machine-id); it is only read.
  const machine = await readRegularFile(machineIdFile, MAX_ID_FILE_BYTES, { followSymlink: true })
  if (!isUnreadable(machine)) {
    const first = machine.toString('utf8').split('\n')[0]
    if (first !== '') return { id: first, source: 'machine-id', file: machineIdFile }
  }
  const file = hostIdFile(l)
  const kept = await readRegularFile(file, MAX_ID_FILE_BYTES)
  if (isUnreadable(kept)) {
    if (kept.missing) return null
    throw operationFailed(`${file} ${kept.why}; it keeps this host's place in channel rollouts: remove it (a new id is made) or restore it`)
  }
  const id = kept.toString('utf8').split('\n')[0]
  if (!KEPT_ID.test(id)) throw operationFailed(`${file} does not hold a host id (32 lowercase hex characters); remove it (a new id is made) or restore it`)
  return { id, source: 'host-id', file }
}

/** A new random host id for this host, not kept yet (keepHostId keeps it once the run goes ahead). */
export function newHostId(l: Layout): HostId {
  return { id: randomBytes(16).toString('hex'), source: 'host-id', file: hostIdFile(l) }
}

/** Keeps a new host id (atomically), so the host keeps its place in rollouts. Call under the host lock. */
export async function keepHostId(l: Layout, hostId: HostId): Promise<void> {
  await mkdirUnder(l.root, l.stateDir)
  await writeFileAtomic(hostId.file, `${hostId.id}\n`, 0o644)
}
