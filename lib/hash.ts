import fs, { type FileHandle } from 'node:fs/promises'
import { createHash } from 'node:crypto'

/** Large reads keep the hash, not the syscalls, the bottleneck. */
export const READ_CHUNK = 1024 * 1024

export interface FileDigest {
  readonly sha256: string
  readonly size: number
}

/**
 * A file's bytes in READ_CHUNK blocks through two reused buffers, the next read in flight while
 * the caller works on the last block: no allocation per block (the GC cost a read stream has)
 * and the disk works while the caller hashes. A block is valid only until the next is asked for.
 */
export async function* readAhead(fh: FileHandle): AsyncGenerator<Buffer> {
  const bufs = [Buffer.allocUnsafe(READ_CHUNK), Buffer.allocUnsafe(READ_CHUNK)] as const
  let size = 0
  let next = fh.read(bufs[0], 0, READ_CHUNK, 0)
  try {
    for (let i = 0; ; i ^= 1) {
      const { bytesRead } = await next
      if (bytesRead === 0) return
      size += bytesRead
      next = fh.read(bufs[i ^ 1], 0, READ_CHUNK, size)
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
