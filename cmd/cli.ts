// The command line: global flags, the command list, and one-line usage errors (exit 64).
import yargs from 'yargs'
import { usageError } from '../lib/errors.js'
import { kebab, usageMessage, type UsageContext } from '../lib/cli-usage.js'
import { printFailure, setJsonFailures, wantsJson } from './common.js'
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
import { GATE_MODES } from '../lib/launch-gate/checks.js'
import { SERVICE_MANAGERS } from './options.js'
import { backupCommand } from './backup.js'
import { trustCommand } from './trust.js'
import { channelCommand } from './channel.js'

/** The help's group names: the command's own flags come first, the global ones after them. */
const OWN_FLAGS = 'Flags:'
const GLOBAL_FLAGS = 'Global flags:'

/**
 * Help is wrapped to the terminal's width; when stdout is not a terminal, at 80 columns whatever
 * COLUMNS says, so README's generated command reference (scripts/docs.mjs reads --help through a
 * pipe) is the same on every machine.
 */
export function helpWidth(out: { isTTY?: boolean; columns?: number } = process.stdout): number {
  return out.isTTY && out.columns ? Math.max(40, out.columns) : 80
}

/** Flags that may be given more than once (they collect a list). */
const REPEATABLE = new Set(['resolve'])

/** Flags whose value is a file or directory: completion offers nothing, so the shell completes a path (bash -o default, zsh _default). */
const PATH_FLAGS = new Set(['root', 'manifest', 'out', 'output', 'artifact-dir', 'evidence-dir', 'evidence-key', 'ca-file', 'key', 'channel-file'])

/** Flags with a fixed set of values, offered after the flag. */
const VALUE_CHOICES: Record<string, readonly string[]> = { mode: GATE_MODES, 'service-manager': SERVICE_MANAGERS }

type CompletionFilter = (onCompleted?: (err: Error | null, completions: string[] | undefined) => void) => void

/**
 * Completion answers: a path flag's value is the shell's (file names), a choice flag's value one of
 * its choices; everything else is yargs' own answer without the `$0` of a default subcommand.
 * `words` are the words after `--get-yargs-completions`: the program, then what was typed.
 */
function completer(words: readonly string[]) {
  return (current: string, _argv: unknown, defaults: CompletionFilter, done: (completions: string[]) => void): void => {
    const previous = words.length >= 2 ? words[words.length - 2] : ''
    const flag = /^--([a-z][a-z-]*)$/.exec(previous)?.[1]
    if (flag && PATH_FLAGS.has(flag)) return done([])
    if (flag && VALUE_CHOICES[flag]) return done(VALUE_CHOICES[flag].filter((c) => c.startsWith(current)))
    defaults((err, completions) => done(err ? [] : (completions ?? []).filter((c) => c !== '$0')))
  }
}

/** The parts of yargs' internals the usage errors read, and the help cache (not in its type declarations). */
interface YargsInternals {
  getInternalMethods(): { getContext(): { commands: string[]; fullCommands: string[] }; getUsageInstance(): { cacheHelpMessage(): void } }
  getGroups(): Record<string, string[]>
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

export async function cli(words: string[]): Promise<void> {
  // `help install` is `install --help` (and `help` alone, `--help`).
  const argv = words[0] === 'help' ? [...words.slice(1), '--help'] : words
  setJsonFailures(wantsJson(argv))
  const y = yargs(argv)
    .scriptName('nullspace-host')
    .usage('$0 <command> [flags]\n\nInstall, verify, upgrade and roll back the nullspace single-host appliance from a release manifest.\n$0 --version prints the version of this tool; $0 help <command> is $0 <command> --help.')
    .version(false)
    // Our own messages are English: yargs' own words stay English too, and help reads the same everywhere.
    .locale('en')
    .option('root', { type: 'string', default: process.env.NULLSPACE_ROOT || '/', describe: 'Host root every path is under (env NULLSPACE_ROOT)', global: true })
    .option('json', { type: 'boolean', default: false, describe: 'One JSON document on stdout; no progress', global: true })
    .option('color', { type: 'boolean', default: true, describe: 'Colour on a TTY (--no-color, NO_COLOR, FORCE_COLOR)', global: true })
    .option('quiet', { type: 'boolean', default: false, describe: 'Only warnings and errors; no progress', global: true })
    .option('lock-timeout', numberFlag('lock-timeout', { default: 0, describe: 'Seconds to wait for the host lock', global: true }))
    .option('allow-http', { type: 'boolean', default: false, describe: 'Accept http: artifact URLs', global: true })
    .option('allow-expired', { type: 'boolean', default: false, describe: 'Accept a manifest or channel past its expires_at', global: true })
    .option('stall-timeout', numberFlag('stall-timeout', { default: 30, describe: 'Seconds without a byte before a transfer is retried', global: true }))
    .option('speed-limit', numberFlag('speed-limit', { default: 1024, describe: 'Bytes per second a transfer must average over --speed-time, else it is retried; 0 turns the check off', global: true }))
    .option('speed-time', numberFlag('speed-time', { default: 60, describe: 'Seconds over which --speed-limit is measured', global: true }))
    .option('hook-timeout', numberFlag('hook-timeout', { default: 120, describe: 'Seconds a post-switch hook may run', global: true }))
    .group(['root', 'json', 'color', 'quiet', 'lock-timeout', 'allow-http', 'allow-expired', 'stall-timeout', 'speed-limit', 'speed-time', 'hook-timeout', 'help'], GLOBAL_FLAGS)
    .updateStrings({ 'Options:': OWN_FLAGS })
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
    .command(trustCommand)
    .command(channelCommand)
    .completion('completion', 'Print the bash or zsh completion script (the shell is read from $SHELL)', completer(argv.slice(argv.indexOf('--get-yargs-completions') + 1)))
    .middleware((a) => {
      singleValues(internals, argv)(a)
      checkNumberBounds(a)
    })
    .demandCommand(1, 'name a command; see nullspace-host --help')
    .recommendCommands()
    .strict()
    .help()
    .alias('help', 'h')
    .wrap(helpWidth())
    .fail((msg, err, usage) => {
      if (err) {
        process.exit(printFailure(err instanceof Error && err.name === 'YError' ? usageError(err.message.split('\n')[0]) : err))
      }
      const line = usageMessage(msg ?? '', usageContext(internals, usage as unknown as UsageInternals, argv))
      process.exit(printFailure(usageError(line)))
    })
  const internals = y as unknown as YargsInternals
  // yargs renders the command's whole help each time it starts a command's handler, to keep it for a
  // showHelp() after the parse. Nothing here shows help once a handler runs (failures are one line),
  // and that render (cliui and string-width over every line) is tens of ms of every command's start.
  internals.getInternalMethods().getUsageInstance().cacheHelpMessage = () => {}
  // yargs shows the groups in the order they were made: the global one, made first, would lead every
  // command's help. The help reads them with getGroups(): put the command's own flags first.
  const groups = internals.getGroups.bind(internals)
  internals.getGroups = () => {
    const { [GLOBAL_FLAGS]: global, ...own } = groups()
    return { [OWN_FLAGS]: [], ...own, ...(global ? { [GLOBAL_FLAGS]: global } : {}) }
  }
  try {
    await y.parseAsync()
  } catch (e) {
    // A middleware's usage error, or anything a builder throws: one line, never a stack.
    process.exitCode = printFailure(e)
  }
}
