// The one runtime definition of the release channel document (ARCHITECTURE.md section 8.4).
// schemas/channel.schema.json mirrors the structure declared here; spec/channel-schema.spec.ts
// keeps the two in step. Cross-field and clock rules live in rules.ts.
import { t } from '../commonjs.cjs'
import { Digest, NonEmpty, ReleaseId, Semver, Timestamp, closed, refined, wholeNumber } from '../manifest/codec.js'

export const CHANNEL_FORMAT = 'nullspace-channel-v1'

export const ChannelFormat = refined(`"${CHANNEL_FORMAT}" (the only channel format this tool reads)`, (u): u is typeof CHANNEL_FORMAT => u === CHANNEL_FORMAT)

/** Raised by one on every change; a host refuses a channel whose sequence is below the highest it accepted. */
export const Sequence = wholeNumber(`a whole number from 0 to ${Number.MAX_SAFE_INTEGER}`, 0)

/** A share of hosts, fractions allowed (0.5 is one host in two hundred). */
export const Percentage = refined('a number from 0 to 100', (u): u is number => typeof u === 'number' && Number.isFinite(u) && u >= 0 && u <= 100)

/** Whole minutes; 0 is allowed: every host is reached at start_at (a release scheduled for a time). */
export const MAX_ROLLOUT_MINUTES = 10 * 366 * 24 * 60
export const Minutes = wholeNumber(`a whole number of minutes from 0 to ${MAX_ROLLOUT_MINUTES} (ten years)`, 0, MAX_ROLLOUT_MINUTES)

export const Rollout = closed(
  'rollout',
  { start_at: Timestamp, start_percentage: Percentage, duration_minutes: Minutes },
  {},
)
export type Rollout = t.TypeOf<typeof Rollout>

export const ChannelRelease = closed(
  'channel release',
  {
    release_id: ReleaseId,
    version: Semver,
    manifest_url: NonEmpty,
    manifest_digest: Digest,
    barrier: t.boolean,
    deadend: t.boolean,
  },
  { rollout: Rollout },
)
export type ChannelRelease = t.TypeOf<typeof ChannelRelease>

export const Channel = closed(
  'release channel',
  {
    format: ChannelFormat,
    channel: NonEmpty,
    sequence: Sequence,
    generated_at: Timestamp,
    expires_at: Timestamp,
    releases: t.array(ChannelRelease, 'a list of channel releases'),
  },
  {},
)
export type Channel = t.TypeOf<typeof Channel>
