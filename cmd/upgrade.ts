import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs'
import { EXIT, Failure, usageError } from '../lib/errors.js'
import { DEFAULT_INGRESS_URL } from '../lib/exec/smoke.js'
import { formatBytes } from '../lib/bytes.js'
import { handler, outputFor } from './common.js'
import { type HostArgs, hostFlags, smokeTimeoutOption, withBackupGuardFlags, withReleaseRuleFlags, withServiceFlags, manifestOption } from './options.js'
import { stepReporter } from './reporter.js'

interface Args extends HostArgs {
  manifest?: string
  channel?: string
  check: boolean
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
        .option('manifest', manifestOption('the new release manifest.json'))
        .option('channel', { type: 'string', describe: 'URL of a release channel (https:, file:, http: with --allow-http); the target is chosen from it (default: the URL in etc/nullspace/channel.url)' })
        .option('check', { type: 'boolean', default: false, describe: 'With a channel: print the target and why (or up to date), exit 2 when an upgrade is available, 0 when not; change nothing' })
        .conflicts('manifest', 'channel')
        .option('dry-run', { type: 'boolean', default: false, describe: 'Validate and print the plan and every compatibility finding; change nothing' })
        .option('skip-ingress-smoke', { type: 'boolean', default: false, describe: 'Do not run the ingress fixture smoke after the switch' })
        .option('ingress-url', { type: 'string', default: DEFAULT_INGRESS_URL, describe: 'Base URL of the ingress the smoke checks' })
        .option('smoke-timeout', smokeTimeoutOption())
        .option('backup', { type: 'boolean', default: false, describe: 'Take and verify a backup of the active release first (the migration guard then passes); a backup that does not verify stops the upgrade' }),
    )
      .option('auto-rollback', { type: 'boolean', default: true, describe: 'Switch back when a hook or the smoke fails (--no-auto-rollback stays on the new release)' })
      .example('sudo $0 upgrade --manifest /mnt/nullspace-release-next/manifest.json --dry-run', 'validate a future release without switching')
      .example('sudo $0 upgrade --manifest /mnt/nullspace-release-next/manifest.json', 'apply an upgrade')
      .example('sudo $0 upgrade --manifest https://releases.example.com/2026.07.01/manifest.json', 'upgrade from a published manifest (its signature is fetched from <url>.sig)')
      .example('$0 upgrade --channel https://releases.example.com/stable.json --check', 'exit 2 when the channel has an upgrade for this host')
      .example('sudo $0 upgrade --channel https://releases.example.com/stable.json', 'upgrade to the release the channel chooses for this host'),
  handler: handler(async (argv: ArgumentsCamelCase<Args>) => {
    const out = outputFor(argv)
    const flags = hostFlags(argv, argv['skip-ingress-smoke'] ? null : argv['ingress-url'] ?? DEFAULT_INGRESS_URL)
    if (argv.check && argv['dry-run']) throw usageError('--check and --dry-run are two different questions: --check asks whether the channel has an upgrade for this host (exit 2 when it has), --dry-run shows the plan to it; give one')
    if (argv.check && argv.manifest !== undefined) throw usageError('--check needs a channel (--channel URL, or etc/nullspace/channel.url): it asks the channel for a target; with --manifest use --dry-run')
    // With a channel, the channel chooses the manifest; from there on the upgrade is the one of --manifest.
    const followed = argv.manifest === undefined ? await (await import('./channel-follow.js')).follow(argv, flags, out) : null
    if (followed?.exit !== undefined) return followed.exit
    // Loaded once a change is coming: a --check answers without them.
    const { blockedFailure, loadTrusted, planTrusted, withHostLock } = await import('../lib/operations.js')
    const { upgrade } = await import('../lib/upgrade.js')
    const { renderPlan } = await import('../lib/plan/render.js')
    const { servicesOutcome, servicesSentence } = await import('./outcome.js')
    const trusted = followed?.trusted ?? (await loadTrusted(argv.manifest!, flags))
    const channel = followed?.document
    if (argv['dry-run']) {
      // With --backup the run takes and verifies a backup before it plans: the guard is met then, so the preview does not block on it.
      const { plan } = await planTrusted('upgrade', trusted, argv.backup ? { ...flags, backupCheck: false } : flags)
      if (argv.backup) out.warn('--backup: the upgrade takes and verifies a backup of the active release before any change (the migration guard is then met)')
      const document = { ...(await import('../lib/plan/saved.js')).planDocument(plan), changed: false as const }
      // Refused with the message the real upgrade would give (both read the plan's blockers).
      const refused = blockedFailure(plan, document)
      if (!argv.json) out.line(renderPlan(plan, out.c))
      if (refused) throw refused
      if (argv.json) out.document(channel ? { ...document, channel } : document)
      return EXIT.ok
    }
    return withHostLock(flags, 'upgrade', async () => {
      const backup = argv.backup ? await (await import('../lib/backup/ops.js')).backupBeforeUpgrade(flags, (t) => out.warn(t)) : null
      if (backup) out.line(`Backup ${backup} taken and verified.`)
      const outcome = await upgrade(trusted, flags, { autoRollback: argv['auto-rollback'] }, await stepReporter(out))
      // The channel was acted on: its sequence is the highest this host accepted (a failed activation too).
      await followed?.accept()
      const { plan } = outcome.planned
      const from = plan.current_release_id
      const to = plan.target_release_id
      if (outcome.kind === 'upgraded') {
        const changed = plan.steps.length > 0
        if (argv.json) out.document({ ok: true, from, to, changed, ...(channel ? { channel } : {}), backup, services: servicesOutcome(plan), steps: plan.steps.map((s) => s.id), bytes_transferred: outcome.result.bytesTransferred, warnings: plan.warnings })
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
