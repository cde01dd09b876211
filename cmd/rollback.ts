import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs'
import { EXIT } from '../lib/errors.js'
import { handler, outputFor } from './common.js'
import { type HostArgs, hostFlags, withServiceFlags } from './options.js'
import { stepReporter } from './reporter.js'

interface Args extends HostArgs {
  to?: string
}

export const rollbackCommand: CommandModule<HostArgs, Args> = {
  command: 'rollback',
  describe: 'Switch back to the previous release recorded in the upgrade state (or --to a sealed release)',
  builder: (y: Argv<HostArgs>) =>
    withServiceFlags(y)
      .option('to', { type: 'string', describe: 'Release id of a sealed release to switch to instead of the recorded target' })
      .example('sudo $0 rollback --json', 'switch back to the previous release')
      .epilogue('Database migrations are not rolled back. Use a verified appliance backup when a migration must be reversed.'),
  handler: handler(async (argv: ArgumentsCamelCase<Args>) => {
    const { withHostLock } = await import('../lib/operations.js')
    const { rollback, RollbackActivationFailed } = await import('../lib/rollback.js')
    const { activationFailed, servicesOutcome, servicesSentence } = await import('./outcome.js')
    const out = outputFor(argv)
    const flags = hostFlags(argv)
    return withHostLock(flags, 'rollback', async () => {
      // A hook or unit that fails after the switch: say that the switch happened and how to finish.
      const r = await rollback(flags, argv.to, await stepReporter(out)).catch((e: unknown) => (e instanceof RollbackActivationFailed ? activationFailed(e.plan, e) : Promise.reject(e)))
      if (argv.json) out.document({ ok: true, from: r.from, to: r.to, changed: r.planned.plan.steps.length > 0, services: servicesOutcome(r.planned.plan), warnings: r.warnings })
      else out.line(r.from === r.to ? r.planned.plan.steps.length === 0 ? `Release ${r.to} is already active; nothing to roll back.` : `Release ${r.to} is active; the interrupted rollback is finished.` : `Rolled back from ${r.from ?? '(none)'} to ${r.to}.${servicesSentence(r.planned.plan)}`)
      return EXIT.ok
    })
  }),
}
