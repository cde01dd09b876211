// Hashes a file whole and chunk by chunk in one read.
import { createReadStream } from 'node:fs'
import { createHash } from 'node:crypto'
import { READ_CHUNK } from '../hash.js'
import { type ChunkIndex, HASH_LEN, chunkHash } from './format.js'

export async function indexFile(file: string, chunkSize: number): Promise<ChunkIndex> {
  const whole = createHash('sha256')
  const hashes: Buffer[] = []
  let size = 0
  let carry = Buffer.alloc(0)
  const readSize = Math.max(READ_CHUNK - (READ_CHUNK % chunkSize), chunkSize)
  for await (const data of createReadStream(file, { highWaterMark: readSize })) {
    const buf = data as Buffer
    whole.update(buf)
    size += buf.length
    let block = carry.length ? Buffer.concat([carry, buf]) : buf
    let at = 0
    for (; at + chunkSize <= block.length; at += chunkSize) hashes.push(chunkHash(block.subarray(at, at + chunkSize)))
    carry = Buffer.from(block.subarray(at))
    block = Buffer.alloc(0)
  }
  if (carry.length) hashes.push(chunkHash(carry))
  const all = Buffer.concat(hashes, hashes.length * HASH_LEN)
  return { chunkSize, size, sha256: whole.digest('hex'), hashes: all }
}
