import { createReadStream } from 'node:fs'
import { createHash } from 'node:crypto'

/** Large reads keep the hash, not the syscalls, the bottleneck. */
export const READ_CHUNK = 1024 * 1024

export interface FileDigest {
  readonly sha256: string
  readonly size: number
}

/** Streams a file through sha256; never holds more than one chunk in memory. */
export async function hashFile(file: string): Promise<FileDigest> {
  const hash = createHash('sha256')
  let size = 0
  for await (const chunk of createReadStream(file, { highWaterMark: READ_CHUNK })) {
    hash.update(chunk as Buffer)
    size += (chunk as Buffer).length
  }
  return { sha256: hash.digest('hex'), size }
}
