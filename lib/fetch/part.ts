// The part-file steps every fetcher shares (file://, http(s)://, the delta assembler): the
// content-addressed `<sha256>.part` and its `.part.json` metadata, the verdict against the
// manifest, writing chunks back to back with the writeback overlapped, and the durable move
// of a verified part into place.
import fs from 'node:fs/promises'
import { constants } from 'node:fs'
import path from 'node:path'
import { fsyncPath, renameDurable } from '../fsx.js'
import { FetchError, type FetchRequest } from './types.js'

type FileHandle = fs.FileHandle

/** The sha256 names a file in partsDir, so it must be exactly a digest, never a path. */
export function partPath(req: FetchRequest): string {
  if (!/^[0-9a-f]{64}$/.test(req.sha256)) throw new FetchError(`${req.component}: sha256 '${req.sha256}' is not 64 lowercase hex`, 'refused')
  return path.join(req.partsDir, `${req.sha256}.part`)
}
export const partMetaPath = (req: FetchRequest) => `${partPath(req)}.json`

export async function removePart(req: FetchRequest): Promise<void> {
  await fs.rm(partPath(req), { force: true })
  await fs.rm(partMetaPath(req), { force: true })
}

/** The source sent a byte past the declared size; we stop reading there. */
export const tooLong = (req: FetchRequest, source: string) =>
  new FetchError(`${req.component}: ${source} has more bytes than the manifest declares (${req.size})`, 'mismatch')

/** Compares what arrived with the manifest; a mismatch names both sides. */
export function verdict(req: FetchRequest, source: string, size: number, sha256: string): FetchError | undefined {
  if (size !== req.size) return new FetchError(`${req.component}: ${source} is ${size} bytes, the manifest declares ${req.size}`, 'mismatch')
  if (sha256 !== req.sha256) return new FetchError(`${req.component}: ${source} has sha256 ${sha256}, the manifest declares ${req.sha256}`, 'mismatch')
  return undefined
}

/**
 * Moves the verified part to dest. Mode and data are made durable before the rename, and
 * the metadata goes first: a crash in between leaves a complete part without metadata,
 * which the next run verifies from disk instead of downloading.
 */
export async function installPart(req: FetchRequest): Promise<void> {
  const part = partPath(req)
  await fs.chmod(part, req.mode)
  await fsyncPath(part)
  await fs.rm(partMetaPath(req), { force: true })
  await renameDurable(part, req.dest)
}

/** Writes the chunks back to back from `position`; fh.writev may write less than asked, so it loops until all are on disk. */
export async function writeAll(fh: FileHandle, chunks: readonly Uint8Array[], position: number): Promise<void> {
  let rest = chunks
  while (rest.length > 0) {
    const { bytesWritten } = await fh.writev(rest as Uint8Array[], position)
    position += bytesWritten
    let skip = bytesWritten
    while (rest.length > 0 && skip >= rest[0].length) {
      skip -= rest[0].length
      rest = rest.slice(1)
    }
    if (skip > 0) rest = [rest[0].subarray(skip), ...rest.slice(1)]
  }
}

/**
 * Starts the disk writing while the copy goes on: a datasync in the background after every
 * Writeback.EVERY bytes, one at a time. Left to the final fsync, the writeback of a large
 * file happens only after the hash is done; overlapped, it hides behind the hash (a 2 GiB
 * copy measured 2.9 s without, 2.2 s with; `cp && sync` 1.8 s).
 */
export class Writeback {
  static readonly EVERY = 64 * 1024 * 1024
  private synced = 0
  private inFlight: Promise<void> | undefined
  private failed: unknown
  constructor(private readonly fh: FileHandle) {}

  wrote(total: number): void {
    if (this.failed !== undefined) throw this.failed
    if (this.inFlight || total - this.synced < Writeback.EVERY) return
    this.synced = total
    this.inFlight = this.fh.datasync().then(
      () => (this.inFlight = undefined),
      (e: unknown) => ((this.failed = e), (this.inFlight = undefined)),
    )
  }

  /** Waits for the datasync in flight; rethrows one that failed (the final fsync would not see it again). */
  async settle(): Promise<void> {
    await this.inFlight
    if (this.failed !== undefined) throw this.failed
  }
}

/** Opens the part for writing without following a symlink planted in its place. */
export const openPart = (req: FetchRequest, truncate: boolean) =>
  fs.open(partPath(req), constants.O_WRONLY | constants.O_CREAT | constants.O_NOFOLLOW | (truncate ? constants.O_TRUNC : 0), 0o600)
