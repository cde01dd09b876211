import fs, { type FileHandle } from 'node:fs/promises'
import { createHash } from 'node:crypto'

/** Large reads keep the hash, not the syscalls, the bottleneck. */
export const READ_CHUNK = 1024 * 1024

export interface FileDigest {
  readonly sha256: string
  readonly size: number
}

export interface ReadAheadOptions {
  /** The file offset of the first byte (default 0). */
  readonly from?: number
  /** Bytes to read at most (default: to the end of the file). */
  readonly limit?: number
  /** Two READ_CHUNK buffers to reuse (a caller reading many ranges of files), else two new ones. */
  readonly buffers?: readonly [Buffer, Buffer]
}

const NO_MORE = Promise.resolve({ bytesRead: 0 })

/**
 * A file's bytes in READ_CHUNK blocks through two reused buffers, the next read in flight while
 * the caller works on the last block: no allocation per block (the GC cost a read stream has)
 * and the disk works while the caller hashes or writes. A block is valid only until the next is
 * asked for. Ends at the end of the file or after `limit` bytes, whichever comes first.
 */
export async function* readAhead(fh: FileHandle, o: ReadAheadOptions = {}): AsyncGenerator<Buffer> {
  const bufs = o.buffers ?? [Buffer.allocUnsafe(READ_CHUNK), Buffer.allocUnsafe(READ_CHUNK)]
  const from = o.from ?? 0
  const limit = o.limit ?? Infinity
  let done = 0
  const readInto = (buf: Buffer) => (done < limit ? fh.read(buf, 0, Math.min(buf.length, limit - done), from + done) : NO_MORE)
  let next = readInto(bufs[0])
  try {
    for (let i = 0; ; i ^= 1) {
      const { bytesRead } = await next
      if (bytesRead === 0) return
      done += bytesRead
      next = readInto(bufs[i ^ 1])
      yield bufs[i].subarray(0, bytesRead)
    }
  } finally {
    // A caller that stops early leaves one read in flight: let it end before the file is closed.
    await next.catch(() => undefined)
  }
}

/** sha256 of a file, never more than two blocks in memory (readAhead). `onBytes` reports progress. */
export async function hashFile(file: string, onBytes?: (n: number) => void): Promise<FileDigest> {
  const fh = await fs.open(file, 'r')
  try {
    const hash = createHash('sha256')
    let size = 0
    for await (const block of readAhead(fh)) {
      size += block.length
      hash.update(block)
      onBytes?.(block.length)
    }
    return { sha256: hash.digest('hex'), size }
  } finally {
    await fh.close()
  }
}
