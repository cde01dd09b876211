// The terminal reporter of the commands that change a host: step lines on stdout, progress
// bars on stderr when a TTY may be drawn on, still-waiting notices, and the interrupted line.
import type { Output } from '../lib/output.js'
import type { Reporter } from '../lib/exec/executor.js'
import type { HashProgress } from '../lib/doctor.js'
import type { ProgressDisplay } from '../lib/progress.js'
import { hasArtifact } from '../lib/plan/artifact.js'

type Progress = typeof import('../lib/progress.js')

/** The bars (lib/progress.js, cli-progress), loaded by the first command that may draw them: most runs never do. */
let progress: Progress | undefined

/** The bars when `out` may draw them (Output.progress), else undefined. */
async function progressFor(out: Output): Promise<Progress | undefined> {
  if (!out.progress) return undefined
  progress ??= await import('../lib/progress.js')
  return progress
}

/** Stops every display still drawing; none can be when the bars were never loaded. */
export function stopAllProgress(): void {
  progress?.stopAllProgress()
}

/** Steps that obtain an artifact (fetch, link, adopt, repair, ...): the executor reports their bytes as they arrive. */
const transfers = hasArtifact

/**
 * The human reporter: each step as it finishes on stdout and, when a TTY may be drawn on
 * (Output.progress), bars for the transfers on stderr. While the bars draw on a terminal that
 * stdout shares, step lines wait and follow the bars, so neither tears the other.
 */
export async function stepReporter(out: Output): Promise<Reporter> {
  const bars = await progressFor(out)
  let display: ProgressDisplay | null = null
  const sizes = new Map<string, { size: number; from: number }>()
  const waiting: string[] = []
  let lastTransfer: string | null = null

  const flush = () => {
    for (const text of waiting.splice(0)) out.line(text)
  }
  const finish = () => {
    display?.stop() // flushes through onStop, also when a failure stops every display
    display = null
    flush()
  }
  const say = (text: string) => {
    if (display && process.stdout.isTTY) waiting.push(text)
    else out.line(text)
  }
  return {
    begin: (plan) => {
      finish()
      sizes.clear()
      const moving = plan.steps.filter(transfers)
      lastTransfer = moving.at(-1)?.id ?? null
      // A bar starts at what is already there: a resumed part, or the chunks a delta reuses.
      for (const s of moving) if (s.action !== 'link') sizes.set(s.artifact.component, { size: s.artifact.size, from: s.bytes > 0 ? s.artifact.size - s.bytes : 0 })
      const total = moving.reduce((n, s) => n + s.bytes, 0)
      if (!bars || total === 0) return
      display = new bars.ProgressDisplay(process.stderr, 'total', () => {
        display = null
        flush()
      })
      display.begin([...sizes.keys()], total)
    },
    step: (step, phase, detail) => {
      if (phase === 'start') {
        if (!display) return
        if (!transfers(step)) finish()
        else if (step.bytes > 0) {
          const known = sizes.get(step.artifact.component)
          if (known) display.start(step.artifact.component, known.size, known.from)
          sizes.delete(step.artifact.component)
        }
        return
      }
      say(`  ${out.c.green('done')} ${step.id}${detail ? out.c.dim(`  ${detail}`) : ''}`)
      if (step.id === lastTransfer) finish()
    },
    bytes: (component, n) => {
      if (!display) return
      const known = sizes.get(component)
      // adopt and repair fetch only when the local copy fails its hash: their bar starts at the first byte.
      if (known) {
        display.start(component, known.size, known.from)
        sizes.delete(component)
      }
      display.bytes(component, n)
    },
    warn: (text) => {
      if (display) display.log(`nullspace-host: warning: ${text}\n`)
      else out.warn(text)
    },
    // Waits are told on stderr (stdout stays the step lines, or the --json document), indented as
    // the step lines are: a `nullspace-host:` line is an error or a warning. --quiet drops them.
    waiting: (text) => {
      if (out.quiet) return
      if (display) display.log(`  ${text}\n`)
      else process.stderr.write(`  ${text}\n`)
    },
    interrupted: (text) => {
      finish()
      process.stderr.write(`nullspace-host: ${text}\n`)
    },
  }
}

/** Bars for `doctor --deep` while it rehashes every installed byte; undefined when no TTY may be drawn on. */
export async function hashProgress(out: Output): Promise<HashProgress | undefined> {
  const bars = await progressFor(out)
  if (!bars) return undefined
  let display: ProgressDisplay | null = null
  const sizes = new Map<string, number>()
  return {
    begin: (files) => {
      for (const f of files) sizes.set(f.name, f.size)
      const total = files.reduce((n, f) => n + f.size, 0)
      if (total === 0) return
      display = new bars.ProgressDisplay(process.stderr, 'total')
      display.begin([...sizes.keys()], total)
    },
    bytes: (name, n) => {
      const size = sizes.get(name)
      if (size !== undefined) {
        display?.start(name, size)
        sizes.delete(name)
      }
      display?.bytes(name, n)
    },
    end: () => {
      display?.stop()
      display = null
    },
  }
}
