import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs'
import { EXIT, usageError } from '../lib/errors.js'
import { layout } from '../lib/layout.js'
import { formatBytes } from '../lib/bytes.js'
import { handler, outputFor } from './common.js'
import { type HostArgs, hostFlags } from './options.js'

interface Args extends HostArgs {
  keep: number
  'dry-run': boolean
}

export const pruneCommand: CommandModule<HostArgs, Args> = {
  command: 'prune',
  describe: 'Delete old releases and abandoned staging; never current or the rollback target',
  builder: (y: Argv<HostArgs>) =>
    y
      .option('keep', { type: 'number', demandOption: true, describe: 'How many good sealed releases to keep (current and the rollback target are always kept)' })
      .option('dry-run', { type: 'boolean', default: false, describe: 'Show what would be removed; change nothing' })
      .example('sudo $0 prune --keep 3 --dry-run', 'see what keeping three releases would free'),
  handler: handler(async (argv: ArgumentsCamelCase<Args>) => {
    const { planPrune } = await import('../lib/releases.js')
    const { withHostLock } = await import('../lib/operations.js')
    const { removeRelease, removeStaging } = await import('../lib/exec/remove.js')
    const { readInventory } = await import('../state/inventory.js')
    const out = outputFor(argv)
    if (!Number.isInteger(argv.keep) || argv.keep < 0) throw usageError(`--keep must be a whole number of releases, got ${argv.keep}`)
    const flags = hostFlags(argv)
    const l = layout(flags.root)
    const run = async () => {
      const p = planPrune(await readInventory(l), argv.keep)
      if (!argv['dry-run']) {
        for (const id of p.remove) await removeRelease(l, id)
        if (p.staging.length > 0) await removeStaging(l)
      }
      const verb = argv['dry-run'] ? 'would remove' : 'removed'
      if (argv.json) out.document({ ok: true, dry_run: argv['dry-run'], changed: !argv['dry-run'] && (p.remove.length > 0 || p.staging.length > 0), kept: p.keep, removed: p.remove, staging_removed: p.staging, bytes_freed: p.bytes_freed })
      else {
        for (const id of p.remove) out.line(`${verb} release ${id}`)
        if (p.staging.length) out.line(`${verb} abandoned staging: ${p.staging.join(', ')}`)
        out.line(`${argv['dry-run'] ? 'Would free' : 'Freed'} ${formatBytes(p.bytes_freed)}; kept ${p.keep.join(', ') || '(none)'}.`)
      }
      return EXIT.ok
    }
    return argv['dry-run'] ? run() : withHostLock(flags, 'prune', run)
  }),
}
