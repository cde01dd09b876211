// The publisher's edits of a channel (channel add, channel deadend), as pure functions of the
// channel and the clock: each change raises `sequence` by one and stamps generated_at and
// expires_at, and the result passes the codec and every rule before it is written.
import { E } from '../commonjs.cjs'
import { CHANNEL_FORMAT, type Channel, type ChannelRelease } from './codec.js'
import { validateChannel } from './load.js'
import { formatProblem } from '../manifest/problems.js'

/** A new channel is valid this long unless --expires-in or --expires-at says otherwise. */
export const DEFAULT_VALID_DAYS = 30
const DAY_MS = 86_400_000

/** How a change sets expires_at: an exact time, days from now, or (neither) the channel's validity period kept. */
export interface Validity {
  readonly expiresAt?: string
  readonly expiresInDays?: number
}

/** RFC 3339 in UTC, to the second, as every timestamp the tool writes. */
export const stamp = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z')

export function emptyChannel(name: string, now: number): Channel {
  const at = stamp(now)
  return { format: CHANNEL_FORMAT, channel: name, sequence: 0, generated_at: at, expires_at: stamp(now + DEFAULT_VALID_DAYS * DAY_MS), releases: [] }
}

/** The channel after a change: sequence + 1, generated_at now, expires_at per `v`; Left: why it would not be a channel a host accepts. */
function changed(c: Channel, releases: ChannelRelease[], now: number, v: Validity, allowHttp: boolean): E.Either<string, Channel> {
  const keptSpan = Date.parse(c.expires_at) - Date.parse(c.generated_at)
  const expires = v.expiresAt ?? stamp(now + (v.expiresInDays !== undefined ? v.expiresInDays * DAY_MS : keptSpan > 0 ? keptSpan : DEFAULT_VALID_DAYS * DAY_MS))
  const next: Channel = { ...c, sequence: c.sequence + 1, generated_at: stamp(now), expires_at: expires, releases }
  const valid = validateChannel(next, { now, allowHttp, allowExpired: false })
  return E.isLeft(valid) ? E.left(valid.left.map(formatProblem).join('; ')) : E.right(next)
}

export interface AddOptions extends Validity {
  readonly now: number
  readonly allowHttp: boolean
}

/** Adds a release; Left when the channel already has its release id or its version, or the result would not pass. */
export function addRelease(c: Channel, release: ChannelRelease, o: AddOptions): E.Either<string, Channel> {
  const same = c.releases.find((r) => r.release_id === release.release_id)
  if (same) return E.left(`release ${release.release_id} is already in channel ${c.channel} (version ${same.version}, ${same.manifest_digest}); a release id names one release: build the new one under another --release-id`)
  return changed(c, [...c.releases, release], o.now, o, o.allowHttp)
}

export type DeadendResult = { readonly channel: Channel; readonly changed: boolean }

/** Marks a release deadend; already deadend is no change (no new sequence). */
export function markDeadend(c: Channel, releaseId: string, o: AddOptions): E.Either<string, DeadendResult> {
  const i = c.releases.findIndex((r) => r.release_id === releaseId)
  if (i < 0) return E.left(`no release ${releaseId} in channel ${c.channel}${c.releases.length ? ` (it has ${c.releases.map((r) => r.release_id).join(', ')})` : ' (it has no release yet)'}`)
  if (c.releases[i].deadend) return E.right({ channel: c, changed: false })
  const releases = c.releases.map((r, j) => (j === i ? { ...r, deadend: true } : r))
  const next = changed(c, releases, o.now, o, o.allowHttp)
  return E.isLeft(next) ? next : E.right({ channel: next.right, changed: true })
}
