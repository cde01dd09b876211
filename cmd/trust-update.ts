import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs'
import { EXIT } from '../lib/errors.js'
import { type GlobalArgs, handler, outputFor } from './common.js'
import { hostFlags } from './options.js'

interface Args extends GlobalArgs {
  file: string
}

export const trustUpdate: CommandModule<GlobalArgs, Args> = {
  command: 'update <file>',
  describe: 'Install the next trust root (version N+1), signed in FILE.sig by a threshold of the installed root\'s keys and of its own',
  builder: (y: Argv<GlobalArgs>) =>
    y
      .positional('file', { type: 'string', demandOption: true, describe: 'The new root.json; its signatures are read from FILE.sig' })
      .example('sudo $0 trust update /mnt/keys/root.json', 'rotate keys, change the threshold or extend the expiry'),
  handler: handler(async (argv: ArgumentsCamelCase<Args>) => {
    const { withHostLock } = await import('../lib/operations.js')
    const { updateRoot } = await import('../lib/trust/install.js')
    const out = outputFor(argv)
    const flags = hostFlags(argv)
    const r = await updateRoot(flags.root, argv.file, new Date(), (body) => withHostLock(flags, 'trust update', body))
    if (argv.json) out.document({ ok: true, ...r })
    else out.line(`Updated the trust root from version ${r.previous_version} to ${r.version} at ${r.file}: manifests now need signatures by ${r.threshold} of ${r.key_ids.length} keys (${r.key_ids.join(', ')}); it expires ${r.expires_at}`)
    return EXIT.ok
  }),
}
