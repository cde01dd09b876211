// A manifest that decoded and passed every rule, with the bytes it came from: what the loader
// (load.ts) returns and what state/ hands back for a sealed release. A format-level type, with
// no I/O, so the host readers in state/ can name it without depending on how manifests are fetched.
import { createHash } from 'node:crypto'
import type { Manifest } from './codec.js'

export interface LoadedManifest {
  readonly manifest: Manifest
  readonly bytes: Buffer
  /** `sha256:<hex>` of the file's bytes. */
  readonly digest: string
  /** Absolute path of the file, or the URL it was fetched from (plans record it as the manifest's `path`). */
  readonly path: string
  /** The http(s) URL the manifest was fetched from; null for a local file (a file: URL is one). */
  readonly url: string | null
}

export const manifestDigest = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`
