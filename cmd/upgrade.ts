import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs'
import { EXIT, Failure } from '../lib/errors.js'
import { DEFAULT_INGRESS_URL } from '../lib/exec/smoke.js'
import { formatBytes } from '../lib/bytes.js'
import { type HostArgs, handler, hostFlags, outputFor, smokeTimeoutOption, stepReporter, withBackupGuardFlags, withReleaseRuleFlags, withServiceFlags } from './common.js'

interface Args extends HostArgs {
  manifest: string
  'dry-run': boolean
  'skip-ingress-smoke': boolean
  'auto-rollback': boolean
  backup: boolean
}

export const upgradeCommand: CommandModule<HostArgs, Args> = {
  command: 'upgrade',
  describe: 'Move the host to a new release: verify, fetch what differs, switch, hooks, ingress smoke; roll back on failure',
  builder: (y: Argv<HostArgs>) =>
    withReleaseRuleFlags(
      withBackupGuardFlags(withServiceFlags(y))
        .option('manifest', { type: 'string', demandOption: true, describe: 'Path of the new release manifest.json' })
        .option('dry-run', { type: 'boolean', default: false, describe: 'Validate and print the plan and every compatibility finding; change nothing' })
        .option('skip-ingress-smoke', { type: 'boolean', default: false, describe: 'Do not run the ingress fixture smoke after the switch' })
        .option('ingress-url', { type: 'string', default: DEFAULT_INGRESS_URL, describe: 'Base URL of the ingress the smoke checks' })
        .option('smoke-timeout', smokeTimeoutOption())
        .option('backup', { type: 'boolean', default: false, describe: 'Take and verify a backup of the active release first (the migration guard then passes); a backup that does not verify stops the upgrade' }),
    )
      .option('auto-rollback', { type: 'boolean', default: true, describe: 'Switch back when a hook or the smoke fails (--no-auto-rollback stays on the new release)' })
      .example('sudo $0 upgrade --manifest /mnt/nullspace-release-next/manifest.json --dry-run', 'validate a future release without switching')
      .example('sudo $0 upgrade --manifest /mnt/nullspace-release-next/manifest.json', 'apply an upgrade'),
  handler: handler(async (argv: ArgumentsCamelCase<Args>) => {
    const { blockedFailure, loadTrusted, planManifest, withHostLock } = await import('../lib/operations.js')
    const { upgrade } = await import('../lib/upgrade.js')
    const { renderPlan } = await import('../lib/plan/render.js')
    const { servicesOutcome, servicesSentence } = await import('./outcome.js')
    const out = outputFor(argv)
    const flags = hostFlags(argv, argv['skip-ingress-smoke'] ? null : argv['ingress-url'] ?? DEFAULT_INGRESS_URL)
    if (argv['dry-run']) {
      // With --backup the run takes and verifies a backup before it plans: the guard is met then, so the preview does not block on it.
      const { plan } = await planManifest('upgrade', argv.manifest, argv.backup ? { ...flags, backupCheck: false } : flags)
      if (argv.backup) out.warn('--backup: the upgrade takes and verifies a backup of the active release before any change (the migration guard is then met)')
      const document = (await import('../lib/plan/saved.js')).planDocument(plan)
      // Refused with the message the real upgrade would give (both read the plan's blockers).
      const refused = blockedFailure(plan, document)
      if (!argv.json) out.line(renderPlan(plan, out.c))
      if (refused) throw refused
      if (argv.json) out.document(document)
      return EXIT.ok
    }
    const trusted = await loadTrusted(argv.manifest, flags)
    return withHostLock(flags, 'upgrade', async () => {
      const backup = argv.backup ? await (await import('../lib/backup/ops.js')).backupBeforeUpgrade(flags, (t) => out.warn(t)) : null
      if (backup) out.line(`Backup ${backup} taken and verified.`)
      const outcome = await upgrade(trusted, flags, { autoRollback: argv['auto-rollback'] }, await stepReporter(out))
      const { plan } = outcome.planned
      const from = plan.current_release_id
      const to = plan.target_release_id
      if (outcome.kind === 'upgraded') {
        const changed = plan.steps.length > 0
        if (argv.json) out.document({ ok: true, from, to, changed, backup, services: servicesOutcome(plan), steps: plan.steps.map((s) => s.id), bytes_transferred: outcome.result.bytesTransferred, warnings: plan.warnings })
        else out.line(changed ? `Upgraded to ${to}${from && from !== to ? ` (from ${from})` : ''}. ${formatBytes(outcome.result.bytesTransferred)} transferred.${servicesSentence(plan)}` : `No changes. The host matches release ${to}.`)
        return EXIT.ok
      }
      const message = outcome.rollbackFailure
        ? `neither release is running: upgrade to ${to} failed (${outcome.failure}), and after the automatic rollback to ${outcome.rolledBackTo} (now active) ${outcome.rollbackFailure}. Nothing more was switched; ${to} is marked failed. Read the unit's log (journalctl -u nullspace-api.service), fix the cause, then run: nullspace-host rollback`
        : outcome.rolledBackTo
          ? `upgrade to ${to} failed: ${outcome.failure}. Rolled back to ${outcome.rolledBackTo}; ${to} is marked failed`
          : `upgrade to ${to} failed: ${outcome.failure}. ${to} stays active and is marked failed; roll back with: nullspace-host rollback`
      const services = outcome.servicesFailed || outcome.rollbackFailure ? 'failed' : servicesOutcome(plan)
      throw new Failure(EXIT.failed, message, [], {
        code: 'activation_failed',
        document: { from, to, changed: true, backup, services, failure: outcome.failure, rolled_back_to: outcome.rolledBackTo, rollback_failure: outcome.rollbackFailure, warnings: [...plan.warnings, ...outcome.warnings] },
      })
    })
  }),
}
