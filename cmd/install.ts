import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs'
import { EXIT } from '../lib/errors.js'
import { handler, outputFor } from './common.js'
import { type HostArgs, hostFlags, smokeTimeoutOption, withBackupGuardFlags, withDeepFlag, withReleaseRuleFlags, withServiceFlags, manifestOption } from './options.js'
import { stepReporter } from './reporter.js'

interface Args extends HostArgs {
  manifest: string
}

export const installCommand: CommandModule<HostArgs, Args> = {
  command: 'install',
  describe: 'Fetch, verify, seal and activate a release: switch, links, rendered files, hooks',
  builder: (y: Argv<HostArgs>) =>
    withDeepFlag(
      withReleaseRuleFlags(
        withBackupGuardFlags(withServiceFlags(y))
          .option('manifest', { ...manifestOption('the release manifest.json'), demandOption: true })
          .option('ingress-url', { type: 'string', describe: 'Run the ingress fixture smoke against this URL after the switch' })
          .option('smoke-timeout', smokeTimeoutOption()),
      ),
    )
      .example('sudo $0 install --manifest /mnt/nullspace-release/manifest.json', 'install the appliance from a manifest'),
  handler: handler(async (argv: ArgumentsCamelCase<Args>) => {
    const { executePlanned, loadTrusted, planTrusted, withHostLock } = await import('../lib/operations.js')
    const { activationFailed, printApplied } = await import('./outcome.js')
    const out = outputFor(argv)
    const flags = hostFlags(argv, argv['ingress-url'] ?? null)
    const trusted = await loadTrusted(argv.manifest, flags)
    return withHostLock(flags, 'install', async () => {
      const planned = await planTrusted('install', trusted, flags)
      const result = await executePlanned(planned, flags, await stepReporter(out)).catch((e: unknown) => activationFailed(planned.plan, e))
      printApplied(out, planned.plan, result)
      return EXIT.ok
    })
  }),
}
