// A host following a channel (upgrade --channel, ARCHITECTURE.md section 8.4): fetch the channel and,
// when the host trusts keys, `<url>.sig`; refuse an expired, replayed, badly signed or malformed
// channel (exit 65); choose the target (select.ts) for this host; fetch the target's manifest,
// which must have the channel's manifest_digest. Nothing here changes the host: what an accepted
// channel records (the sequence, a new host id) is `FollowedChannel.accept`, called under the lock.
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { E } from '../commonjs.cjs'
import type { Channel, ChannelRelease } from './codec.js'
import { MAX_CHANNEL_BYTES, parseChannel } from './load.js'
import { type Selection, selectTarget } from './select.js'
import { fetchDocument } from '../fetch/document.js'
import { type TransferFlags, manifestFetch, signatureAt } from '../manifest/remote.js'
import { FetchError } from '../fetch/types.js'
import { isUnreadable, readRegularFile } from '../fsx.js'
import { type Layout, layout } from '../layout.js'
import { enforceSignaturePolicy } from '../signature.js'
import { manifestError, operationFailed, usageError } from '../errors.js'
import type { HostFlags, TrustedManifest } from '../operations.js'
import { readCurrentId } from '../../state/read.js'
import { loadSealedRelease } from '../../state/sealed-release.js'
import { readStateFile, recordAcceptedChannel } from '../../state/state-file.js'
import { type HostId, keepHostId, newHostId, readHostId } from '../../state/host-id.js'

/** Where a host keeps the URL of the channel it follows, when --channel is not given. */
export const CHANNEL_URL_FILE = '/etc/nullspace/channel.url'
const MAX_URL_FILE_BYTES = 64 * 1024

/** --channel, else the first line of etc/nullspace/channel.url under the root. A plain path is read as a file: URL. */
export async function channelUrlOf(l: Layout, given: string | undefined): Promise<string> {
  let url = given
  if (url === undefined) {
    const file = l.host(CHANNEL_URL_FILE)
    const read = await readRegularFile(file, MAX_URL_FILE_BYTES, { followSymlink: true })
    if (isUnreadable(read)) {
      if (read.missing) throw usageError(`give --manifest M or --channel URL (or write the channel's URL in ${file})`)
      throw usageError(`${file} ${read.why}; it names the channel this host follows (one URL on the first line)`)
    }
    url = read.toString('utf8').split('\n')[0].trim()
    if (url === '') throw usageError(`${file}: the first line is empty; write the channel's URL there, or give --channel URL`)
  }
  return /^[a-z][a-z0-9+.-]*:/i.test(url) ? url : pathToFileURL(path.resolve(url)).href
}


const unreachable = (e: FetchError, what: string) =>
  operationFailed(`${e.message}; the ${what} could not be fetched, nothing was changed; run the same command again once the server answers`)

async function fetchChannelBytes(url: string, flags: TransferFlags): Promise<Buffer> {
  try {
    return await fetchDocument(url, { ...manifestFetch(flags), maxBytes: MAX_CHANNEL_BYTES, label: 'channel' })
  } catch (e) {
    if (!(e instanceof FetchError)) throw e
    if (e.reason === 'network') throw unreachable(e, 'channel')
    if (e.reason === 'absent') throw manifestError(`${e.message}: no channel at that URL; check --channel (or ${CHANNEL_URL_FILE}). Nothing was changed`)
    throw manifestError(`${e.message}; refused channel. Nothing was changed`)
  }
}

export interface ActiveRelease {
  readonly release_id: string
  readonly version: string
}

export interface FollowedChannel {
  readonly url: string
  readonly channel: Channel
  readonly active: ActiveRelease | null
  /** null: no host id yet, and this run may not keep one (--check, --dry-run). */
  readonly hostId: HostId | null
  readonly selection: Selection
  /** Records the accepted channel's sequence (and keeps a new host id). Call under the host lock, once the run goes ahead. */
  accept(): Promise<void>
}

export interface FollowOptions {
  /** A run that changes nothing (--check, --dry-run): no new host id, nothing recorded. */
  readonly readOnly: boolean
  readonly now: number
}

/**
 * Fetches, verifies and decodes the channel at `url`, refuses a replay, and chooses this host's
 * target. Every refusal is exit 65 (exit 1 when the server cannot be reached), with nothing changed.
 */
export async function followChannel(url: string, flags: HostFlags, o: FollowOptions): Promise<FollowedChannel> {
  const l = layout(flags.root)
  const bytes = await fetchChannelBytes(url, flags)
  // The signature is checked over the bytes before they are parsed.
  await enforceSignaturePolicy('channel', url, bytes, l.root, signatureAt(url, manifestFetch(flags), 'channel'))
  const parsed = await parseChannel(bytes, url, { now: o.now, allowHttp: flags.allowHttp, allowExpired: flags.allowExpired })
  if (E.isLeft(parsed)) throw parsed.left
  const channel = parsed.right
  const state = await readStateFile(l.stateFile)
  const seen = state.channel
  if (seen && channel.sequence < seen.sequence)
    throw manifestError(
      `${url}: refused channel: sequence ${channel.sequence} is lower than ${seen.sequence}, the highest this host has accepted (channel ${seen.channel} from ${seen.url} at ${seen.at}); an old channel replayed by a mirror must not move the host. Nothing was changed`,
    )
  const active = await activeRelease(l)
  const known = await readHostId(l)
  const hostId = known ?? (o.readOnly ? null : newHostId(l))
  const selection = selectTarget(channel, { activeVersion: active?.version ?? null, hostId: hostId?.id ?? null, now: o.now })
  return {
    url,
    channel,
    active,
    hostId,
    selection,
    accept: async () => {
      if (o.readOnly) return
      if (hostId && !known) await keepHostId(l, hostId)
      await recordAcceptedChannel(l.stateFile, { sequence: channel.sequence, channel: channel.channel, url, at: new Date(o.now).toISOString() })
    },
  }
}

async function activeRelease(l: Layout): Promise<ActiveRelease | null> {
  const id = await readCurrentId(l)
  if (id === null) return null
  const { manifest } = await loadSealedRelease(l, id)
  return { release_id: manifest.release_id, version: manifest.version }
}

/**
 * The chosen release's manifest, fetched from its manifest_url and trusted as `upgrade
 * --manifest URL` trusts one (rules, `<url>.sig` when keys are trusted); it must have the
 * channel's manifest_digest, release_id and version (exit 65 otherwise).
 */
export async function channelManifest(target: ChannelRelease, flags: HostFlags): Promise<TrustedManifest> {
  const { loadTrusted } = await import('../operations.js')
  const trusted = await loadTrusted(target.manifest_url, flags)
  const { digest, manifest } = trusted.loaded
  if (digest !== target.manifest_digest)
    throw manifestError(
      `${target.manifest_url}: manifest_digest mismatch: the channel lists ${target.manifest_digest} for release ${target.release_id}, the fetched manifest is ${digest}; the server holds other bytes than the channel promises. Nothing was changed`,
    )
  if (manifest.release_id !== target.release_id || manifest.version !== target.version)
    throw manifestError(
      `${target.manifest_url}: the manifest is release ${manifest.release_id} version ${manifest.version}, but the channel lists ${target.release_id} version ${target.version} there. Nothing was changed`,
    )
  return trusted
}
