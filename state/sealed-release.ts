// A sealed release's own manifest, trusted from its seal (rollback does not ask for the
// signature again): the bytes must hash to the digest the seal recorded.
import fs from 'node:fs/promises'
import path from 'node:path'
import { E } from '../lib/commonjs.cjs'
import type { Layout } from '../lib/layout.js'
import { MANIFEST_FILE } from '../lib/layout.js'
import { Manifest } from '../lib/manifest/codec.js'
import { type LoadedManifest, manifestDigest } from '../lib/manifest/load.js'
import { operationFailed } from '../lib/errors.js'
import { readSeal } from './seal.js'

export async function loadSealedRelease(l: Layout, id: string): Promise<LoadedManifest> {
  const dir = l.release(id)
  const seal = await readSeal(dir)
  if (seal.kind !== 'sealed')
    throw operationFailed(`release ${id} is not a sealed release on this host (${seal.kind === 'invalid' ? seal.reason : 'no seal'}); see releases list`)
  const file = path.join(dir, MANIFEST_FILE)
  const bytes = await fs.readFile(file).catch(() => null)
  if (bytes === null) throw operationFailed(`release ${id} has no ${MANIFEST_FILE}; it cannot be activated`)
  const digest = manifestDigest(bytes)
  if (digest !== seal.seal.manifest_digest) throw operationFailed(`${file} does not match the seal of release ${id} (${digest}, sealed ${seal.seal.manifest_digest})`)
  let json: unknown
  try {
    json = JSON.parse(bytes.toString('utf8'))
  } catch {
    throw operationFailed(`${file} is not valid JSON`)
  }
  const decoded = Manifest.decode(json)
  if (E.isLeft(decoded)) throw operationFailed(`${file} no longer decodes as a manifest`)
  return { manifest: decoded.right, bytes, digest, path: file, url: null }
}
