// Content-defined chunking (format 2 of the chunk index, schemas/chunk-index.md): FastCDC's
// gear hash with normalized chunking, so an insertion or deletion disturbs only the chunk it
// falls in and the next cut resynchronises; plus one rule for block images: a run of at least
// ZERO_RUN zero bytes followed by a non-zero byte is a cut. Filesystem and archive images pad
// every file to a block with zeros, so that rule cuts where a file's data starts: a file that
// an image moves by whole blocks keeps its chunks (issue 9's `mkfs.ext4 -d` case), which plain
// gear cuts, blind to alignment, would lose at every file boundary.
import { createHash } from 'node:crypto'

export interface CdcParams {
  /** No cut before this many bytes (but the file's end). */
  readonly min: number
  /** The target average; a power of two. */
  readonly avg: number
  /** A cut at this many bytes whatever the content. */
  readonly max: number
}

/** What `manifest build` writes: 2-8-64 KiB cuts around a 16 KiB average (BENCHMARKS.md). */
export const DEFAULT_CDC: CdcParams = { min: 4096, avg: 16384, max: 65536 }

/** The zero run that marks the start of a block-aligned file's data. */
export const ZERO_RUN = 32

/**
 * The gear table: 256 pseudo-random 32-bit words, the first four bytes of sha256("nullspace
 * gear N") for N = 0..255. Part of the format: another table cuts elsewhere.
 */
const GEAR = (() => {
  const g = new Int32Array(256)
  for (let i = 0; i < 256; i++) g[i] = createHash('sha256').update(`nullspace gear ${i}`).digest().readInt32LE(0)
  return g
})()

const log2 = (n: number) => Math.round(Math.log2(n))
/** Normalized chunking (FastCDC level 2): a stricter mask before the average, a looser one after. */
const topMask = (bits: number) => (bits >= 32 ? -1 : ~((1 << (32 - bits)) - 1)) | 0

export function validCdc(p: CdcParams): boolean {
  return Number.isInteger(p.min) && Number.isInteger(p.avg) && Number.isInteger(p.max) && p.min >= 64 && 2 ** log2(p.avg) === p.avg && p.min < p.avg && p.avg < p.max && p.max <= 65536
}

/** The gear hash after ZERO_RUN zero bytes: a 32-bit gear hash sees exactly the last 32 bytes. */
const ZERO_HASH = (() => {
  let h = 0
  for (let i = 0; i < ZERO_RUN; i++) h = ((h << 1) + GEAR[0]) | 0
  return h
})()

/**
 * Finds cut points in a stream fed in pieces. State (the gear hash, the bytes since the last
 * cut) carries over between pieces, so the cuts do not depend on how the stream was split.
 * FastCDC's cut-point skipping: the first min - 32 bytes of a chunk are not hashed (no cut can
 * fall there), then 32 bytes fill the gear's window, then every byte may cut.
 */
export class Chunker {
  private h = 0
  private len = 0
  private readonly maskS: number
  private readonly maskL: number

  constructor(private readonly p: CdcParams) {
    const bits = log2(p.avg)
    this.maskS = topMask(bits + 2)
    this.maskL = topMask(bits - 2)
  }

  /** Appends to `out` the lengths of the chunks that end inside `buf` (the first may have begun in an earlier piece). */
  push(buf: Uint8Array, out: number[]): void {
    const { min, avg, max } = this.p
    const n = buf.length
    let h = this.h
    // Where the current chunk starts, relative to buf (negative: in an earlier piece).
    let base = -this.len
    let i = 0
    while (i < n) {
      const len = i - base
      if (len < min - ZERO_RUN) {
        i = Math.min(n, base + min - ZERO_RUN)
        h = 0
        continue
      }
      if (len < min) {
        // These bytes fill the gear's window for the first position that may cut.
        const stop = Math.min(n, base + min)
        for (; i < stop; i++) h = ((h << 1) + GEAR[buf[i]]) | 0
        continue
      }
      const small = len < avg
      const mask = small ? this.maskS : this.maskL
      const stop = Math.min(n, base + (small ? avg : max))
      let cut = -1
      for (; i < stop; i++) {
        const b = buf[i]
        // A zero run, then data: cut before the data.
        if (h === ZERO_HASH && b !== 0) {
          cut = i
          break
        }
        h = ((h << 1) + GEAR[b]) | 0
        if ((h & mask) === 0) {
          cut = i + 1
          break
        }
      }
      if (cut < 0) {
        if (i !== base + max) continue // the average passed (looser mask from here) or the piece ended
        cut = i
      }
      out.push(cut - base)
      base = cut
      i = cut
      h = 0
    }
    this.h = h
    this.len = n - base
  }

  /** The length of the last chunk (0 when the stream ended on a cut). */
  end(): number {
    const last = this.len
    this.len = 0
    this.h = 0
    return last
  }
}
