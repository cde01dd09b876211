// The command line: global flags, the command list, and one-line usage errors (exit 64).
import yargs from 'yargs'
import { EXIT, usageError } from '../lib/errors.js'
import { kebab, usageMessage, type UsageContext } from '../lib/cli-usage.js'
import { printFailure, type GlobalArgs } from './common.js'
import { checkNumberBounds, numberFlag } from './bounds.js'
import { manifest } from './manifest.js'
import { planCommand } from './plan.js'
import { applyCommand } from './apply.js'
import { installCommand } from './install.js'
import { artifactsCommand } from './artifacts.js'
import { doctorCommand } from './doctor.js'
import { upgradeCommand } from './upgrade.js'
import { rollbackCommand } from './rollback.js'
import { releasesCommand } from './releases.js'
import { pruneCommand } from './prune.js'
import { historyCommand } from './history.js'
import { launchGateCommand } from './launch-gate.js'
import { backupCommand } from './backup.js'

/** Help is wrapped at a fixed width, so README's generated command reference is the same on every terminal. */
const HELP_WIDTH = 100

/** Flags that may be given more than once (they collect a list). */
const REPEATABLE = new Set(['resolve'])

/** The parts of yargs' internals the usage errors read, and the help cache (not in its type declarations). */
interface YargsInternals {
  getInternalMethods(): { getContext(): { commands: string[]; fullCommands: string[] }; getUsageInstance(): { cacheHelpMessage(): void } }
  getOptions(): { key: Record<string, unknown>; alias: Record<string, string[]>; string: string[]; number: string[]; boolean: string[]; count: string[] }
}
interface UsageInternals {
  getCommands(): [string, ...unknown[]][]
  getDescriptions(): Record<string, string | undefined>
}

function commandPath(y: YargsInternals): string[] {
  return y.getInternalMethods().getContext().commands.filter((c) => c !== '$0')
}

function usageContext(y: YargsInternals, usage: UsageInternals, args: string[]): UsageContext {
  const o = y.getOptions()
  const flags = new Set(Object.keys(o.key))
  for (const [name, aliases] of Object.entries(o.alias)) for (const a of [name, ...aliases]) flags.add(a)
  const descriptions = usage.getDescriptions()
  return {
    commandPath: commandPath(y),
    args,
    flags: [...flags],
    // Every flag but the booleans takes a value (--mode has only `choices`, no type).
    valueFlags: [...flags].filter((f) => !o.boolean.includes(f) && !o.count.includes(f)),
    subcommands: usage.getCommands().map((c) => c[0].split(' ')[0]).filter((c) => c !== '$0'),
    positionals: [...(y.getInternalMethods().getContext().fullCommands.at(-1) ?? '').matchAll(/<([^>]+)>/g)].map((m) => m[1]),
    describe: (flag) => {
      const d = descriptions[flag]
      return d && !d.startsWith('__yargsString__') ? d : undefined
    },
  }
}

/**
 * A single-valued flag given twice, or a value flag given no value, is a usage error (not a silent
 * pick); so is a switch given a value other than true or false (yargs reads `--dry-run=yes` as false).
 */
function singleValues(y: YargsInternals, args: string[]) {
  return (argv: Record<string, unknown>) => {
    const o = y.getOptions()
    const hint = `see ${['nullspace-host', ...commandPath(y), '--help'].join(' ')}`
    const switches = new Set(o.boolean)
    for (const a of args) {
      if (a === '--') break
      const m = /^--(no-)?([^=]+)=(.*)$/s.exec(a)
      if (!m || !switches.has(kebab(m[2])) || m[3] === 'true' || m[3] === 'false') continue
      const name = `--${kebab(m[2])}`
      throw usageError(`${a}: ${name} is a switch; give it alone, as --no-${kebab(m[2])}, or with the value true or false; ${hint}`)
    }
    for (const key of [...o.string, ...o.number]) {
      const value = argv[key]
      if (Array.isArray(value) && !REPEATABLE.has(key)) throw usageError(`--${key} is given more than once (${value.map((v) => JSON.stringify(v)).join(', ')}); give it once`)
      const at = args.findIndex((a) => a === `--${key}` || a.startsWith(`--${key}=`))
      if (at < 0) continue
      const raw = args[at].includes('=') ? args[at].slice(args[at].indexOf('=') + 1) : args[at + 1]
      if (typeof value === 'number' && Number.isNaN(value) && raw !== undefined && raw !== '') throw usageError(`--${key} must be a number, got ${JSON.stringify(raw)}; ${hint}`)
      // yargs hands a flag left without its value the default (`--root` alone would mean /).
      const noValue = !args[at].includes('=') && (raw === undefined || raw.startsWith('--'))
      if (noValue || value === '' || value === undefined || (typeof value === 'number' && Number.isNaN(value))) throw usageError(`--${key} needs a value; ${hint}`)
    }
  }
}

