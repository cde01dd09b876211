// Turns yargs' usage failures ("Unknown argument: manfest", "Did you mean install?", ...) into
// the one line an operator can act on: what was wrong, the likely fix, and which --help to read.
// Pure: cmd/main.ts gathers the context from yargs and prints the result.

export interface UsageContext {
  /** The commands parsed so far, e.g. ['manifest', 'build']; empty at the top level. */
  readonly commandPath: readonly string[]
  /** The raw arguments, as typed. */
  readonly args: readonly string[]
  /** Flags known where the parse stopped (names and aliases, without dashes). */
  readonly flags: readonly string[]
  /** Known flags that take a value (string or number), so the word after them is not a command. */
  readonly valueFlags: readonly string[]
  /** Subcommands offered where the parse stopped. */
  readonly subcommands: readonly string[]
  /** The positionals the command where the parse stopped declares, e.g. ['dir'] for `verify <dir>`. */
  readonly positionals: readonly string[]
  /** A flag's help text, when it has one. */
  readonly describe: (flag: string) => string | undefined
}

const TOOL = 'nullspace-host'

/** Optimal string alignment distance: a swap of two neighbours counts as one edit. */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)))
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1)
    }
  return d[a.length][b.length]
}

/** The candidate closest to `word`, if it is close enough to be what was meant. */
export function closest(word: string, candidates: readonly string[]): string | null {
  let best: string | null = null
  let bestDistance = Infinity
  for (const c of candidates) {
    const dist = editDistance(word, c)
    if (dist < bestDistance) {
      best = c
      bestDistance = dist
    }
  }
  return best !== null && bestDistance <= Math.max(1, Math.min(3, Math.floor(word.length / 3))) ? best : null
}

/** `dryRun` -> `dry-run`: yargs also accepts a flag in camel case. */
export const kebab = (s: string) => s.replace(/[A-Z]/g, (ch) => `-${ch.toLowerCase()}`)

/** `--name`, `--name=value`, `--no-name`, `-x`: the flags typed, as written (with dashes). */
function typedFlags(args: readonly string[]): string[] {
  const out: string[] = []
  for (const a of args) {
    if (a === '--') break
    if (/^--?[^-\d]/.test(a)) out.push(a.split('=')[0])
  }
  return out
}

function isKnown(flag: string, known: ReadonlySet<string>): boolean {
  const name = flag.replace(/^--?/, '')
  return known.has(name) || known.has(kebab(name)) || (name.startsWith('no-') && known.has(name.slice(3)))
}

/** The words that are not flags or flag values: the commands and positionals typed. */
export function positionalWords(ctx: Pick<UsageContext, 'args' | 'valueFlags'>): string[] {
  const takesValue = new Set(ctx.valueFlags)
  const words: string[] = []
  for (let i = 0; i < ctx.args.length; i++) {
    const a = ctx.args[i]
    if (a === '--') break
    if (a.startsWith('-') && a.length > 1) {
      if (!a.includes('=') && takesValue.has(kebab(a.replace(/^--?/, '')))) i++
      continue
    }
    words.push(a)
  }
  return words
}

function helpHint(path: readonly string[]): string {
  return `see ${[TOOL, ...path, '--help'].join(' ')}`
}

function unknownFlagMessage(ctx: UsageContext): string | null {
  const known = new Set(ctx.flags)
  const unknown = typedFlags(ctx.args).filter((f) => !isKnown(f, known))
  if (unknown.length === 0) return null
  const [first] = unknown
  const name = first.replace(/^--?/, '')
  const guess = closest(name, ctx.flags.filter((f) => f.length > 1))
  const more = unknown.length > 1 ? ` (and ${unknown.slice(1).join(', ')})` : ''
  // A dry run of a command that takes a manifest is `plan`: it shows the steps and changes nothing.
  if (kebab(name) === 'dry-run' && known.has('manifest') && ctx.commandPath[0] !== 'plan') {
    const command = ctx.commandPath.join(' ')
    return withHint(`unknown flag ${first}${more}; ${command} has no dry run: ${TOOL} plan --manifest M shows what it would change, and changes nothing`, ctx.commandPath)
  }
  return withHint(`unknown flag ${first}${more}${guess ? `; did you mean --${guess}?` : ''}`, ctx.commandPath)
}

