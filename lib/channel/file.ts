// The publisher's channel file: read (decoded like any channel), changed by publish.ts, and
// written back atomically. `channel add` and `channel deadend` are the two changes.
import path from 'node:path'
import { E } from '../commonjs.cjs'
import type { Channel, ChannelRelease, Rollout } from './codec.js'
import { MAX_CHANNEL_BYTES, parseChannel } from './load.js'
import { type Validity, addRelease, emptyChannel, markDeadend } from './publish.js'
import { isUnreadable, readRegularFile, writeFileAtomic } from '../fsx.js'
import { loadManifest } from '../manifest/load.js'
import { manifestError, operationFailed, usageError } from '../errors.js'

export interface PublishOptions extends Validity {
  readonly channelFile: string
  readonly now: number
  readonly allowHttp: boolean
  readonly allowExpired: boolean
}

/** The channel in `file`, or null when there is none yet. A file that is not a valid channel is refused (exit 65): it is never overwritten. */
export async function readChannelFile(file: string, o: { allowHttp: boolean; now: number }): Promise<Channel | null> {
  const bytes = await readRegularFile(file, MAX_CHANNEL_BYTES, { followSymlink: true })
  if (isUnreadable(bytes)) {
    if (bytes.missing) return null
    throw manifestError(`${file} ${bytes.why}; --channel-file names the channel document to change`)
  }
  // An expired channel is what a publisher renews: it is read whatever its expires_at.
  const channel = await parseChannel(bytes, file, { now: o.now, allowHttp: o.allowHttp, allowExpired: true })
  if (E.isLeft(channel)) throw channel.left
  return channel.right
}

const writeChannelFile = (file: string, c: Channel) => writeFileAtomic(file, `${JSON.stringify(c, null, 2)}\n`, 0o644)

export interface AddRequest extends PublishOptions {
  readonly manifestFile: string
  readonly manifestUrl: string
  readonly barrier: boolean
  readonly rollout: Rollout | null
  /** The `channel` name of a new file; must match an existing file's. */
  readonly channelName: string | null
}

export interface Published {
  readonly channel: Channel
  readonly file: string
  readonly changed: boolean
  readonly created: boolean
  readonly release: ChannelRelease
}

/** `channel add`: the release of `manifestFile` (its id, version and digest) added to the channel file, created when missing. */
export async function addToChannelFile(r: AddRequest): Promise<Published> {
  const file = path.resolve(r.channelFile)
  const existing = await readChannelFile(file, r)
  if (existing === null && r.channelName === null) throw usageError(`${r.channelFile} does not exist; to create a new channel there, name it with --channel-name (e.g. --channel-name stable)`)
  if (existing !== null && r.channelName !== null && existing.channel !== r.channelName)
    throw usageError(`${r.channelFile} is channel ${JSON.stringify(existing.channel)}, not ${JSON.stringify(r.channelName)}; leave out --channel-name or pick the other file`)
  const loaded = await loadManifest(r.manifestFile, { now: r.now, allowHttp: r.allowHttp, allowExpired: r.allowExpired })
  if (E.isLeft(loaded)) throw loaded.left
  const m = loaded.right.manifest
  const release: ChannelRelease = {
    release_id: m.release_id,
    version: m.version,
    manifest_url: r.manifestUrl,
    manifest_digest: loaded.right.digest,
    barrier: r.barrier,
    deadend: false,
    ...(r.rollout ? { rollout: r.rollout } : {}),
  }
  const next = addRelease(existing ?? emptyChannel(r.channelName ?? '', r.now), release, r)
  if (E.isLeft(next)) throw operationFailed(`${r.channelFile}: ${next.left}. The channel file was not changed`, [], 'refused')
  await writeChannelFile(file, next.right)
  return { channel: next.right, file, changed: true, created: existing === null, release }
}

/** `channel deadend`: no host is moved to the release any more (hosts on it move on). */
export async function deadendInChannelFile(o: PublishOptions & { releaseId: string }): Promise<Published> {
  const file = path.resolve(o.channelFile)
  const existing = await readChannelFile(file, o)
  if (existing === null) throw usageError(`${o.channelFile} does not exist; give the channel file that lists release ${o.releaseId}`)
  const next = markDeadend(existing, o.releaseId, o)
  if (E.isLeft(next)) throw operationFailed(`${o.channelFile}: ${next.left}. The channel file was not changed`, [], 'refused')
  if (next.right.changed) await writeChannelFile(file, next.right.channel)
  const release = next.right.channel.releases.find((x) => x.release_id === o.releaseId)!
  return { channel: next.right.channel, file, changed: next.right.changed, created: false, release }
}
