import fs from 'node:fs/promises'
import { createHash } from 'node:crypto'

/** Large reads keep the hash, not the syscalls, the bottleneck. */
export const READ_CHUNK = 1024 * 1024

export interface FileDigest {
  readonly sha256: string
  readonly size: number
}

/**
 * sha256 of a file, never more than two chunks in memory. Two reused buffers with the next
 * read in flight while this thread hashes the last one: no allocation per chunk (the GC cost
 * a read stream has) and the disk works while the hash does. `onBytes` reports progress.
 */
export async function hashFile(file: string, onBytes?: (n: number) => void): Promise<FileDigest> {
  const fh = await fs.open(file, 'r')
  try {
    const hash = createHash('sha256')
    const bufs = [Buffer.allocUnsafe(READ_CHUNK), Buffer.allocUnsafe(READ_CHUNK)]
    let size = 0
    let next = fh.read(bufs[0], 0, READ_CHUNK, 0)
    for (let i = 0; ; i ^= 1) {
      const { bytesRead } = await next
      if (bytesRead === 0) break
      const chunk = bufs[i].subarray(0, bytesRead)
      size += bytesRead
      next = fh.read(bufs[i ^ 1], 0, READ_CHUNK, size)
      hash.update(chunk)
      onBytes?.(bytesRead)
    }
    return { sha256: hash.digest('hex'), size }
  } finally {
    await fh.close()
  }
}
