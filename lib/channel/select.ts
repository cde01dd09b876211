// Which release of a channel a host goes to next (ARCHITECTURE.md section 8.4). Pure: the host id,
// the active version and the clock are inputs, so the same inputs give the same target.
import { createHash } from 'node:crypto'
import semver from 'semver'
import type { Channel, ChannelRelease, Rollout } from './codec.js'

/**
 * The host's place in a release's rollout, in [0, 100): the first 8 hex of
 * sha256(UTF-8 host id followed directly by the release id), as a fraction of 2^32, times 100.
 * Salted by the release id, so the first hosts of one rollout are not always the first of the next.
 */
export function rolloutBucket(hostId: string, releaseId: string): number {
  const hex = createHash('sha256').update(Buffer.from(hostId + releaseId, 'utf8')).digest('hex').slice(0, 8)
  return (Number.parseInt(hex, 16) / 2 ** 32) * 100
}

/**
 * The share of hosts a rollout has reached at `now` (ms since the epoch): null before start_at
 * (a rollout that has not started reaches no host, whatever start_percentage says); from
 * start_at, start_percentage growing linearly to 100 at start_at + duration_minutes, and 100
 * after (at once when duration_minutes is 0).
 */
export function rolloutPercentage(rollout: Rollout, now: number): number | null {
  const start = Date.parse(rollout.start_at)
  if (now < start) return null
  const span = rollout.duration_minutes * 60_000
  if (span === 0 || now >= start + span) return 100
  const p = rollout.start_percentage + ((100 - rollout.start_percentage) * (now - start)) / span
  return Math.min(100, Math.max(rollout.start_percentage, p))
}

export interface RolloutStanding {
  /** null: the host has no id yet (only a rollout at 100% reaches it). */
  readonly bucket: number | null
  /** null: the rollout starts later. */
  readonly percentage: number | null
  readonly reached: boolean
}

export function rolloutStanding(release: ChannelRelease, hostId: string | null, now: number): RolloutStanding | null {
  if (!release.rollout) return null
  const percentage = rolloutPercentage(release.rollout, now)
  if (hostId === null) return { bucket: null, percentage, reached: percentage === 100 }
  const bucket = rolloutBucket(hostId, release.release_id)
  return { bucket, percentage, reached: percentage !== null && bucket < percentage }
}

export type SkipReason = 'not-above-active' | 'deadend' | 'rollout-not-reached' | 'past-barrier' | 'below-target'

export interface Skipped {
  readonly release_id: string
  readonly version: string
  readonly reason: SkipReason
  /** In words, for the operator. */
  readonly detail: string
}

export interface Selection {
  /** null: up to date (nothing this host may take is above its active version). */
  readonly target: ChannelRelease | null
  /** barrier: the lowest barrier above the active version; newest: the highest version this host may take. */
  readonly why: 'barrier' | 'newest' | 'up-to-date'
  /** In words: why this target, or why none. */
  readonly reason: string
  /** Every release not chosen, in channel order, with why. */
  readonly skipped: readonly Skipped[]
}

export interface HostPosition {
  /** The active release's version; null on a host with no active release (every release is above it). */
  readonly activeVersion: string | null
  /**
   * null: the host has no id yet and may not make one (a check changes nothing): a rollout
   * reaches it only at 100%.
   */
  readonly hostId: string | null
  /** ms since the epoch. */
  readonly now: number
}

const byVersion = (a: ChannelRelease, b: ChannelRelease) => semver.compare(a.version, b.version)

/**
 * Among the releases of higher version than the active one that are not deadend and whose
 * rollout has reached this host: the lowest barrier if one is above the active version, else the
 * highest version. A barrier holds every host below it until the host has passed through it: the
 * releases past the lowest barrier above the active version are not offered yet, also while the
 * barrier's own rollout has not reached this host (then the host may still take a release below
 * the barrier). Versions are compared as semver (1.10.0 is above 1.9.0).
 */
export function selectTarget(channel: Channel, host: HostPosition): Selection {
  const skipped: Skipped[] = []
  const skip = (r: ChannelRelease, reason: SkipReason, detail: string) => skipped.push({ release_id: r.release_id, version: r.version, reason, detail })
  const above: ChannelRelease[] = []
  for (const r of channel.releases) {
    if (host.activeVersion !== null && semver.lte(r.version, host.activeVersion)) skip(r, 'not-above-active', `version ${r.version} is not above the active ${host.activeVersion}`)
    else if (r.deadend) skip(r, 'deadend', `marked deadend: no host is moved to it`)
    else above.push(r)
  }
  above.sort(byVersion)
  const barrier = above.find((r) => r.barrier) ?? null
  const reached: ChannelRelease[] = []
  for (const r of above) {
    if (barrier && byVersion(r, barrier) > 0) {
      skip(r, 'past-barrier', `above barrier ${barrier.release_id} (${barrier.version}), which this host must pass through first`)
      continue
    }
    const standing = rolloutStanding(r, host.hostId, host.now)
    if (standing && !standing.reached) skip(r, 'rollout-not-reached', rolloutDetail(r, standing))
    else reached.push(r)
  }
  if (barrier && reached.includes(barrier))
    return done(barrier, 'barrier', `barrier ${barrier.release_id} (${barrier.version}) is the lowest barrier above the active version; every host passes through it`)
  const newest = reached.at(-1)
  if (newest) return done(newest, 'newest', `${newest.release_id} (${newest.version}) is the highest version this host may take${barrier ? ` (below barrier ${barrier.release_id}, whose rollout has not reached this host)` : ''}`)
  const none = host.activeVersion === null ? 'no release this host may take' : `no release this host may take is above the active ${host.activeVersion}`
  return { target: null, why: 'up-to-date', reason: `up to date: ${none}`, skipped: order(skipped) }

  function done(target: ChannelRelease, why: 'barrier' | 'newest', reason: string): Selection {
    for (const r of reached) if (r !== target) skip(r, 'below-target', `below the chosen ${target.release_id} (${target.version})`)
    return { target, why, reason, skipped: order(skipped) }
  }
  function order(list: Skipped[]): Skipped[] {
    const index = new Map(channel.releases.map((r, i) => [r.release_id, i]))
    return [...list].sort((a, b) => (index.get(a.release_id) ?? 0) - (index.get(b.release_id) ?? 0))
  }
}

function rolloutDetail(r: ChannelRelease, s: RolloutStanding): string {
  if (s.bucket === null)
    return `rollout ${s.percentage === null ? `starts at ${r.rollout?.start_at}` : `at ${s.percentage.toFixed(2)}%`}; this host has no host id yet (no etc/machine-id), so only a rollout at 100% reaches it until an upgrade --channel keeps one`
  const bucket = s.bucket.toFixed(2)
  if (s.percentage === null) return `rollout starts at ${r.rollout?.start_at}; this host's bucket is ${bucket}`
  return `rollout at ${s.percentage.toFixed(2)}% has not reached this host (bucket ${bucket})`
}
