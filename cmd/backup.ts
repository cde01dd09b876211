import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs'
import { EXIT, Failure, usageError } from '../lib/errors.js'
import { layout } from '../lib/layout.js'
import { formatBytes } from '../lib/bytes.js'
import { type GlobalArgs, handler, outputFor } from './common.js'
import { type HostArgs, hostFlags, withServiceFlags } from './options.js'

interface DestArgs extends HostArgs {
  dest?: string
}
interface VerifyArgs extends DestArgs {
  backup: string
  key?: string
}
interface PruneArgs extends DestArgs {
  keep: number
}
interface RestoreArgs extends DestArgs {
  backup: string
  yes: boolean
}

const withDest = <T>(y: Argv<T>) => y.option('dest', { type: 'string', describe: 'Directory of the backups, used as given (default var/lib/nullspace/backups under --root)' })

const createCommand: CommandModule<GlobalArgs, DestArgs> = {
  command: 'create',
  describe: 'Run the pre-backup hooks and write a backup of the active release: <id>.tar.gz, <id>.json, <id>.json.sig with an evidence key',
  builder: (y: Argv<GlobalArgs>) => withDest(y).example('sudo $0 backup create', 'back up into /var/lib/nullspace/backups'),
  handler: handler(async (argv: ArgumentsCamelCase<DestArgs>) => {
    const { withHostLock } = await import('../lib/operations.js')
    const { takeBackup } = await import('../lib/backup/ops.js')
    const out = outputFor(argv)
    const flags = hostFlags(argv)
    const l = layout(flags.root)
    const made = await withHostLock(flags, 'backup create', () => takeBackup(l, { dest: argv.dest, hookTimeoutMs: flags.hookTimeoutS * 1000, now: () => new Date(), warn: (t) => out.warn(t) }))
    const r = made.record
    if (argv.json) out.document({ ok: true, changed: true, backup_id: r.backup_id, dir: made.dir, release_id: r.release_id, archive: r.archive, entries: r.entries.length, signed: made.signed, warnings: made.warnings })
    else out.line(`Backup ${r.backup_id} of release ${r.release_id} written to ${made.dir} (${r.entries.length} entries, ${formatBytes(r.archive.size)}${made.signed ? ', signed' : ''}); run backup verify ${r.backup_id} to prove it restores`)
    return EXIT.ok
  }),
}

const verifyCommand: CommandModule<GlobalArgs, VerifyArgs> = {
  command: 'verify <backup>',
  describe: 'Check a backup (ID or FILE): signature, archive size and sha256, every entry, and a restore drill; writes <id>.verified.json',
  builder: (y: Argv<GlobalArgs>) =>
    withDest(y)
      .positional('backup', { type: 'string', demandOption: true, describe: 'A backup id (see backup list) or one of its files' })
      .option('key', { type: 'string', describe: 'Public key (SPKI PEM) the record must be signed by (default: that of the evidence key under --root)' })
      .example('$0 backup verify 20260610T120000Z-2026.06.10', 'exit 0 only when the backup restores'),
  handler: handler(async (argv: ArgumentsCamelCase<VerifyArgs>) => {
    const { withHostLock } = await import('../lib/operations.js')
    const { checkBackup } = await import('../lib/backup/ops.js')
    const { locateBackup } = await import('../lib/backup/verify.js')
    const { backupsDir } = await import('../lib/backup/create.js')
    const { verifyingKey } = await import('../lib/backup/keys.js')
    const out = outputFor(argv)
    const flags = hostFlags(argv)
    const l = layout(flags.root)
    const dir = backupsDir(l, argv.dest)
    const f = locateBackup(argv.backup, dir)
    const key = await verifyingKey(l, argv.key)
    // A backup of this host's directory is verified under the lock (no prune or restore meanwhile) and goes into its history.
    const own = f.dir === dir
    const verify = () => checkBackup(l, f, { key: key?.key ?? null, keepDrill: false, now: () => new Date() }, own)
    const r = own ? await withHostLock(flags, 'backup verify', verify) : await verify()
    const report = { backup_id: r.backup_id, release_id: r.record?.release_id ?? null, problem: r.problem, signature: r.signature, verified_at: r.verified_at, entries: r.record?.entries.length ?? null }
    // A failure's document is printed once, by the failure (with `ok: false` and `error`).
    if (!r.ok) throw new Failure(EXIT.failed, `backup ${r.backup_id} does not verify: ${r.problem}; do not rely on it (its .verified.json was removed)`, [], { document: report })
    // A verified backup gets a new <id>.verified.json (and, in this host's directory, a history event).
    if (argv.json) out.document({ ok: true, changed: true, ...report })
    if (r.signature.status !== 'valid') out.warn(`${f.record}: signature ${r.signature.status}${r.signature.status === 'not checked' ? ' (no --key and no evidence key under --root)' : ''}`)
    out.line(`Backup ${r.backup_id} verified: ${r.record!.entries.length} entries match the record and restore${r.signature.status === 'valid' ? `; signed by key ${r.signature.key_id}` : ''}`)
    return EXIT.ok
  }),
}

