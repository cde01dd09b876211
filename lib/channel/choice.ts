// The channel's choice for one host as --json documents print it: `upgrade --check --json`, and
// the plan of `upgrade --channel URL --dry-run --json` (schemas/plan.schema.json `channel`).
import type { SkipReason } from './select.js'

export interface ChannelChoiceJson {
  readonly url: string
  readonly channel: string
  readonly sequence: number
  readonly active: { readonly release_id: string; readonly version: string } | null
  /** Where the host id of the rollout buckets came from; null: none yet (a check makes none). */
  readonly host_id_source: 'machine-id' | 'host-id' | null
  readonly upgrade_available: boolean
  readonly target: ChannelReleaseJson | null
  readonly why: 'barrier' | 'newest' | 'up-to-date'
  readonly reason: string
  readonly skipped: readonly { readonly release_id: string; readonly version: string; readonly reason: SkipReason; readonly detail: string }[]
}

/** A release of the channel document, as the channel lists it. */
export interface ChannelReleaseJson {
  readonly release_id: string
  readonly version: string
  readonly manifest_url: string
  readonly manifest_digest: string
  readonly barrier: boolean
  readonly deadend: boolean
  readonly rollout?: { readonly start_at: string; readonly start_percentage: number; readonly duration_minutes: number }
}
