import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs'
import { EXIT } from '../lib/errors.js'
import { layout } from '../lib/layout.js'
import { formatBytes } from '../lib/bytes.js'
import { type GlobalArgs, handler, hostRoot, outputFor } from './common.js'
import { type HostArgs, hostFlags } from './options.js'

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
      const marks = [r.active && 'active', r.rollback_target && 'rollback target', r.pinned && `pinned${r.pin_reason ? ` (${r.pin_reason})` : ''}`, r.failed && 'marked failed', !r.sealed && 'UNSEALED'].filter(Boolean).join(', ')
      out.line(`${r.active ? '*' : ' '} ${r.release_id.padEnd(24)} ${(r.version ?? '-').padEnd(12)} ${formatBytes(r.bytes).padStart(10)} (${formatBytes(r.unique_bytes)} own)  ${marks}`)
    }
    out.line(`Total on disk: ${formatBytes(listing.total_bytes)} (hard links counted once)`)
    return EXIT.ok
  }),
}

interface PinArgs extends HostArgs {
  id: string
  reason?: string
}

const pinCommand: CommandModule<GlobalArgs, PinArgs> = {
  command: 'pin <id>',
  describe: 'Pin a release: prune never removes it',
  builder: (y: Argv<GlobalArgs>) =>
    y
      .positional('id', { type: 'string', demandOption: true, describe: 'A release id on this host (see releases list)' })
      .option('reason', { type: 'string', describe: 'Why it is kept, shown by releases list' })
      .example('sudo $0 releases pin 2026.06.10 --reason "last release before the schema change"', 'keep a release for good'),
  handler: handler(async (argv: ArgumentsCamelCase<PinArgs>) => {
    const { setPin } = await import('../lib/pins.js')
    const { withHostLock } = await import('../lib/operations.js')
    const flags = hostFlags(argv)
    const pinned = await withHostLock(flags, 'releases pin', () => setPin(layout(flags.root), argv.id, { pin: true, reason: argv.reason }))
    const out = outputFor(argv)
    if (argv.json) out.document({ ok: true, release_id: argv.id, pinned: true, changed: pinned })
    else out.line(`Release ${argv.id} is pinned${pinned ? '' : ' (it already was)'}: prune keeps it.`)
    return EXIT.ok
  }),
}

const unpinCommand: CommandModule<GlobalArgs, PinArgs> = {
  command: 'unpin <id>',
  describe: 'Unpin a release: prune may remove it again',
  builder: (y: Argv<GlobalArgs>) => y.positional('id', { type: 'string', demandOption: true, describe: 'A pinned release id' }),
  handler: handler(async (argv: ArgumentsCamelCase<PinArgs>) => {
    const { setPin } = await import('../lib/pins.js')
    const { withHostLock } = await import('../lib/operations.js')
    const flags = hostFlags(argv)
    const changed = await withHostLock(flags, 'releases unpin', () => setPin(layout(flags.root), argv.id, { pin: false }))
    const out = outputFor(argv)
    if (argv.json) out.document({ ok: true, release_id: argv.id, pinned: false, changed })
    else out.line(`Release ${argv.id} is ${changed ? 'no longer' : 'not'} pinned.`)
    return EXIT.ok
  }),
}

export const releasesCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'releases <command>',
  describe: 'Inspect the releases on this host',
  builder: (y: Argv<GlobalArgs>) => y.command(listCommand).command(pinCommand).command(unpinCommand).demandCommand(1, 'name a releases subcommand: list, pin, unpin'),
  handler: () => {},
}
