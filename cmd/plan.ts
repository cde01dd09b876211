import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs'
import { EXIT } from '../lib/errors.js'
import { handler, outputFor } from './common.js'
import { type HostArgs, hostFlags, withBackupGuardFlags, withReleaseRuleFlags, withServiceFlags, manifestOption } from './options.js'

interface Args extends HostArgs {
  manifest: string
  out?: string
  'detailed-exitcode': boolean
}

export const planCommand: CommandModule<HostArgs, Args> = {
  command: 'plan',
  describe: 'Show what apply would change on the host (changes nothing)',
  builder: (y: Argv<HostArgs>) =>
    withReleaseRuleFlags(
      withBackupGuardFlags(withServiceFlags(y))
        .option('manifest', { ...manifestOption('the release manifest.json'), demandOption: true })
        .option('out', { type: 'string', describe: 'Save the plan as JSON; `apply FILE` executes exactly its steps while the host, the manifest and the file are unchanged' })
        .option('detailed-exitcode', { type: 'boolean', default: false, describe: 'Exit 0 when converged, 2 when there are changes, 1 on error' }),
    )
      .example('$0 plan --manifest /mnt/nullspace-release/manifest.json', 'preview an install')
      .example('$0 plan --manifest M --json --detailed-exitcode', 'gate CI on whether the host would change'),
  handler: handler(async (argv: ArgumentsCamelCase<Args>) => {
    const { blockedFailure, planManifest } = await import('../lib/operations.js')
    const { renderPlan } = await import('../lib/plan/render.js')
    const { writeFileAtomic } = await import('../lib/fsx.js')
    const out = outputFor(argv)
    const { planDocument } = await import('../lib/plan/saved.js')
    const { plan } = await planManifest('install', argv.manifest, hostFlags(argv))
    if (argv.out) await writeFileAtomic(argv.out, `${JSON.stringify(planDocument(plan), null, 2)}\n`, 0o644)
    // A refused plan is shown, then fails: with --json its one document is the plan with ok false and the error.
    const refused = blockedFailure(plan, planDocument(plan))
    if (!argv.json) out.line(renderPlan(plan, out.c))
    if (refused) throw refused
    if (argv.json) out.document(planDocument(plan))
    return argv['detailed-exitcode'] && plan.steps.length > 0 ? EXIT.changes : EXIT.ok
  }),
}