const listCommand: CommandModule<GlobalArgs, DestArgs> = {
  command: 'list',
  describe: 'List the backups, newest first: id, release, size, signed, verified',
  builder: (y: Argv<GlobalArgs>) => withDest(y),
  handler: handler(async (argv: ArgumentsCamelCase<DestArgs>) => {
    const { listBackups } = await import('../lib/backup/store.js')
    const { backupsDir } = await import('../lib/backup/create.js')
    const { hostRoot } = await import('./common.js')
    const out = outputFor(argv)
    const dir = backupsDir(layout(hostRoot(argv)), argv.dest)
    const rows = await listBackups(dir)
    if (argv.json) out.document({ dir, backups: rows })
    else {
      if (rows.length === 0) out.line(`No backups in ${dir}.`)
      for (const r of rows)
        out.line(`${r.backup_id.padEnd(40)} ${(r.version ?? '-').padEnd(10)} ${(r.size === null ? '-' : formatBytes(r.size)).padStart(10)}  ${[r.signed && 'signed', r.verified_at ? `verified ${r.verified_at}` : 'NOT VERIFIED', r.problem].filter(Boolean).join(', ')}`)
    }
    return EXIT.ok
  }),
}

const pruneCommand: CommandModule<GlobalArgs, PruneArgs> = {
  command: 'prune',
  describe: 'Delete old backups: keeps the newest N, and always the newest verified one',
  builder: (y: Argv<GlobalArgs>) =>
    withDest(y)
      .option('keep', { type: 'number', demandOption: true, describe: 'How many of the newest backups to keep' })
      .example('sudo $0 backup prune --keep 7', 'keep a week of daily backups'),
  handler: handler(async (argv: ArgumentsCamelCase<PruneArgs>) => {
    const { withHostLock } = await import('../lib/operations.js')
    const { pruneBackups } = await import('../lib/backup/store.js')
    const { backupsDir } = await import('../lib/backup/create.js')
    if (!Number.isSafeInteger(argv.keep) || argv.keep < 0) throw usageError(`--keep must be a whole number of backups, 0 or more, got ${argv.keep}; e.g. --keep 7`)
    const out = outputFor(argv)
    const flags = hostFlags(argv)
    const dir = backupsDir(layout(flags.root), argv.dest)
    const r = await withHostLock(flags, 'backup prune', () => pruneBackups(dir, argv.keep))
    if (argv.json) out.document({ ok: true, changed: r.removed.length > 0, dir, kept: r.kept, removed: r.removed })
    else {
      for (const id of r.removed) out.line(`removed backup ${id}`)
      out.line(`Kept ${r.kept.join(', ') || '(none)'}.`)
    }
    return EXIT.ok
  }),
}

const restoreCommand: CommandModule<GlobalArgs, RestoreArgs> = {
  command: 'restore <backup>',
  describe: 'Put a verified backup of the active release back: stop the units, restore every entry, run the post-restore hooks on its dump, start and health-check the units',
  builder: (y: Argv<GlobalArgs>) =>
    withServiceFlags(withDest(y))
      .positional('backup', { type: 'string', demandOption: true, describe: 'A backup id (see backup list) or one of its files' })
      .option('yes', { type: 'boolean', default: false, describe: 'Confirm: the restore replaces the configuration, state and data files the backup holds' })
      .option('key', { type: 'string', describe: 'Public key the record must be signed by (default: that of the evidence key under --root)' })
      .example('sudo $0 backup restore 20260610T120000Z-2026.06.10 --yes', 'restore a backup of the active release'),
  handler: handler(async (argv: ArgumentsCamelCase<RestoreArgs & { key?: string }>) => {
    if (!argv.yes) throw usageError(`backup restore replaces the configuration, state and data the backup holds; pass --yes to confirm (nullspace-host backup restore ${argv.backup} --yes)`)
    const { withHostLock } = await import('../lib/operations.js')
    const { restoreBackup } = await import('../lib/backup/restore.js')
    const { withEvent } = await import('../lib/backup/events.js')
    const { locateBackup } = await import('../lib/backup/verify.js')
    const { backupsDir } = await import('../lib/backup/create.js')
    const { verifyingKey } = await import('../lib/backup/keys.js')
    const { BACKUP_ID } = await import('../lib/backup/record.js')
    const out = outputFor(argv)
    const flags = hostFlags(argv)
    const l = layout(flags.root)
    const f = locateBackup(argv.backup, backupsDir(l, argv.dest))
    const key = await verifyingKey(l, argv.key)
    const r = await withHostLock(flags, 'backup restore', () =>
      withEvent(l, { op: 'restore', backup_id: f.id, release_id: BACKUP_ID.exec(f.id)?.[2] ?? '' }, () =>
        restoreBackup(l, f, { key: key?.key ?? null, serviceManager: flags.serviceManager, settleS: flags.serviceSettleS, timeoutS: flags.serviceTimeoutS, hookTimeoutMs: flags.hookTimeoutS * 1000 }),
      ),
    )
    if (r.services === 'not managed') out.warn('services not restarted (service manager: none)')
    if (argv.json) out.document({ ok: true, changed: true, ...r })
    else out.line(`Restored backup ${r.backup_id} of release ${r.release_id}: ${r.restored} entries put back${r.hooks.length ? `, post-restore hooks ${r.hooks.join(', ')} ran` : ''}.`)
    return EXIT.ok
  }),
}

export const backupCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'backup <command>',
  describe: 'Back up the appliance before irreversible migrations, verify, list, restore and prune backups',
  builder: (y: Argv<GlobalArgs>) =>
    y
      .command(createCommand)
      .command(verifyCommand)
      .command(listCommand)
      .command(pruneCommand)
      .command(restoreCommand)
      .demandCommand(1, 'name a backup subcommand: create, verify, list, restore, prune'),
  handler: () => {},
}