/** `text; see nullspace-host X --help`, or `text? See ...` after a question. */
function withHint(text: string, path: readonly string[]): string {
  return text.endsWith('?') ? `${text} ${helpHint(path).replace(/^s/, 'S')}` : `${text}; ${helpHint(path)}`
}

/** "Path of the release manifest.json" -> "path of the release manifest.json" (but not "ID ..."). */
const lowerFirst = (s: string) => (/^[A-Z][a-z]/.test(s) ? s[0].toLowerCase() + s.slice(1) : s)

function missingMessage(names: readonly string[], ctx: UsageContext, positional = false): string {
  const named = names.map((n) => (positional ? `<${n}>` : `--${n}`))
  const command = ctx.commandPath.join(' ') || TOOL
  // One missing flag is explained by its help text; several are listed, and --help explains them.
  const d = names.length === 1 ? ctx.describe(names[0]) : undefined
  const what = d ? `${named[0]} (${lowerFirst(d.replace(/\.$/, ''))})` : `${named.slice(0, -1).join(', ')}${named.length > 1 ? ' and ' : ''}${named.at(-1)}`
  return withHint(`${command} needs ${what}`, ctx.commandPath)
}

function unknownCommandMessage(word: string, ctx: UsageContext, guess: string | null): string {
  const typed = [...ctx.commandPath, word].join(' ')
  if (guess) return withHint(`unknown command "${typed}"; did you mean ${[...ctx.commandPath, guess].join(' ')}?`, ctx.commandPath)
  const offered = ctx.subcommands.length > 0 ? `; the commands here are ${ctx.subcommands.join(', ')}` : ''
  return withHint(`unknown command "${typed}"${offered}`, ctx.commandPath)
}

/** The one line for a yargs failure message `msg`. */
export function usageMessage(msg: string, ctx: UsageContext): string {
  const first = msg.split('\n')[0].trim()
  const words = positionalWords(ctx)

  // A word where a subcommand belongs that names none: whatever yargs complained about, that is the mistake.
  const next = words[ctx.commandPath.length]
  if (next !== undefined && ctx.subcommands.length > 0 && !ctx.subcommands.includes(next) && !/^Did you mean/.test(first))
    return unknownCommandMessage(next, ctx, closest(next, ctx.subcommands))

  let m = /^Unknown arguments?: (.*)$/.exec(first)
  if (m) {
    const flagLine = unknownFlagMessage(ctx)
    if (flagLine) return flagLine
    const stray = m[1].split(', ')[0]
    if (ctx.subcommands.length > 0 && words.length === ctx.commandPath.length + 1 && words.at(-1) === stray) return unknownCommandMessage(stray, ctx, null)
    if (ctx.commandPath.length === 0) return unknownCommandMessage(stray, ctx, null)
    return withHint(`unexpected argument "${stray}"`, ctx.commandPath)
  }

  m = /^Missing required arguments?: (.*)$/.exec(first)
  if (m) return unknownFlagMessage(ctx) ?? missingMessage(m[1].split(', '), ctx)

  m = /^Did you mean (.*)\?$/.exec(first)
  if (m) {
    const word = words[ctx.commandPath.length] ?? '?'
    return unknownCommandMessage(word, ctx, m[1])
  }

  if (/^Not enough non-option arguments/.test(first)) {
    if (ctx.commandPath.length === 0) return `name a command; ${helpHint([])}`
    if (ctx.subcommands.length === 0 && ctx.positionals.length > 0) return missingMessage(ctx.positionals.slice(words.length - ctx.commandPath.length), ctx, true)
    const which = ctx.subcommands.length > 0 ? `: ${ctx.subcommands.join(', ')}` : ''
    return withHint(`name a ${ctx.commandPath.join(' ')} command${which}`, ctx.commandPath)
  }

  if (/^Invalid values?:/.test(first)) {
    const detail = /Argument: ([^,]+), Given: (.*?), Choices: (.*)$/m.exec(msg)
    if (detail) return withHint(`--${detail[1]} ${detail[2]} is not one of ${detail[3].replace(/"/g, '')}`, ctx.commandPath)
  }

  if (/^Not enough arguments following: (.*)$/.test(first)) {
    const flag = first.replace(/^Not enough arguments following: /, '')
    return withHint(`--${flag} needs a value`, ctx.commandPath)
  }

  // A message of our own (demandCommand) that already points at --help, or anything else.
  return /--help/.test(first) ? first : withHint(first.replace(/[.;]$/, ''), ctx.commandPath)
}
