// The chunk index of a large artifact (schemas/chunk-index.md): the artifact cut into chunks,
// each named by the first bytes of its sha256. Binary and versioned; both versions share the
// magic and the version field, so a reader tells them apart (and an older reader refuses a
// newer index by its version and falls back to a full download):
//   format 1: fixed-size chunks, 16-byte hashes (what releases built before format 2 carry)
//   format 2: content-defined chunks (cdc.ts), a u16 length and an 8-byte hash each
// Chunk hashes only find reusable bytes; the whole-file sha256 still decides.
import { createHash } from 'node:crypto'
import { type CdcParams, validCdc } from './cdc.js'

export const MAGIC = Buffer.from('NSCHUNK1')
const HEADER_1 = 8 + 4 + 4 + 8 + 32 + 4
const HEADER_2 = 8 + 4 + 4 + 4 + 4 + 8 + 32 + 4 + 4

/** Format 1's fixed chunk size: the ext4 block. */
export const DEFAULT_CHUNK_SIZE = 4096
/**
 * The largest chunk a manifest or a format-1 index may declare: a fetched chunk is held in
 * memory until it is checked, and larger chunks reuse nothing that 4 KiB chunks would miss.
 */
export const MAX_CHUNK_SIZE = 16 * 1024 * 1024
/** Artifacts this large or larger get an index. */
export const INDEX_THRESHOLD = 16 * 1024 * 1024

/** How an index cuts its artifact; two indexes can share chunks only when their schemes are equal. */
export type ChunkScheme = { readonly format: 1; readonly chunkSize: number } | { readonly format: 2; readonly cdc: CdcParams }

export const schemeKey = (s: ChunkScheme) => (s.format === 1 ? `fixed:${s.chunkSize}` : `cdc:${s.cdc.min}:${s.cdc.avg}:${s.cdc.max}`)
/** The most bytes one chunk of the scheme can hold. */
export const maxChunk = (s: ChunkScheme) => (s.format === 1 ? s.chunkSize : s.cdc.max)
/** The number the manifest's `chunk_size` carries: the fixed size, or the average of content-defined chunks. */
export const nominalChunkSize = (s: ChunkScheme) => (s.format === 1 ? s.chunkSize : s.cdc.avg)
export const hashLength = (s: ChunkScheme) => (s.format === 1 ? 16 : 8)

export interface ChunkIndex {
  readonly scheme: ChunkScheme
  readonly size: number
  readonly sha256: string
  readonly count: number
  /** hashLength(scheme) bytes per chunk, in file order. */
  readonly hashes: Buffer
  /** Chunk i is bytes [offsets[i], offsets[i + 1]); count + 1 entries. */
  readonly offsets: Float64Array
}

export const chunkHash = (s: ChunkScheme, data: Uint8Array) => createHash('sha256').update(data).digest().subarray(0, hashLength(s))
export const chunkLength = (ix: ChunkIndex, i: number) => ix.offsets[i + 1] - ix.offsets[i]

/** An index from its chunk lengths and hashes. */
export function makeIndex(scheme: ChunkScheme, size: number, sha256: string, lengths: ArrayLike<number>, hashes: Buffer): ChunkIndex {
  const offsets = new Float64Array(lengths.length + 1)
  for (let i = 0; i < lengths.length; i++) offsets[i + 1] = offsets[i] + lengths[i]
  return { scheme, size, sha256, count: lengths.length, hashes, offsets }
}

function fixedLengths(size: number, chunkSize: number): number[] {
  const n = Math.ceil(size / chunkSize)
  return Array.from({ length: n }, (_, i) => Math.min(chunkSize, size - i * chunkSize))
}

export function encodeIndex(ix: ChunkIndex): Buffer {
  const s = ix.scheme
  if (s.format === 1) {
    const head = Buffer.alloc(HEADER_1)
    MAGIC.copy(head, 0)
    head.writeUInt32LE(1, 8)
    head.writeUInt32LE(s.chunkSize, 12)
    head.writeBigUInt64LE(BigInt(ix.size), 16)
    Buffer.from(ix.sha256, 'hex').copy(head, 24)
    head.writeUInt32LE(16, 56)
    return Buffer.concat([head, ix.hashes])
  }
  const head = Buffer.alloc(HEADER_2)
  MAGIC.copy(head, 0)
  head.writeUInt32LE(2, 8)
  head.writeUInt32LE(s.cdc.min, 12)
  head.writeUInt32LE(s.cdc.avg, 16)
  head.writeUInt32LE(s.cdc.max, 20)
  head.writeBigUInt64LE(BigInt(ix.size), 24)
  Buffer.from(ix.sha256, 'hex').copy(head, 32)
  head.writeUInt32LE(8, 64)
  head.writeUInt32LE(ix.count, 68)
  const lengths = Buffer.alloc(2 * ix.count)
  for (let i = 0; i < ix.count; i++) lengths.writeUInt16LE(chunkLength(ix, i) - 1, 2 * i)
  return Buffer.concat([head, lengths, ix.hashes])
}

/** Decodes and checks an index of either format; the reason names what is wrong. */
export function decodeIndex(buf: Buffer): ChunkIndex | string {
  if (buf.length < HEADER_1 || !buf.subarray(0, 8).equals(MAGIC)) return 'not a chunk index (bad magic)'
  const version = buf.readUInt32LE(8)
  if (version === 1) return decode1(buf)
  if (version === 2) return decode2(buf)
  return `chunk index version ${version} is not supported`
}

function decode1(buf: Buffer): ChunkIndex | string {
  const chunkSize = buf.readUInt32LE(12)
  const size = Number(buf.readBigUInt64LE(16))
  const hashLen = buf.readUInt32LE(56)
  if (chunkSize < 512 || hashLen !== 16 || !Number.isSafeInteger(size)) return 'chunk index header is malformed'
  if (chunkSize > MAX_CHUNK_SIZE) return `chunk index chunk size ${chunkSize} is over the ${MAX_CHUNK_SIZE}-byte maximum`
  const hashes = buf.subarray(HEADER_1)
  if (hashes.length !== Math.ceil(size / chunkSize) * 16) return 'chunk index length does not match its artifact size'
  return makeIndex({ format: 1, chunkSize }, size, buf.toString('hex', 24, 56), fixedLengths(size, chunkSize), hashes)
}

function decode2(buf: Buffer): ChunkIndex | string {
  if (buf.length < HEADER_2) return 'chunk index header is malformed'
  const cdc = { min: buf.readUInt32LE(12), avg: buf.readUInt32LE(16), max: buf.readUInt32LE(20) }
  const size = Number(buf.readBigUInt64LE(24))
  const hashLen = buf.readUInt32LE(64)
  const count = buf.readUInt32LE(68)
  if (!validCdc(cdc) || hashLen !== 8 || !Number.isSafeInteger(size)) return 'chunk index header is malformed'
  if (buf.length !== HEADER_2 + count * (2 + hashLen)) return 'chunk index length does not match its chunk count'
  const lengths = new Uint32Array(count)
  let total = 0
  for (let i = 0; i < count; i++) {
    const len = buf.readUInt16LE(HEADER_2 + 2 * i) + 1
    if (len > cdc.max) return `chunk ${i} of the chunk index is longer than the ${cdc.max}-byte maximum`
    lengths[i] = len
    total += len
  }
  if (total !== size) return 'chunk index lengths do not add up to its artifact size'
  return makeIndex({ format: 2, cdc }, size, buf.toString('hex', 32, 64), lengths, buf.subarray(HEADER_2 + 2 * count))
}
