// When to give up on a transfer: no byte for the stall timeout (a dead server), or fewer bytes
// in a whole speed window than the minimum speed asks for (a server that trickles a byte every
// few seconds and would otherwise hold the transfer for ever). One timer per transfer, re-armed
// for the next deadline, not a timer per socket chunk (tens of thousands per GiB).

/** The slowest transfer kept: fewer than `bytesPerS` on average over a whole `windowMs` is abandoned (as curl's --speed-limit/--speed-time). 0 bytes/s turns the check off. */
export interface MinSpeed {
  readonly bytesPerS: number
  readonly windowMs: number
}

export type Abandoned = 'stall' | 'slow'

export class TransferWatch {
  private readonly ac = new AbortController()
  /** Why the transfer was abandoned; null while it may go on. */
  reason: Abandoned | null = null
  private lastByteAt = Date.now()
  private windowStart = Date.now()
  private windowBytes = 0
  private timer: NodeJS.Timeout

  constructor(
    private readonly stallMs: number,
    private readonly speed: MinSpeed,
  ) {
    this.timer = setTimeout(() => this.check(), this.nextDue() - Date.now())
  }

  /** Aborts when the transfer is abandoned: hand it to the request. */
  get signal(): AbortSignal {
    return this.ac.signal
  }

  /** `n` more bytes arrived. */
  bytes(n: number): void {
    this.lastByteAt = Date.now()
    this.windowBytes += n
  }

  /** The transfer is over: no more checks, and whatever is left of its request is torn down. */
  stop(): void {
    clearTimeout(this.timer)
    this.ac.abort()
  }

  /** The one line saying why, for `what` (e.g. "kernel: https://..."). */
  describe(what: string): string {
    return this.reason === 'slow'
      ? `${what} sent fewer than ${this.speed.bytesPerS} bytes/s over ${this.speed.windowMs / 1000} s (--speed-limit, --speed-time)`
      : `no byte from ${what} for ${this.stallMs / 1000} s (--stall-timeout)`
  }

  private watchesSpeed(): boolean {
    return this.speed.bytesPerS > 0
  }

  private nextDue(): number {
    const stallDue = this.lastByteAt + this.stallMs
    return this.watchesSpeed() ? Math.min(stallDue, this.windowStart + this.speed.windowMs) : stallDue
  }

  private check(): void {
    const now = Date.now()
    if (now - this.lastByteAt >= this.stallMs) return this.abandon('stall')
    if (this.watchesSpeed() && now - this.windowStart >= this.speed.windowMs) {
      if (this.windowBytes < (this.speed.bytesPerS * this.speed.windowMs) / 1000) return this.abandon('slow')
      this.windowStart = now
      this.windowBytes = 0
    }
    this.timer = setTimeout(() => this.check(), Math.max(1, this.nextDue() - now))
  }

  private abandon(reason: Abandoned): void {
    this.reason = reason
    this.ac.abort()
  }
}
