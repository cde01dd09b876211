// The chunk index of a large artifact (schemas/chunk-index.md): the artifact cut into
// fixed-size chunks, each named by the first 16 bytes of its sha256. Binary and versioned:
//   "NSCHUNK1"            8 bytes magic
//   version               u32 LE (1)
//   chunk_size            u32 LE
//   artifact size         u64 LE
//   artifact sha256       32 bytes
//   hash length           u32 LE (16)
//   chunk hashes          hash length bytes each, in file order (the last chunk may be short)
// Chunk hashes only find reusable bytes; the whole-file sha256 still decides, so 128 bits
// are plenty and keep a 2 GiB image's index at 8 MiB.
import { createHash } from 'node:crypto'

export const MAGIC = Buffer.from('NSCHUNK1')
export const FORMAT_VERSION = 1
export const HASH_LEN = 16
const HEADER = 8 + 4 + 4 + 8 + 32 + 4

/** ext4 images move file data in 4 KiB blocks: a larger chunk misses most shifted data (see BENCHMARKS.md). */
export const DEFAULT_CHUNK_SIZE = 4096
/**
 * The largest chunk a manifest or an index may declare: a fetched chunk is held in memory
 * until it is checked, and larger chunks reuse nothing that 4 KiB chunks would miss.
 */
export const MAX_CHUNK_SIZE = 16 * 1024 * 1024
/** Artifacts this large or larger get an index. */
export const INDEX_THRESHOLD = 16 * 1024 * 1024

export interface ChunkIndex {
  readonly chunkSize: number
  readonly size: number
  readonly sha256: string
  /** HASH_LEN bytes per chunk. */
  readonly hashes: Buffer
}

export const chunkCount = (ix: Pick<ChunkIndex, 'size' | 'chunkSize'>) => Math.ceil(ix.size / ix.chunkSize)
export const chunkHash = (data: Buffer) => createHash('sha256').update(data).digest().subarray(0, HASH_LEN)
export const chunkKey = (ix: ChunkIndex, i: number) => ix.hashes.toString('hex', i * HASH_LEN, (i + 1) * HASH_LEN)

export function encodeIndex(ix: ChunkIndex): Buffer {
  const head = Buffer.alloc(HEADER)
  MAGIC.copy(head, 0)
  head.writeUInt32LE(FORMAT_VERSION, 8)
  head.writeUInt32LE(ix.chunkSize, 12)
  head.writeBigUInt64LE(BigInt(ix.size), 16)
  Buffer.from(ix.sha256, 'hex').copy(head, 24)
  head.writeUInt32LE(HASH_LEN, 56)
  return Buffer.concat([head, ix.hashes])
}

/** Decodes and checks an index; the reason names what is wrong. */
export function decodeIndex(buf: Buffer): ChunkIndex | string {
  if (buf.length < HEADER || !buf.subarray(0, 8).equals(MAGIC)) return 'not a chunk index (bad magic)'
  const version = buf.readUInt32LE(8)
  if (version !== FORMAT_VERSION) return `chunk index version ${version} is not supported`
  const chunkSize = buf.readUInt32LE(12)
  const size = Number(buf.readBigUInt64LE(16))
  const hashLen = buf.readUInt32LE(56)
  if (chunkSize < 512 || hashLen !== HASH_LEN || !Number.isSafeInteger(size)) return 'chunk index header is malformed'
  if (chunkSize > MAX_CHUNK_SIZE) return `chunk index chunk size ${chunkSize} is over the ${MAX_CHUNK_SIZE}-byte maximum`
  const ix = { chunkSize, size, sha256: buf.toString('hex', 24, 56), hashes: buf.subarray(HEADER) }
  if (ix.hashes.length !== chunkCount(ix) * HASH_LEN) return 'chunk index length does not match its artifact size'
  return ix
}
