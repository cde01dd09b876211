import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs'
import { EXIT } from '../lib/errors.js'
import { layout } from '../lib/layout.js'
import { formatBytes } from '../lib/bytes.js'
import { type GlobalArgs, handler, hostRoot, outputFor } from './common.js'

const listCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'list',
  describe: 'List releases on the host: version, sealed, active, rollback target, failed, size on disk',
  builder: (y: Argv<GlobalArgs>) => y.example('$0 releases list --json', 'machine-readable listing'),
  handler: handler(async (argv: ArgumentsCamelCase<GlobalArgs>) => {
    const { listReleases } = await import('../lib/releases.js')
    const { readInventory } = await import('../state/inventory.js')
    const out = outputFor(argv)
    const listing = listReleases(await readInventory(layout(hostRoot(argv))))
    if (argv.json) {
      out.document(listing)
      return EXIT.ok
    }
    if (listing.releases.length === 0) out.line('No releases on this host.')
    for (const r of listing.releases) {
      const marks = [r.active && 'active', r.rollback_target && 'rollback target', r.failed && 'marked failed', !r.sealed && 'UNSEALED'].filter(Boolean).join(', ')
      out.line(`${r.active ? '*' : ' '} ${r.release_id.padEnd(24)} ${(r.version ?? '-').padEnd(12)} ${formatBytes(r.bytes).padStart(10)} (${formatBytes(r.unique_bytes)} own)  ${marks}`)
    }
    out.line(`Total on disk: ${formatBytes(listing.total_bytes)} (hard links counted once)`)
    return EXIT.ok
  }),
}

export const releasesCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'releases <command>',
  describe: 'Inspect the releases on this host',
  builder: (y: Argv<GlobalArgs>) => y.command(listCommand).demandCommand(1, 'name a releases subcommand: list'),
  handler: () => {},
}
