import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs'
import { EXIT, Failure } from '../lib/errors.js'
import { layout } from '../lib/layout.js'
import { type GlobalArgs, handler, hostRoot, outputFor } from './common.js'
import { manifestOption } from './options.js'

interface Args extends GlobalArgs {
  manifest: string
  /** Set by the builder's middleware: --root came from the command line or NULLSPACE_ROOT, not from the default. */
  rootGiven?: boolean
}

export const manifestValidate: CommandModule<GlobalArgs, Args> = {
  command: 'validate',
  describe: 'Check a manifest against the format and every rule; list every problem',
  builder: (y: Argv<GlobalArgs>) =>
    y
      .option('manifest', { ...manifestOption('the manifest.json to check'), demandOption: true })
      .example('$0 manifest validate --manifest M --root /', 'also require a signature trusted by that host')
      .example('$0 manifest validate --manifest /mnt/nullspace-release/manifest.json', 'exit 0 when valid, 65 with every problem when not')
      // yargs-parser's detailed result says which options took their default (`defaulted`, not in
      // @types/yargs-parser): an explicit --root is one that did not.
      .middleware((argv) => {
        const parsed = y.parsed as { readonly defaulted?: Readonly<Record<string, boolean>> } | false
        Object.assign(argv, { rootGiven: Boolean(process.env.NULLSPACE_ROOT) || !(parsed && parsed.defaulted?.root) })
      }),
  handler: handler(async (argv: ArgumentsCamelCase<Args>) => {
    const { E } = await import('../lib/commonjs.cjs')
    const { loadManifest } = await import('../lib/manifest/load.js')
    const { manifestFetch, signatureOf } = await import('../lib/manifest/remote.js')
    const { enforceManifestSignature } = await import('../lib/signature.js')
    const out = outputFor(argv)
    const net = manifestFetch({ allowHttp: argv['allow-http'], stallTimeoutS: argv['stall-timeout'], speedLimit: argv['speed-limit'], speedTimeS: argv['speed-time'] })
    const loaded = await loadManifest(argv.manifest, { now: Date.now(), allowHttp: argv['allow-http'], allowExpired: argv['allow-expired'] }, net)
    if (E.isLeft(loaded)) {
      const { exit, message, details, code } = loaded.left
      throw new Failure(exit, message, details, { code, document: { manifest: argv.manifest, problems: [message, ...details] } })
    }
    const { manifest, digest, path } = loaded.right
    // With an explicit --root, the manifest must also satisfy that host's signature policy.
    if (argv.rootGiven) await enforceManifestSignature(path, loaded.right.bytes, layout(hostRoot(argv)).root, signatureOf(loaded.right, net))
    if (argv.json) out.document({ ok: true, manifest: path, manifest_id: manifest.manifest_id, release_id: manifest.release_id, digest, problems: [] })
    else out.line(`${path}: valid manifest ${manifest.manifest_id} (${digest})`)
    return EXIT.ok
  }),
}
