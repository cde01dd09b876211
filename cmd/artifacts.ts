import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs'
import { EXIT } from '../lib/errors.js'
import { handler, outputFor } from './common.js'
import { type HostArgs, hostFlags, manifestOption } from './options.js'
import { stepReporter } from './reporter.js'

interface Args extends HostArgs {
  manifest: string
}

const fetchCommand: CommandModule<HostArgs, Args> = {
  command: 'fetch',
  describe: 'Fetch, verify and seal a release without switching to it or rendering files',
  builder: (y: Argv<HostArgs>) =>
    y
      .option('manifest', { ...manifestOption('the release manifest.json'), demandOption: true })
      .example('sudo $0 artifacts fetch --manifest /mnt/nullspace-release/manifest.json', 'stage a release for a later switch'),
  handler: handler(async (argv: ArgumentsCamelCase<Args>) => {
    const { executePlanned, loadTrusted, planTrusted, withHostLock } = await import('../lib/operations.js')
    const { printApplied } = await import('./outcome.js')
    const out = outputFor(argv)
    const flags = hostFlags(argv)
    const trusted = await loadTrusted(argv.manifest, flags)
    return withHostLock(flags, 'artifacts fetch', async () => {
      const planned = await planTrusted('fetch', trusted, flags)
      printApplied(out, planned.plan, await executePlanned(planned, flags, await stepReporter(out)))
      return EXIT.ok
    })
  }),
}

export const artifactsCommand: CommandModule<HostArgs, HostArgs> = {
  command: 'artifacts <command>',
  describe: 'Fetch release artifacts without activating them',
  builder: (y: Argv<HostArgs>) => y.command(fetchCommand).demandCommand(1, 'name an artifacts subcommand: fetch'),
  handler: () => {},
}