export async function cli(argv: string[]): Promise<void> {
  const y = yargs(argv)
    .scriptName('nullspace-host')
    .usage('$0 <command> [flags]\n\nInstall, verify, upgrade and roll back the nullspace single-host appliance from a release manifest.\n$0 --version prints the version of this tool.')
    .version(false)
    // Our own messages are English: yargs' own words stay English too, and help reads the same everywhere.
    .locale('en')
    .option('root', { type: 'string', default: process.env.NULLSPACE_ROOT || '/', describe: 'Host root every path is under (env NULLSPACE_ROOT)', global: true })
    .option('json', { type: 'boolean', default: false, describe: 'One JSON document on stdout; no progress', global: true })
    .option('color', { type: 'boolean', default: true, describe: 'Colour on a TTY (--no-color, NO_COLOR, FORCE_COLOR)', global: true })
    .option('quiet', { type: 'boolean', default: false, describe: 'Only warnings and errors; no progress', global: true })
    .option('lock-timeout', numberFlag('lock-timeout', { default: 0, describe: 'Seconds to wait for the host lock', global: true }))
    .option('allow-http', { type: 'boolean', default: false, describe: 'Accept http: artifact URLs', global: true })
    .option('allow-expired', { type: 'boolean', default: false, describe: 'Accept a manifest past its expires_at', global: true })
    .option('stall-timeout', numberFlag('stall-timeout', { default: 30, describe: 'Seconds without a byte before a transfer is retried', global: true }))
    .option('speed-limit', numberFlag('speed-limit', { default: 1024, describe: 'Bytes per second a transfer must average over --speed-time, else it is retried; 0 turns the check off', global: true }))
    .option('speed-time', numberFlag('speed-time', { default: 60, describe: 'Seconds over which --speed-limit is measured', global: true }))
    .option('hook-timeout', numberFlag('hook-timeout', { default: 120, describe: 'Seconds a post-switch hook may run', global: true }))
    .group(['root', 'json', 'color', 'quiet', 'lock-timeout', 'allow-http', 'allow-expired', 'stall-timeout', 'speed-limit', 'speed-time', 'hook-timeout', 'help'], 'Global flags:')
    .command(manifest)
    .command(planCommand)
    .command(applyCommand)
    .command(installCommand)
    .command(artifactsCommand)
    .command(doctorCommand)
    .command(upgradeCommand)
    .command(rollbackCommand)
    .command(releasesCommand)
    .command(pruneCommand)
    .command(historyCommand)
    .command(launchGateCommand)
    .command(backupCommand)
    .completion('completion', 'Print the bash or zsh completion script (the shell is read from $SHELL)')
    .middleware((a) => {
      singleValues(internals, argv)(a)
      checkNumberBounds(a)
    })
    .demandCommand(1, 'name a command; see nullspace-host --help')
    .recommendCommands()
    .strict()
    .help()
    .alias('help', 'h')
    .wrap(HELP_WIDTH)
    .fail((msg, err, usage) => {
      if (err) {
        process.exit(printFailure(err instanceof Error && err.name === 'YError' ? usageError(err.message.split('\n')[0]) : err))
      }
      const line = usageMessage(msg ?? '', usageContext(internals, usage as unknown as UsageInternals, argv))
      process.stderr.write(`nullspace-host: ${line}\n`)
      process.exit(EXIT.usage)
    })
  const internals = y as unknown as YargsInternals
  // yargs renders the command's whole help each time it starts a command's handler, to keep it for a
  // showHelp() after the parse. Nothing here shows help once a handler runs (failures are one line),
  // and that render (cliui and string-width over every line) is tens of ms of every command's start.
  internals.getInternalMethods().getUsageInstance().cacheHelpMessage = () => {}
  try {
    await y.parseAsync()
  } catch (e) {
    // A middleware's usage error, or anything a builder throws: one line, never a stack.
    process.exitCode = printFailure(e)
  }
}
