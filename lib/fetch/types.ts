// The contract between the executor and the fetchers (file://, http(s)://).
// A fetcher streams an artifact into the content-addressed part file
// `<partsDir>/<sha256>.part` (metadata in `<sha256>.part.json`: the URL and the server's
// ETag/Last-Modified), hashing the bytes as they arrive, and only when size and sha256
// both match does it move the verified file to `dest` (mode set, fsynced, with its
// directory). A resumable part stays behind on failure; a part that fails its hash is
// discarded and fetched once more from byte 0.

import type { MinSpeed } from './watch.js'

export interface FetchRequest {
  /** Component name, for messages. */
  readonly component: string
  readonly url: string
  readonly sha256: string
  readonly size: number
  /** Absolute path of the verified file (inside `.staging/<release-id>/`). Its parent exists. */
  readonly dest: string
  /** File mode of the verified file (0o444 or 0o555). */
  readonly mode: number
  /** Absolute `.staging/parts` directory (exists). */
  readonly partsDir: string
  /** Directory of a local manifest: a missing file:// artifact is looked for here by file name; null for a manifest fetched from a URL (nothing is beside it on this host). */
  readonly manifestDir: string | null
  readonly allowHttp: boolean
  /** A transfer that receives no byte for this long is abandoned and retried. */
  readonly stallTimeoutMs: number
  /** A transfer slower than this over a whole window is abandoned and retried, as a stall is. */
  readonly minSpeed: MinSpeed
  /** Attempts after the first, on 5xx, resets, stalls, short bodies. */
  readonly retries: number
  /** First retry delay; doubles each time. */
  readonly backoffMs: number
  /** Called with the number of new bytes as they are written (progress, crash seam). */
  readonly onBytes?: (n: number) => void
}

export interface FetchResult {
  /** Bytes that crossed the wire (or were read from the file:// source) in this run. */
  readonly bytesTransferred: number
  /** Offset the transfer resumed from (0 when it started fresh). */
  readonly resumedFrom: number
  /** The URL or path the bytes finally came from (after redirects or the beside-the-manifest lookup). */
  readonly source: string
}

/** Why a fetch failed; `absent` lets the executor skip an optional component (404, missing file). */
export class FetchError extends Error {
  constructor(
    message: string,
    readonly reason: 'absent' | 'mismatch' | 'http' | 'network' | 'refused',
  ) {
    super(message)
  }
}
