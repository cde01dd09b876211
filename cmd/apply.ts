import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs'
import { EXIT, operationFailed, usageError } from '../lib/errors.js'
import { handler, outputFor } from './common.js'
import { type HostArgs, hostFlags, withBackupGuardFlags, withDeepFlag, withReleaseRuleFlags, withServiceFlags, manifestOption } from './options.js'
import { stepReporter } from './reporter.js'

interface Args extends HostArgs {
  plan?: string
  manifest?: string
}

export const applyCommand: CommandModule<HostArgs, Args> = {
  command: 'apply [plan]',
  describe: 'Converge the host to a manifest, or execute a plan saved by plan --out',
  builder: (y: Argv<HostArgs>) =>
    withDeepFlag(
      withReleaseRuleFlags(
        withBackupGuardFlags(withServiceFlags(y))
          .positional('plan', { type: 'string', describe: 'A plan file saved by plan --out: runs exactly its steps; refused when the host, the manifest or the file changed since' })
          .option('manifest', manifestOption('the release manifest.json, instead of a saved plan')),
      ),
    )
      .example('$0 apply --manifest /mnt/nullspace-release/manifest.json', 'converge the host to the manifest')
      .example('$0 plan --manifest M --out plan.json && $0 apply plan.json', 'review first, then apply exactly that plan'),
  handler: handler(async (argv: ArgumentsCamelCase<Args>) => {
    const { executePlanned, loadTrusted, planTrusted, withHostLock } = await import('../lib/operations.js')
    const { readSavedPlan, stepsDiffer } = await import('../lib/plan/saved.js')
    const { activationFailed, printApplied } = await import('./outcome.js')
    const out = outputFor(argv)
    if ((argv.plan === undefined) === (argv.manifest === undefined)) throw usageError('give either a saved plan file (apply PLAN) or --manifest M, not both or neither')
    if (argv.plan !== undefined && argv.deep) throw usageError(`--deep: a saved plan runs exactly its steps; to rehash and repair, run apply --manifest M --deep (or install --manifest M --deep)`)
    const saved = argv.plan !== undefined ? await readSavedPlan(argv.plan) : null
    const flags = {
      ...hostFlags(argv, saved?.options.smoke_url ?? null),
      ...(saved ? { allowHttp: saved.options.allow_http, allowExpired: saved.options.allow_expired, allowDowngrade: saved.options.allow_downgrade, acceptSnapshotFormatChange: saved.options.accept_snapshot_format_change, smokeTimeoutS: saved.options.smoke_timeout_s, serviceManager: saved.options.service_manager, serviceSettleS: saved.options.service_settle_s, serviceTimeoutS: saved.options.service_timeout_s } : {}),
    }
    const trusted = await loadTrusted(saved?.manifest.path ?? argv.manifest!, flags)
    if (saved && trusted.loaded.digest !== saved.manifest.digest)
      throw operationFailed(`plan is stale: the manifest ${saved.manifest.path} changed since the plan was made (${saved.manifest.digest} -> ${trusted.loaded.digest}); run plan again`, [], 'stale_plan')
    return withHostLock(flags, 'apply', async () => {
      const planned = await planTrusted(saved?.operation ?? 'install', trusted, flags)
      if (saved && planned.plan.host_fingerprint !== saved.host_fingerprint)
        throw operationFailed(`plan is stale: the host under ${flags.root} changed since the plan was made; run plan again`, [], 'stale_plan')
      // The file is what was reviewed: its steps run, or nothing does.
      const differ = saved ? stepsDiffer(saved.steps, planned.plan.steps) : null
      if (differ) throw operationFailed(`plan is stale: ${differ}; nothing was changed; run plan --manifest ${saved!.manifest.path} --out ${argv.plan} again and review it`, [], 'stale_plan')
      const result = await executePlanned(planned, flags, await stepReporter(out)).catch((e: unknown) => activationFailed(planned.plan, e))
      printApplied(out, planned.plan, result)
      return EXIT.ok
    })
  }),
}
