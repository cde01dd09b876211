import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs'
import path from 'node:path'
import { ARCHITECTURES, BUILD_DEFAULTS, type Architecture } from '../lib/manifest/kinds.js'
import { EXIT, usageError } from '../lib/errors.js'
import { type GlobalArgs, handler, outputFor } from './common.js'
import { numberFlag } from './bounds.js'

interface Args extends GlobalArgs {
  'artifact-dir': string
  output: string
  'release-id': string
  version: string
  arch: string
  'source-revision': string
  'firecracker-version': string
  'firecracker-commit': string
  'snapshot-data-format': string
  'kernel-identity': string
  'base-url'?: string
  'guest-agent-protocol-version': string
  'runtime-class': string
  'snapshot-metadata-format': string
  'expires-in'?: number
  'chunk-index': boolean
}

export const manifestBuild: CommandModule<GlobalArgs, Args> = {
  command: 'build',
  describe: 'Hash a release directory and write its manifest',
  builder: (y: Argv<GlobalArgs>) =>
    y
      .option('artifact-dir', { type: 'string', demandOption: true, describe: 'Directory holding the ten artifact files (nullspace-api, rootfs.ext4, ...)' })
      .option('output', { type: 'string', demandOption: true, describe: 'Where to write manifest.json (written atomically)' })
      .option('release-id', { type: 'string', demandOption: true, describe: 'Release id, e.g. 2026.06.10' })
      .option('version', { type: 'string', demandOption: true, describe: 'Release version (semver), e.g. 0.1.0' })
      .option('arch', { type: 'string', demandOption: true, describe: `Architecture: ${ARCHITECTURES.join(' or ')} (arm64 and amd64 are accepted)` })
      .option('source-revision', { type: 'string', demandOption: true, describe: 'Source revision the release was built from' })
      .option('firecracker-version', { type: 'string', demandOption: true, describe: 'Firecracker and jailer version, e.g. v1.12.1' })
      .option('firecracker-commit', { type: 'string', demandOption: true, describe: 'Firecracker build commit' })
      .option('snapshot-data-format', { type: 'string', demandOption: true, describe: 'Firecracker snapshot data format, e.g. firecracker-v1.12' })
      .option('kernel-identity', { type: 'string', demandOption: true, describe: 'Guest kernel identity, e.g. linux-6.1-nullspace' })
      .option('base-url', { type: 'string', describe: 'Publish URL prefix (https://...); file:// URLs of --artifact-dir when omitted' })
      .option('guest-agent-protocol-version', { type: 'string', default: BUILD_DEFAULTS.guestAgentProtocolVersion, describe: 'Guest-agent protocol version' })
      .option('runtime-class', { type: 'string', default: BUILD_DEFAULTS.runtimeClass, describe: 'Runtime class' })
      .option('snapshot-metadata-format', { type: 'string', default: BUILD_DEFAULTS.snapshotMetadataFormat, describe: 'Snapshot metadata format' })
      .option('expires-in', numberFlag('expires-in', { describe: 'Days until the manifest expires, setting expires_at' }))
      .option('chunk-index', { type: 'boolean', default: true, describe: 'Write <artifact>.chunks beside artifacts of 16 MiB or more, for delta upgrades (--no-chunk-index turns it off)' })
      .example(
        '$0 manifest build --artifact-dir /mnt/nullspace-release --output /mnt/nullspace-release/manifest.json --release-id 2026.06.10 --version 0.1.0 --arch "$(uname -m)" --source-revision "$(git rev-parse HEAD)" --firecracker-version v1.12.1 --firecracker-commit reviewed-firecracker-build --snapshot-data-format firecracker-v1.12 --kernel-identity linux-6.1-nullspace',
        'build the manifest of a release directory, as on the product page',
      ),
  handler: handler(async (argv: ArgumentsCamelCase<Args>) => {
    const { E } = await import('../lib/commonjs.cjs')
    const { buildManifest, writeManifest } = await import('../lib/manifest/build.js')
    const out = outputFor(argv)
    const arch = normaliseArch(argv.arch)
    if (argv['base-url'] !== undefined && !/^https?:\/\/[^/]/.test(argv['base-url']))
      throw usageError(`--base-url must be an https:// (or http://) URL, got ${JSON.stringify(argv['base-url'])}`)
    const built = await buildManifest({
      artifactDir: argv['artifact-dir'],
      output: argv.output,
      releaseId: argv['release-id'],
      version: argv.version,
      arch,
      sourceRevision: argv['source-revision'],
      firecrackerVersion: argv['firecracker-version'],
      firecrackerCommit: argv['firecracker-commit'],
      snapshotDataFormat: argv['snapshot-data-format'],
      kernelIdentity: argv['kernel-identity'],
      baseUrl: argv['base-url'],
      guestAgentProtocolVersion: argv['guest-agent-protocol-version'],
      runtimeClass: argv['runtime-class'],
      snapshotMetadataFormat: argv['snapshot-metadata-format'],
      expiresInDays: argv['expires-in'],
      chunkIndex: argv['chunk-index'],
      now: new Date(),
    })
    if (E.isLeft(built)) throw built.left
    const digest = await writeManifest(argv.output, built.right)
    // Valid, but every host refuses http: unless it runs with --allow-http: say so now, not at install time.
    if (argv['base-url']?.startsWith('http://'))
      out.warn(`--base-url ${argv['base-url']} is http:, which every host refuses unless it runs with --allow-http; publish the artifacts over https:// instead`)
    const output = path.resolve(argv.output)
    const id = built.right.manifest.manifest_id
    if (argv.json) out.document({ ok: true, output, manifest_id: id, digest, chunk_indexes: built.right.indexes.map((ix) => ix.path) })
    else out.line(`wrote ${output}: ${id} (${digest})`)
    return EXIT.ok
  }),
}

function normaliseArch(raw: string): Architecture {
  const aliases: Record<string, Architecture> = { x86_64: 'x86_64', amd64: 'x86_64', aarch64: 'aarch64', arm64: 'aarch64' }
  // Own entries only: `--arch constructor` must not find Object.prototype's.
  const arch = Object.hasOwn(aliases, raw) ? aliases[raw] : undefined
  if (!arch) throw usageError(`--arch: unknown architecture ${JSON.stringify(raw)}; use x86_64 or aarch64`)
  return arch
}
