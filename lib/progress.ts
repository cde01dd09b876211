// Progress for the long work (fetching artifacts, rehashing them for doctor --deep): one bar
// per component and one overall bar, with bytes, rate and ETA, drawn by cli-progress on
// stderr. Callers make a display only when Output.progress allows it (stderr is a TTY, no
// --json, no --quiet); nothing here decides that.
import cliProgress from 'cli-progress'
import { formatBytes } from './bytes.js'

/** "4s", "1m05s", "2h03m"; "--" while there is no rate to estimate from. */
export function formatEta(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--'
  const s = Math.ceil(seconds)
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
}

export interface LineInput {
  readonly label: string
  readonly labelWidth: number
  /** Bytes done so far, including any a resumed transfer already had. */
  readonly value: number
  readonly total: number
  /** Bytes that were done before this run started (a resumed part): not counted in the rate. */
  readonly base: number
  readonly elapsedMs: number
  /** The terminal's width: the bar takes what the numbers leave, within 10..30 columns. */
  readonly width: number
}

/** One progress line: `  rootfs   [=====>----]  52%  12.0 MiB/23.1 MiB  4.1 MiB/s  ETA 3s`. */
export function progressLine(i: LineInput): string {
  const total = Math.max(i.total, 0)
  const value = Math.min(Math.max(i.value, 0), total)
  const fraction = total === 0 ? 1 : value / total
  const counted = Math.max(value - i.base, 0)
  const rate = i.elapsedMs > 0 ? (counted * 1000) / i.elapsedMs : 0
  const eta = value >= total ? 0 : rate > 0 ? (total - value) / rate : Number.NaN
  const pct = `${Math.floor(fraction * 100)}%`.padStart(4)
  const numbers = `${pct}  ${formatBytes(value)}/${formatBytes(total)}  ${formatBytes(Math.round(rate))}/s  ETA ${formatEta(eta)}`
  const head = `  ${i.label.padEnd(i.labelWidth)} `
  const barWidth = Math.max(10, Math.min(30, i.width - head.length - numbers.length - 4))
  const filled = Math.floor(fraction * barWidth)
  const bar = filled >= barWidth ? '='.repeat(barWidth) : `${'='.repeat(Math.max(filled - 1, 0))}${filled > 0 ? '>' : ''}${'-'.repeat(barWidth - filled)}`
  return `${head}[${bar}] ${numbers}`
}

interface Payload {
  label: string
  base: number
}

interface Tracked {
  readonly bar: cliProgress.SingleBar
  value: number
  total: number
}

const live = new Set<ProgressDisplay>()

/** Stops every display still drawing (before an error line is printed, or at the end of a command). */
export function stopAllProgress(): void {
  for (const d of [...live]) d.stop()
}

// Ctrl-C or a TERM while bars are drawn: give the terminal back (cursor, line wrapping), then die
// of the same signal as without bars. (cli-progress's own `gracefulExit` stops the bars but
// leaves the process running, which would turn Ctrl-C into "hide the progress".)
const SIGNALS = ['SIGINT', 'SIGTERM'] as const
function onSignal(signal: NodeJS.Signals): void {
  stopAllProgress()
  process.kill(process.pid, signal)
}
function watchSignals(on: boolean): void {
  for (const sig of SIGNALS) {
    if (on) process.once(sig, onSignal)
    else process.removeListener(sig, onSignal)
  }
}

/** A set of bars on one stream: `begin` the job, `start` each item, feed `bytes`, then `stop`. */
export class ProgressDisplay {
  private readonly multibar: cliProgress.MultiBar
  private readonly items = new Map<string, Tracked>()
  private overall: Tracked | null = null
  private labelWidth = 7
  private stopped = false
  /** Whether any bar was drawn: a display that never drew leaves the terminal alone. */
  private drawn = false

  /** `onStop` runs once the bars are gone (whoever stops them): output held back meanwhile can follow. */
  constructor(
    private readonly stream: NodeJS.WriteStream,
    private readonly overallLabel: string,
    private readonly onStop: () => void = () => {},
  ) {
    this.multibar = new cliProgress.MultiBar({
      stream: this.stream,
      format: (_options, params, payload: Payload) =>
        progressLine({
          label: payload.label,
          labelWidth: this.labelWidth,
          value: params.value,
          total: params.total,
          base: payload.base,
          elapsedMs: (params.stopTime ?? Date.now()) - params.startTime,
          width: params.maxWidth,
        }),
      hideCursor: true,
      clearOnComplete: false,
      stopOnComplete: false,
      linewrap: false,
      fps: 10,
      gracefulExit: false,
    })
    this.labelWidth = Math.max(this.labelWidth, overallLabel.length)
    if (live.size === 0) watchSignals(true)
    live.add(this)
  }

  /** The whole job: `names` sizes the label column, `totalBytes` is the overall bar's end. */
  begin(names: readonly string[], totalBytes: number): void {
    if (this.stopped) return
    this.labelWidth = Math.max(this.labelWidth, ...names.map((n) => n.length))
    if (this.overall) return
    const payload: Payload = { label: this.overallLabel, base: 0 }
    this.overall = { bar: this.create(totalBytes, 0, payload), value: 0, total: totalBytes }
  }

  /** An item starts: `from` bytes are already done (a resumed download). */
  start(name: string, size: number, from = 0): void {
    if (this.stopped) return
    const existing = this.items.get(name)
    if (existing) {
      existing.value = from
      existing.bar.update(from)
      return
    }
    this.labelWidth = Math.max(this.labelWidth, name.length)
    const payload: Payload = { label: name, base: from }
    this.items.set(name, { bar: this.create(size, from, payload), value: from, total: size })
  }

  private create(total: number, value: number, payload: Payload): cliProgress.SingleBar {
    this.drawn = true
    return this.multibar.create(total, value, payload)
  }

  bytes(name: string, n: number): void {
    if (this.stopped) return
    const item = this.items.get(name)
    if (item) {
      item.value = Math.min(item.value + n, item.total)
      item.bar.update(item.value)
      // A finished item leaves the screen (its step line follows): the display stays a few lines
      // high however many components a release has, and fits any terminal.
      if (item.value >= item.total) this.finish(name)
    }
    if (this.overall) {
      this.overall.value += n
      if (this.overall.value > this.overall.total) {
        // More bytes than planned (a transfer started over): grow the total rather than overflow.
        this.overall.total = this.overall.value
        this.overall.bar.setTotal(this.overall.total)
      }
      this.overall.bar.update(this.overall.value)
    }
  }

  /** An item is done: its bar is taken off the display. */
  finish(name: string): void {
    const item = this.items.get(name)
    if (!item || this.stopped) return
    this.items.delete(name)
    this.multibar.remove(item.bar)
  }

  /** A line above the bars (a warning), without tearing them. */
  log(text: string): void {
    if (this.stopped || !this.drawn) {
      this.stream.write(text)
      return
    }
    this.multibar.log(text)
    this.multibar.update() // draws it now: a stop before the next frame would drop it
  }

  /** Draws the final state once and releases the terminal (cursor, line wrapping). Idempotent. */
  stop(): void {
    if (this.stopped) return
    this.stopped = true
    live.delete(this)
    if (live.size === 0) watchSignals(false)
    if (this.drawn) this.multibar.stop()
    this.onStop()
  }
}
