import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs'
import { EXIT, manifestError } from '../lib/errors.js'
import { type GlobalArgs, handler, outputFor } from './common.js'

interface Args extends GlobalArgs {
  manifest: string
  key: string
}

export const manifestSign: CommandModule<GlobalArgs, Args> = {
  command: 'sign',
  describe: 'Write a detached ed25519 signature M.sig over the bytes of a file: a manifest, or a channel document',
  builder: (y: Argv<GlobalArgs>) =>
    y
      .option('manifest', { type: 'string', demandOption: true, describe: 'Path of the file to sign (a manifest.json or a channel file; any regular file of at most 16 MiB)' })
      .option('key', { type: 'string', demandOption: true, describe: 'ed25519 private key (PKCS#8 PEM) from manifest keygen' })
      .example('$0 manifest sign --manifest /mnt/nullspace-release/manifest.json --key ~/release-keys/0123456789abcdef.key', 'writes manifest.json.sig beside it')
      .example('$0 manifest sign --manifest stable.json --key ~/release-keys/0123456789abcdef.key', 'signs a channel: writes stable.json.sig'),
  handler: handler(async (argv: ArgumentsCamelCase<Args>) => {
    const { isUnreadable, readRegularFile } = await import('../lib/fsx.js')
    const { MAX_MANIFEST_BYTES } = await import('../lib/manifest/load.js')
    const { readPrivateKey, signBytes, writeSignature } = await import('../lib/signature.js')
    const out = outputFor(argv)
    // Any file: the bytes are signed as they are (a manifest, a channel); not decoded.
    const bytes = await readRegularFile(argv.manifest, MAX_MANIFEST_BYTES, { followSymlink: true })
    if (isUnreadable(bytes)) throw manifestError(`${argv.manifest} ${bytes.why}; --manifest names the file to sign`)
    const sig = signBytes(bytes, await readPrivateKey(argv.key))
    const file = `${argv.manifest}.sig`
    await writeSignature(file, sig)
    if (argv.json) out.document({ ok: true, signature: file, key_id: sig.key_id })
    else out.line(`wrote ${file} (key ${sig.key_id})`)
    return EXIT.ok
  }),
}
