import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs'
import { EXIT } from '../lib/errors.js'
import { type GlobalArgs, handler, outputFor } from './common.js'
import { hostFlags } from './options.js'

interface Args extends GlobalArgs {
  file: string
}

export const trustInit: CommandModule<GlobalArgs, Args> = {
  command: 'init <file>',
  describe: 'Install a first trust root: FILE (a root.json) and FILE.sig, signed by a threshold of its own keys',
  builder: (y: Argv<GlobalArgs>) =>
    y
      .positional('file', { type: 'string', demandOption: true, describe: 'The root.json to install; its signatures are read from FILE.sig' })
      .example('sudo $0 trust init /mnt/keys/root.json', 'from then on every manifest needs signatures by a threshold of its keys'),
  handler: handler(async (argv: ArgumentsCamelCase<Args>) => {
    const { withHostLock } = await import('../lib/operations.js')
    const { initRoot } = await import('../lib/trust/install.js')
    const out = outputFor(argv)
    const flags = hostFlags(argv)
    const r = await initRoot(flags.root, argv.file, new Date(), (body) => withHostLock(flags, 'trust init', body))
    if (argv.json) out.document({ ok: true, ...r })
    else out.line(`Installed trust root version ${r.version} at ${r.file}: manifests now need signatures by ${r.threshold} of ${r.key_ids.length} keys (${r.key_ids.join(', ')}); it expires ${r.expires_at}`)
    return EXIT.ok
  }),
}
