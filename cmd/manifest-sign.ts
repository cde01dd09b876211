import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs'
import { EXIT } from '../lib/errors.js'
import { type GlobalArgs, handler, outputFor } from './common.js'

interface Args extends GlobalArgs {
  manifest: string
  key: string
}

export const manifestSign: CommandModule<GlobalArgs, Args> = {
  command: 'sign',
  describe: 'Write a detached ed25519 signature M.sig over the manifest bytes',
  builder: (y: Argv<GlobalArgs>) =>
    y
      .option('manifest', { type: 'string', demandOption: true, describe: 'Path of the manifest.json to sign' })
      .option('key', { type: 'string', demandOption: true, describe: 'ed25519 private key (PKCS#8 PEM) from manifest keygen' })
      .example('$0 manifest sign --manifest /mnt/nullspace-release/manifest.json --key ~/release-keys/0123456789abcdef.key', 'writes manifest.json.sig beside it'),
  handler: handler(async (argv: ArgumentsCamelCase<Args>) => {
    const { E } = await import('../lib/commonjs.cjs')
    const { readManifestBytes } = await import('../lib/manifest/load.js')
    const { appendSignature, readPrivateKey, signBytes } = await import('../lib/signature.js')
    const out = outputFor(argv)
    const bytes = await readManifestBytes(argv.manifest)
    if (E.isLeft(bytes)) throw bytes.left
    const sig = signBytes(bytes.right, await readPrivateKey(argv.key))
    const file = `${argv.manifest}.sig`
    const count = await appendSignature(file, sig)
    if (argv.json) out.document({ ok: true, signature: file, key_id: sig.key_id, signatures: count })
    else out.line(`wrote ${file} (key ${sig.key_id}${count > 1 ? `; ${count} signatures` : ''})`)
    return EXIT.ok
  }),
}
