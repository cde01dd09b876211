import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs'
import { EXIT } from '../lib/errors.js'
import { type GlobalArgs, handler, outputFor } from './common.js'
import { type ChannelFileArgs, validityOf, withChannelFileFlags } from './channel-flags.js'

interface Args extends ChannelFileArgs {
  'release-id': string
}

export const channelDeadend: CommandModule<GlobalArgs, Args> = {
  command: 'deadend',
  describe: 'Mark a release of a channel file deadend: no host is moved to it any more (hosts on it move on); raises the sequence',
  builder: (y: Argv<GlobalArgs>) =>
    withChannelFileFlags(y)
      .option('release-id', { type: 'string', demandOption: true, describe: 'The release to stop offering' })
      .example('$0 channel deadend --channel-file stable.json --release-id 2026.07.01', 'then sign and upload the channel again'),
  handler: handler(async (argv: ArgumentsCamelCase<Args>) => {
    const { deadendInChannelFile } = await import('../lib/channel/file.js')
    const out = outputFor(argv)
    const done = await deadendInChannelFile({
      channelFile: argv['channel-file'],
      releaseId: argv['release-id'],
      now: Date.now(),
      allowHttp: argv['allow-http'],
      allowExpired: argv['allow-expired'],
      ...(await validityOf(argv)),
    })
    const c = done.channel
    if (argv.json) out.document({ ok: true, changed: done.changed, channel_file: done.file, channel: c.channel, sequence: c.sequence, expires_at: c.expires_at, release: done.release })
    else if (!done.changed) out.line(`${done.release.release_id} is already deadend in ${done.file}; nothing changed (sequence ${c.sequence})`)
    else {
      out.line(`updated ${done.file}: ${done.release.release_id} (version ${done.release.version}) is deadend; channel ${c.channel}, sequence ${c.sequence}, expires ${c.expires_at}`)
      out.line(`sign it before uploading: nullspace-host manifest sign --manifest ${argv['channel-file']} --key KEY`)
    }
    return EXIT.ok
  }),
}
