import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs'
import { EXIT } from '../lib/errors.js'
import { type GlobalArgs, handler, outputFor } from './common.js'

interface Args extends GlobalArgs {
  out: string
}

export const manifestKeygen: CommandModule<GlobalArgs, Args> = {
  command: 'keygen',
  describe: 'Make an ed25519 key pair: <key-id>.key (PKCS#8 PEM, 0600) and <key-id>.pub (SPKI PEM)',
  builder: (y: Argv<GlobalArgs>) =>
    y
      .option('out', { type: 'string', demandOption: true, describe: 'Directory to write the key pair into (created 0700 if missing)' })
      .example('$0 manifest keygen --out ~/release-keys', 'then copy the .pub into /etc/nullspace/trusted-keys/ on each host'),
  handler: handler(async (argv: ArgumentsCamelCase<Args>) => {
    const { generateKeyPair } = await import('../lib/signature.js')
    const out = outputFor(argv)
    const k = await generateKeyPair(argv.out)
    if (argv.json) out.document({ ok: true, key_id: k.keyId, private_key: k.privatePath, public_key: k.publicPath })
    else out.line(`key ${k.keyId}: private ${k.privatePath}, public ${k.publicPath}`)
    return EXIT.ok
  }),
}
