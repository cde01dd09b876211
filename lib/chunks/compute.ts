// Indexes a file (whole sha256 and every chunk's hash) in one read: `manifest build` for the
// index it publishes, and an upgrade for a sealed file whose kept index cuts by another scheme
// than the new release's (the new index decides how bytes are matched).
import fs from 'node:fs/promises'
import { createHash } from 'node:crypto'
import { readAhead } from '../hash.js'
import { Chunker } from './cdc.js'
import { type ChunkIndex, type ChunkScheme, hashLength, makeIndex } from './format.js'

/** Cut points of a scheme, fed the file in pieces. */
function cutter(scheme: ChunkScheme): { push(buf: Uint8Array, out: number[]): void; end(): number } {
  if (scheme.format === 2) return new Chunker(scheme.cdc)
  let len = 0
  const size = scheme.chunkSize
  return {
    push(buf, out) {
      let left = buf.length
      while (len + left >= size) {
        out.push(size)
        left -= size - len
        len = 0
      }
      len += left
    },
    end() {
      const last = len
      len = 0
      return last
    },
  }
}

export async function indexFile(file: string, scheme: ChunkScheme): Promise<ChunkIndex> {
  const whole = createHash('sha256')
  const hashLen = hashLength(scheme)
  const lengths: number[] = []
  const hashes: Buffer[] = []
  const cuts = cutter(scheme)
  let chunk = createHash('sha256')
  // Bytes of the current chunk already fed to `chunk` from earlier buffers.
  let pending = 0
  const fh = await fs.open(file, 'r')
  try {
    // The next read is in flight while this thread hashes and cuts the last block.
    let size = 0
    const found: number[] = []
    for await (const buf of readAhead(fh)) {
      size += buf.length
      whole.update(buf)
      found.length = 0
      cuts.push(buf, found)
      let at = 0
      for (const len of found) {
        // The first chunk found may have begun in an earlier buffer: `chunk` holds its start.
        const tail = len - pending
        chunk.update(buf.subarray(at, at + tail))
        hashes.push(chunk.digest().subarray(0, hashLen))
        lengths.push(len)
        chunk = createHash('sha256')
        pending = 0
        at += tail
      }
      chunk.update(buf.subarray(at))
      pending += buf.length - at
    }
    const last = cuts.end()
    if (last > 0) {
      hashes.push(chunk.digest().subarray(0, hashLen))
      lengths.push(last)
    }
    return makeIndex(scheme, size, whole.digest('hex'), lengths, Buffer.concat(hashes, hashes.length * hashLen))
  } finally {
    await fh.close()
  }
}
