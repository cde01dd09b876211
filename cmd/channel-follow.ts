// upgrade --channel: the part of the upgrade command that asks the channel for the target. It
// prints the check (--check) or the choice, and hands the chosen manifest back to the upgrade.
import type { HostFlags, TrustedManifest } from '../lib/operations.js'
import type { Output } from '../lib/output.js'
import type { FollowedChannel } from '../lib/channel/follow.js'
import type { ChannelChoiceJson } from '../lib/channel/choice.js'
import { EXIT, type ExitCode } from '../lib/errors.js'

export interface Followed {
  /** Set when the command is done (a check, or up to date). */
  readonly exit?: ExitCode
  readonly trusted?: TrustedManifest
  /** What --json documents say of the channel and the choice. */
  readonly document?: ChannelChoiceJson
  accept(): Promise<void>
}

/** The channel's choice as --json tells it. */
function choiceDocument(f: FollowedChannel): ChannelChoiceJson {
  const s = f.selection
  return {
    url: f.url,
    channel: f.channel.channel,
    sequence: f.channel.sequence,
    active: f.active,
    host_id_source: f.hostId?.source ?? null,
    upgrade_available: s.target !== null,
    target: s.target,
    why: s.why,
    reason: s.reason,
    skipped: s.skipped,
  }
}

export async function follow(argv: { channel?: string; check: boolean; 'dry-run': boolean; json: boolean }, flags: HostFlags, out: Output): Promise<Followed> {
  const { channelManifest, channelUrlOf, followChannel } = await import('../lib/channel/follow.js')
  const { layout } = await import('../lib/layout.js')
  const { withHostLock } = await import('../lib/operations.js')
  const url = await channelUrlOf(layout(flags.root), argv.channel)
  const f = await followChannel(url, flags, { readOnly: argv.check || argv['dry-run'], now: Date.now() })
  const s = f.selection
  const document = choiceDocument(f)
  const heading = `channel ${f.channel.channel} (sequence ${f.channel.sequence}, ${f.url})`
  const tell = () => {
    out.line(s.target ? `${heading}: upgrade available: ${s.target.release_id} (version ${s.target.version})` : `${heading}: ${s.reason}`)
    if (s.target) out.line(`  why: ${s.reason}`)
    if (!out.quiet) for (const k of s.skipped) out.line(`  skipped ${k.release_id} (${k.version}): ${k.detail}`)
  }
  if (argv.check) {
    if (argv.json) out.document({ ok: true, changed: false, ...document })
    else tell()
    return { exit: s.target ? EXIT.changes : EXIT.ok, accept: async () => {} }
  }
  if (!s.target) {
    // Up to date: a real run still accepts the channel (its sequence, a new host id); a dry run changes nothing.
    if (!argv['dry-run']) await withHostLock(flags, 'upgrade', () => f.accept())
    if (argv.json) out.document({ ok: true, changed: false, from: f.active?.release_id ?? null, to: f.active?.release_id ?? null, channel: document })
    else tell()
    return { exit: EXIT.ok, accept: async () => {} }
  }
  const trusted = await channelManifest(s.target, flags)
  if (!argv.json) tell()
  return { trusted, document, accept: () => f.accept() }
}
