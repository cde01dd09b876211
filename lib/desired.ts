// What a verified manifest asks of a host: the release's files, its compatibility links and
// the rendered appliance files. Pure: a function of the loaded manifest.
import path from 'node:path'
import type { LoadedManifest } from './manifest/load.js'
import type { Manifest } from './manifest/codec.js'
import { KIND_LAYOUT } from './manifest/kinds.js'
import { CHUNKS_DIR, compatLinkTarget } from './layout.js'
import { renderApplianceFiles, type RenderedFile } from './appliance-files.js'

export interface DesiredComponent {
  readonly name: string
  readonly kind: string
  readonly url: string
  readonly sha256: string
  readonly size: number
  readonly installPath: string
  readonly mode: number
  readonly required: boolean
  /** The chunk index of this artifact, kept in the release for later delta upgrades. */
  readonly chunkIndex?: { readonly component: string; readonly installPath: string; readonly chunkSize: number }
}

/** Where a release keeps the chunk index of its component `name`. */
export const indexInstallPath = (name: string) => `${CHUNKS_DIR}/${name}.chunks`
export const CHUNK_INDEX_KIND = 'chunk_index'

export interface DesiredLink {
  /** Absolute host path of the compatibility link. */
  readonly path: string
  /** Relative link text, through `releases/current`. */
  readonly target: string
  readonly component: string
}

export interface DesiredState {
  readonly releaseId: string
  readonly manifest: Manifest
  readonly manifestDigest: string
  readonly manifestPath: string
  /** Where a missing file:// artifact is looked for by name; null for a manifest fetched from a URL. */
  readonly manifestDir: string | null
  readonly components: readonly DesiredComponent[]
  readonly links: readonly DesiredLink[]
  readonly rendered: readonly RenderedFile[]
}

export function componentMode(c: Manifest['components'][number]): number {
  if (c.mode !== undefined) return parseInt(c.mode, 8) & 0o555
  return KIND_LAYOUT.find((k) => k.kind === c.kind)?.executable ? 0o555 : 0o444
}

export function linksOf(m: Manifest): DesiredLink[] {
  return m.components.flatMap((c) =>
    c.active_path === undefined ? [] : [{ path: c.active_path, target: compatLinkTarget(c.active_path, c.install_path), component: c.name }],
  )
}

export function desiredState(loaded: LoadedManifest): DesiredState {
  const m = loaded.manifest
  return {
    releaseId: m.release_id,
    manifest: m,
    manifestDigest: loaded.digest,
    manifestPath: loaded.path,
    manifestDir: loaded.url === null ? path.dirname(loaded.path) : null,
    components: [
      ...m.components.map((c) => ({
        name: c.name,
        kind: c.kind,
        url: c.url,
        sha256: c.sha256,
        size: c.size,
        installPath: c.install_path,
        mode: componentMode(c),
        required: c.required,
        ...(c.chunks ? { chunkIndex: { component: `${c.name}.chunks`, installPath: indexInstallPath(c.name), chunkSize: c.chunks.chunk_size } } : {}),
      })),
      // Chunk indexes are fetched and verified like any artifact; an absent one only costs deltas.
      ...m.components.flatMap((c) =>
        c.chunks
          ? [{ name: `${c.name}.chunks`, kind: CHUNK_INDEX_KIND, url: c.chunks.url, sha256: c.chunks.sha256, size: c.chunks.size, installPath: indexInstallPath(c.name), mode: 0o444, required: false }]
          : [],
      ),
    ],
    links: linksOf(m),
    rendered: renderApplianceFiles(m, loaded.digest),
  }
}
