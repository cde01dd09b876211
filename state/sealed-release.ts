// A sealed release's own manifest, trusted from its seal (rollback does not ask for the
// signature again): the bytes must hash to the digest the seal recorded.
import fs from 'node:fs/promises'
import path from 'node:path'
import { E } from '../lib/commonjs.cjs'
import type { Layout } from '../lib/layout.js'
import { MANIFEST_FILE } from '../lib/layout.js'
import { Manifest } from '../lib/manifest/codec.js'
import { type LoadedManifest, manifestDigest } from '../lib/manifest/loaded.js'
import { operationFailed } from '../lib/errors.js'
import { type Seal, readSeal } from './seal.js'

/** A sealed release's manifest.json as read against its seal. */
export type SealedManifest =
  | { readonly kind: 'trusted'; readonly loaded: LoadedManifest }
  | { readonly kind: 'missing'; readonly file: string }
  /** The bytes hash to `digest`, not to the seal's manifest_digest: changed since the seal was written. */
  | { readonly kind: 'mismatch'; readonly file: string; readonly digest: string }
  | { readonly kind: 'not-json'; readonly file: string }
  | { readonly kind: 'undecodable'; readonly file: string }

/** Reads `<dir>/manifest.json` and trusts it only when its bytes hash to the digest `seal` recorded. */
export async function readSealedManifest(dir: string, seal: Seal): Promise<SealedManifest> {
  const file = path.join(dir, MANIFEST_FILE)
  const bytes = await fs.readFile(file).catch(() => null)
  if (bytes === null) return { kind: 'missing', file }
  const digest = manifestDigest(bytes)
  if (digest !== seal.manifest_digest) return { kind: 'mismatch', file, digest }
  let json: unknown
  try {
    json = JSON.parse(bytes.toString('utf8'))
  } catch {
    return { kind: 'not-json', file }
  }
  const decoded = Manifest.decode(json)
  if (E.isLeft(decoded)) return { kind: 'undecodable', file }
  return { kind: 'trusted', loaded: { manifest: decoded.right, bytes, digest, path: file, url: null } }
}

export async function loadSealedRelease(l: Layout, id: string): Promise<LoadedManifest> {
  const dir = l.release(id)
  const seal = await readSeal(dir)
  if (seal.kind !== 'sealed')
    throw operationFailed(`release ${id} is not a sealed release on this host (${seal.kind === 'invalid' ? seal.reason : 'no seal'}); see releases list`)
  const read = await readSealedManifest(dir, seal.seal)
  switch (read.kind) {
    case 'trusted':
      return read.loaded
    case 'missing':
      throw operationFailed(`release ${id} has no ${MANIFEST_FILE}; it cannot be activated`)
    case 'mismatch':
      throw operationFailed(`${read.file} does not match the seal of release ${id} (${read.digest}, sealed ${seal.seal.manifest_digest})`)
    case 'not-json':
      throw operationFailed(`${read.file} is not valid JSON`)
    case 'undecodable':
      throw operationFailed(`${read.file} no longer decodes as a manifest`)
  }
}
