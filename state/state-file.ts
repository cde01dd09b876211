// `var/lib/nullspace/state.json`: the history of every switch and the releases marked failed.
// `current` is the truth about which release is active; this file is history.
import fs from 'node:fs/promises'
import { t, E } from '../lib/commonjs.cjs'
import { writeFileAtomic } from '../lib/fsx.js'
import { errnoCode, operationFailed } from '../lib/errors.js'
import { formatProblem, problemsFromErrors } from '../lib/manifest/problems.js'

export const Operation = t.union([t.literal('install'), t.literal('upgrade'), t.literal('rollback'), t.literal('auto-rollback')])
export type Operation = t.TypeOf<typeof Operation>

export const SwitchRecord = t.intersection([
  t.type({
    op: Operation,
    from: t.union([t.string, t.null]),
    to: t.string,
    /** When the record was written (after the activation's checks). */
    at: t.string,
    result: t.union([t.literal('ok'), t.literal('failed'), t.literal('recovered')]),
  }),
  // Absent in records written before `history` (0.1.0 without services).
  t.partial({
    /** When `current` was renamed: `doctor` judges a unit process older than this stale. */
    switched_at: t.string,
    /** Why the activation failed (result `failed`). */
    reason: t.string,
    tool_version: t.string,
    /** Who ran the command: SUDO_USER, else the uid's name. */
    user: t.string,
    /** Binaries of `to` that could not be asked for their version before the switch: `doctor` keeps warning of them. */
    unverified: t.array(t.string),
  }),
])
export type SwitchRecord = t.TypeOf<typeof SwitchRecord>

/** A backup taken, verified or restored (ARCHITECTURE.md section 8.3): history of its own, beside the switches. */
export const BackupEvent = t.intersection([
  t.type({
    op: t.union([t.literal('backup'), t.literal('verify'), t.literal('restore')]),
    at: t.string,
    backup_id: t.string,
    release_id: t.string,
    result: t.union([t.literal('ok'), t.literal('failed')]),
  }),
  t.partial({ reason: t.string, tool_version: t.string, user: t.string }),
])
export type BackupEvent = t.TypeOf<typeof BackupEvent>

export const Pin = t.intersection([t.type({ at: t.string }), t.partial({ reason: t.string, user: t.string })])
export type Pin = t.TypeOf<typeof Pin>

/** The channel this host last accepted (ARCHITECTURE.md section 8.4): one with a lower sequence is a replay, and refused. */
export const AcceptedChannel = t.type({ sequence: t.number, channel: t.string, url: t.string, at: t.string })
export type AcceptedChannel = t.TypeOf<typeof AcceptedChannel>

export const StateFile = t.intersection([
  t.type({
    format_version: t.literal(1),
    history: t.array(SwitchRecord),
    failed: t.record(t.string, t.type({ at: t.string, reason: t.string })),
  }),
  // Absent in files written before backups and pins: such a file has neither.
  t.partial({
    events: t.array(BackupEvent),
    /** Releases prune never removes, by release id. */
    pins: t.record(t.string, Pin),
    /** Absent until the first upgrade --channel. */
    channel: AcceptedChannel,
  }),
])
export type StateFile = t.TypeOf<typeof StateFile>

export const emptyState = (): StateFile => ({ format_version: 1, history: [], failed: Object.create(null) as StateFile['failed'] })

/**
 * Whether a release is marked failed. Release ids such as `constructor` or `toString` are valid,
 * so `id in state.failed` would find Object.prototype's members: ask only for own entries.
 */
export const isMarkedFailed = (state: StateFile, id: string): boolean => Object.hasOwn(state.failed, id)

export async function readStateFile(file: string): Promise<StateFile> {
  let text: string
  try {
    text = await fs.readFile(file, 'utf8')
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return emptyState()
    throw operationFailed(`${file}: cannot read the state file: ${(e as Error).message}`)
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    throw operationFailed(`${file}: the state file is not valid JSON; move it aside to start a new history`)
  }
  const decoded = StateFile.decode(json)
  if (E.isLeft(decoded)) throw operationFailed(`${file}: the state file is malformed (${problemsFromErrors(decoded.left).map(formatProblem)[0]}); move it aside to start a new history`)
  // Keyed by release ids from disk: no prototype, so no id ever reads or writes a member of one.
  const failed = Object.create(null) as StateFile['failed']
  for (const [id, mark] of Object.entries(decoded.right.failed)) failed[id] = mark
  const pins = Object.create(null) as NonNullable<StateFile['pins']>
  for (const [id, pin] of Object.entries(decoded.right.pins ?? {})) pins[id] = pin
  return { ...decoded.right, failed, ...(decoded.right.pins === undefined ? {} : { pins }) }
}

/** Whether a release is pinned (own entries only, as isMarkedFailed). */
export const isPinned = (state: StateFile, id: string): boolean => state.pins !== undefined && Object.hasOwn(state.pins, id)

/** Appends a backup event in one atomic write (the caller holds the host lock). */
export async function recordBackupEvent(file: string, event: BackupEvent): Promise<void> {
  const state = await readStateFile(file)
  state.events = [...(state.events ?? []), event]
  await writeStateFile(file, state)
}

export async function writeStateFile(file: string, state: StateFile): Promise<void> {
  await writeFileAtomic(file, `${JSON.stringify(state, null, 2)}\n`, 0o644)
}

/** The most recent release other than `current` that was active and is not marked failed. */
export function rollbackTarget(state: StateFile, current: string | null, available: (id: string) => boolean): string | null {
  for (let i = state.history.length - 1; i >= 0; i--) {
    const r = state.history[i]
    for (const id of [r.to, r.from]) {
      if (id !== null && id !== current && !isMarkedFailed(state, id) && available(id)) return id
    }
  }
  return null
}

/** Records a switch whose activation failed and marks the release failed, in one atomic write. */
export async function recordFailedSwitch(file: string, record: Omit<SwitchRecord, 'result' | 'reason'>, reason: string): Promise<void> {
  const state = await readStateFile(file)
  state.history.push({ ...record, result: 'failed', reason })
  state.failed[record.to] = { at: record.at, reason }
  await writeStateFile(file, state)
}

/** Records an accepted channel in one atomic write (the caller holds the host lock); the highest sequence is kept. */
export async function recordAcceptedChannel(file: string, accepted: AcceptedChannel): Promise<void> {
  const state = await readStateFile(file)
  if (state.channel && state.channel.sequence > accepted.sequence) return
  state.channel = accepted
  await writeStateFile(file, state)
}
