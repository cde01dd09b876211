// `history`: the switches state.json records, newest first, as operators and pipelines read them.
import type { StateFile } from '../state/state-file.js'

export interface HistoryEntry {
  readonly at: string
  readonly op: string
  readonly from: string | null
  readonly to: string
  readonly result: string
  /** Why the activation failed; null unless `result` is failed. */
  readonly reason: string | null
  /** When `current` was renamed; null for records of a tool before 0.2 and for recovered records. */
  readonly switched_at: string | null
  readonly tool_version: string | null
  readonly user: string | null
  /** The backup a backup, verify or restore event is about; null for a switch. */
  readonly backup_id: string | null
}

/** Newest first (switches and backup events by time; a switch and an event of the same instant keep file order); at most `limit` entries when given. */
export function historyOf(state: StateFile, limit?: number): HistoryEntry[] {
  const switches: HistoryEntry[] = state.history.map((r) => ({
    at: r.at,
    op: r.op,
    from: r.from,
    to: r.to,
    result: r.result,
    reason: r.reason ?? null,
    switched_at: r.switched_at ?? null,
    tool_version: r.tool_version ?? null,
    user: r.user ?? null,
    backup_id: null,
  }))
  const events: HistoryEntry[] = (state.events ?? []).map((e) => ({
    at: e.at,
    op: e.op,
    from: null,
    to: e.release_id,
    result: e.result,
    reason: e.reason ?? null,
    switched_at: null,
    tool_version: e.tool_version ?? null,
    user: e.user ?? null,
    backup_id: e.backup_id,
  }))
  // Both lists are in time order already: a stable sort by time interleaves them.
  const entries = [...switches, ...events].sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0)).reverse()
  return limit === undefined ? entries : entries.slice(0, limit)
}

export function renderHistory(entries: readonly HistoryEntry[]): string {
  if (entries.length === 0) return 'No switches or backups recorded on this host.'
  return entries
    .map((e) => {
      const who = [e.user && `by ${e.user}`, e.tool_version && `nullspace-host ${e.tool_version}`].filter(Boolean).join(', ')
      if (e.backup_id !== null) return `${e.at}  ${e.op.padEnd(13)} ${e.backup_id.padEnd(44)} ${e.result}${e.reason ? `: ${e.reason}` : ''}${who ? `  (${who})` : ''}`
      return `${e.at}  ${e.op.padEnd(13)} ${(e.from ?? '(none)').padEnd(20)} -> ${e.to.padEnd(20)} ${e.result}${e.reason ? `: ${e.reason}` : ''}${who ? `  (${who})` : ''}`
    })
    .join('\n')
}
