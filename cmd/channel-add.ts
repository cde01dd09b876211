import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs'
import { EXIT, usageError } from '../lib/errors.js'
import { type GlobalArgs, handler, outputFor } from './common.js'
import { numberFlag } from './bounds.js'
import { type ChannelFileArgs, validityOf, withChannelFileFlags } from './channel-flags.js'

interface Args extends ChannelFileArgs {
  manifest: string
  'manifest-url': string
  barrier: boolean
  'channel-name'?: string
  'rollout-percentage'?: number
  'rollout-minutes'?: number
  'rollout-start'?: string
}

export const channelAdd: CommandModule<GlobalArgs, Args> = {
  command: 'add',
  describe: 'Add the release of a manifest to a channel file (created when missing): its release_id, version and manifest digest, raising the sequence',
  builder: (y: Argv<GlobalArgs>) =>
    withChannelFileFlags(y)
      .option('manifest', { type: 'string', demandOption: true, describe: 'The release manifest.json to add (its release_id, version, and the sha256 of its bytes)' })
      .option('manifest-url', { type: 'string', demandOption: true, describe: 'Absolute URL hosts fetch the manifest from (https:, file:, http: with --allow-http); its signature goes beside it as <url>.sig' })
      .option('barrier', { type: 'boolean', default: false, describe: 'Every host below this release passes through it before any later one' })
      .option('channel-name', { type: 'string', describe: 'The channel\'s name when --channel-file does not exist yet (e.g. stable); must match an existing file\'s' })
      .option('rollout-percentage', numberFlag('rollout-percentage', { describe: 'Phased rollout: the share of hosts offered the release at --rollout-start (needs --rollout-minutes)' }))
      .option('rollout-minutes', numberFlag('rollout-minutes', { describe: 'Phased rollout: minutes until every host is offered the release (needs --rollout-percentage)' }))
      .option('rollout-start', { type: 'string', describe: 'Phased rollout: RFC 3339 time it starts (no host is offered the release before); default now' })
      .example('$0 channel add --channel-file stable.json --channel-name stable --manifest out/manifest.json --manifest-url https://releases.example/2026.07.01/manifest.json', 'add a release to every host at once')
      .example('$0 channel add --channel-file stable.json --manifest out/manifest.json --manifest-url https://releases.example/2026.07.01/manifest.json --rollout-percentage 10 --rollout-minutes 2880', '10% of hosts now, all of them in two days'),
  handler: handler(async (argv: ArgumentsCamelCase<Args>) => {
    const { addToChannelFile } = await import('../lib/channel/file.js')
    const { isTimestamp } = await import('../lib/manifest/codec.js')
    const { stamp } = await import('../lib/channel/publish.js')
    const out = outputFor(argv)
    const now = Date.now()
    const percentage = argv['rollout-percentage']
    const minutes = argv['rollout-minutes']
    const start = argv['rollout-start']
    if ((percentage === undefined) !== (minutes === undefined) || (start !== undefined && percentage === undefined))
      throw usageError('a rollout needs both --rollout-percentage and --rollout-minutes (and optionally --rollout-start); give both, or none for a release offered to every host at once')
    if (start !== undefined && !isTimestamp(start)) throw usageError(`--rollout-start must be an RFC 3339 time such as 2026-07-01T12:00:00Z, got ${JSON.stringify(start)}`)
    const rollout = percentage !== undefined && minutes !== undefined ? { start_at: start ?? stamp(now), start_percentage: percentage, duration_minutes: minutes } : null
    const done = await addToChannelFile({
      channelFile: argv['channel-file'],
      channelName: argv['channel-name'] ?? null,
      manifestFile: argv.manifest,
      manifestUrl: argv['manifest-url'],
      barrier: argv.barrier,
      rollout,
      now,
      allowHttp: argv['allow-http'],
      allowExpired: argv['allow-expired'],
      ...(await validityOf(argv)),
    })
    const c = done.channel
    if (argv.json) out.document({ ok: true, changed: true, created: done.created, channel_file: done.file, channel: c.channel, sequence: c.sequence, expires_at: c.expires_at, release: done.release })
    else {
      out.line(`${done.created ? 'created' : 'updated'} ${done.file}: channel ${c.channel}, sequence ${c.sequence}, expires ${c.expires_at}`)
      out.line(`added ${done.release.release_id} (version ${done.release.version}${done.release.barrier ? ', barrier' : ''}${rollout ? `, rollout from ${rollout.start_percentage}% at ${rollout.start_at} to all hosts in ${rollout.duration_minutes} min` : ''}), ${done.release.manifest_digest}`)
      out.line(`sign it before uploading: nullspace-host manifest sign --manifest ${argv['channel-file']} --key KEY`)
    }
    return EXIT.ok
  }),
}
