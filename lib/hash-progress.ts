// hashFile with a byte callback, for progress while doctor --deep rehashes large artifacts.
// (lib/hash.ts's hashFile could take the callback itself; until then this is its twin.)
import { createReadStream } from 'node:fs'
import { createHash } from 'node:crypto'
import { READ_CHUNK, type FileDigest } from './hash.js'

/** Streams a file through sha256, calling `onBytes` with each chunk's length. */
export async function hashFileReporting(file: string, onBytes: (n: number) => void): Promise<FileDigest> {
  const hash = createHash('sha256')
  let size = 0
  for await (const chunk of createReadStream(file, { highWaterMark: READ_CHUNK })) {
    hash.update(chunk as Buffer)
    size += (chunk as Buffer).length
    onBytes((chunk as Buffer).length)
  }
  return { sha256: hash.digest('hex'), size }
}
