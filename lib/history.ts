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
}

/** Newest first; at most `limit` entries when given. */
export function historyOf(state: StateFile, limit?: number): HistoryEntry[] {
  const entries = [...state.history].reverse().map((r) => ({
    at: r.at,
    op: r.op,
    from: r.from,
    to: r.to,
    result: r.result,
    reason: r.reason ?? null,
    switched_at: r.switched_at ?? null,
    tool_version: r.tool_version ?? null,
    user: r.user ?? null,
  }))
  return limit === undefined ? entries : entries.slice(0, limit)
}

export function renderHistory(entries: readonly HistoryEntry[]): string {
  if (entries.length === 0) return 'No switches recorded on this host.'
  return entries
    .map((e) => {
      const who = [e.user && `by ${e.user}`, e.tool_version && `nullspace-host ${e.tool_version}`].filter(Boolean).join(', ')
      return `${e.at}  ${e.op.padEnd(13)} ${(e.from ?? '(none)').padEnd(20)} -> ${e.to.padEnd(20)} ${e.result}${e.reason ? `: ${e.reason}` : ''}${who ? `  (${who})` : ''}`
    })
    .join('\n')
}
