import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs'
import { EXIT, usageError } from '../lib/errors.js'
import { layout } from '../lib/layout.js'
import { type GlobalArgs, handler, hostRoot, outputFor } from './common.js'

interface Args extends GlobalArgs {
  limit?: number
}

export const historyCommand: CommandModule<GlobalArgs, Args> = {
  command: 'history',
  describe: 'The switches, backups, verifications and restores recorded on this host, newest first: when, what, from, to, result, why it failed, who',
  builder: (y: Argv<GlobalArgs>) =>
    y
      .option('limit', { type: 'number', describe: 'Show at most N entries (the newest)' })
      .example('$0 history --limit 5', 'the last five switches')
      .example('$0 history --json', 'every switch, machine-readable'),
  handler: handler(async (argv: ArgumentsCamelCase<Args>) => {
    const { readStateFile } = await import('../state/state-file.js')
    const { historyOf, renderHistory } = await import('../lib/history.js')
    if (argv.limit !== undefined && !(Number.isSafeInteger(argv.limit) && argv.limit >= 1))
      throw usageError(`--limit must be a whole number of entries, 1 or more, got ${Number.isNaN(argv.limit) ? 'something that is not a number' : argv.limit}; e.g. --limit 10`)
    const out = outputFor(argv)
    const entries = historyOf(await readStateFile(layout(hostRoot(argv)).stateFile), argv.limit)
    if (argv.json) out.document({ history: entries })
    else out.line(renderHistory(entries))
    return EXIT.ok
  }),
}
