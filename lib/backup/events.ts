// Backups, verifications and restores as history events of their own (ARCHITECTURE.md section 8.3).
// The caller holds the host lock: state.json is rewritten whole.
import path from 'node:path'
import type { Layout } from '../layout.js'
import { Failure } from '../errors.js'
import { TOOL_VERSION } from '../version.js'
import { invokingUser } from '../../state/host-facts.js'
import { recordBackupEvent, type BackupEvent } from '../../state/state-file.js'
import { mkdirUnder } from '../fsx.js'

export async function recordEvent(l: Layout, e: Omit<BackupEvent, 'tool_version' | 'user' | 'at'> & { at?: string }): Promise<void> {
  await mkdirUnder(l.root, path.dirname(l.stateFile))
  await recordBackupEvent(l.stateFile, { ...e, at: e.at ?? new Date().toISOString(), tool_version: TOOL_VERSION, user: invokingUser() })
}

/** Runs `body` and records its event, failed (with the reason) when it throws. */
export async function withEvent<T>(l: Layout, what: Pick<BackupEvent, 'op' | 'backup_id' | 'release_id'>, body: () => Promise<T>, ok: (v: T) => boolean = () => true, reason: (v: T) => string | undefined = () => undefined): Promise<T> {
  let v: T
  try {
    v = await body()
  } catch (e) {
    await recordEvent(l, { ...what, result: 'failed', reason: e instanceof Failure || e instanceof Error ? e.message : String(e) }).catch(() => {})
    throw e
  }
  const good = ok(v)
  const why = good ? undefined : reason(v)
  await recordEvent(l, { ...what, result: good ? 'ok' : 'failed', ...(why === undefined ? {} : { reason: why }) })
  return v
}
