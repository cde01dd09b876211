// `manifest build`: hash the expected files of an artifact directory and write a manifest
// that passes `manifest validate`. Its flags' defaults (BUILD_DEFAULTS, kinds.ts) are documented in README.
import fs from 'node:fs/promises'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { E } from '../commonjs.cjs'
import { KIND_LAYOUT, type Architecture, type KindLayout } from './kinds.js'
import type { Component, Manifest } from './codec.js'
import { manifestDigest, validateManifest } from './load.js'
import { formatProblem } from './problems.js'
import { hashFile, type FileDigest } from '../hash.js'
import { type Failure, errnoCode, manifestError, usageError } from '../errors.js'
import { writeFileAtomic } from '../fsx.js'
import { createHash } from 'node:crypto'
import { indexFile } from '../chunks/compute.js'
import { INDEX_THRESHOLD, type ChunkScheme, encodeIndex, nominalChunkSize } from '../chunks/format.js'
import { DEFAULT_CDC } from '../chunks/cdc.js'

export interface BuildOptions {
  readonly artifactDir: string
  readonly output: string
  readonly releaseId: string
  readonly version: string
  readonly arch: Architecture
  readonly sourceRevision: string
  readonly firecrackerVersion: string
  readonly firecrackerCommit: string
  readonly snapshotDataFormat: string
  readonly kernelIdentity: string
  readonly baseUrl?: string
  readonly guestAgentProtocolVersion: string
  readonly runtimeClass: string
  readonly snapshotMetadataFormat: string
  readonly expiresInDays?: number
  /** Write a chunk index beside every artifact of INDEX_THRESHOLD bytes or more (delta upgrades). */
  readonly chunkIndex: boolean
  /** The clock is passed in, so the manifest body is a function of its inputs. */
  readonly now: Date
}

const MIGRATION_NOTE = 'database migrations are not rolled back; restore a verified appliance backup to reverse them'

export function componentVersion(kind: KindLayout['kind'], o: Pick<BuildOptions, 'version' | 'firecrackerVersion' | 'kernelIdentity'>): string {
  if (kind === 'firecracker' || kind === 'jailer') return o.firecrackerVersion
  if (kind === 'kernel') return o.kernelIdentity
  return o.version
}

/** Releases whose components share a class can be mixed; a changed class is reported on upgrade. */
export function compatibilityClass(kind: KindLayout['kind'], componentVer: string): string {
  if (kind === 'firecracker' || kind === 'jailer') {
    const m = /^v?(\d+)\.(\d+)/.exec(componentVer)
    return `${kind}-v${m ? `${m[1]}.${m[2]}` : componentVer}`
  }
  if (kind === 'kernel') return `kernel-${componentVer}`
  const major = /^(\d+)\./.exec(componentVer)?.[1] ?? componentVer
  return `${kind}-v${major}`
}

function artifactUrl(o: BuildOptions, file: string): string {
  if (o.baseUrl === undefined) return pathToFileURL(path.resolve(o.artifactDir, file)).href
  return `${o.baseUrl.replace(/\/+$/, '')}/${encodeURIComponent(file)}`
}

export function describeComponent(layout: KindLayout, digest: FileDigest, o: BuildOptions): Component {
  const version = componentVersion(layout.kind, o)
  return {
    name: layout.kind.replace(/_/g, '-'),
    kind: layout.kind,
    url: artifactUrl(o, layout.file),
    sha256: digest.sha256,
    size: digest.size,
    architecture: layout.kind === 'console' || layout.kind === 'migration_bundle' ? 'noarch' : o.arch,
    version,
    compatibility_class: compatibilityClass(layout.kind, version),
    install_path: layout.installPath,
    ...(layout.activePath ? { active_path: layout.activePath } : {}),
    required: true,
    mode: layout.executable ? '0555' : '0444',
    rollback: layout.kind === 'migration_bundle' ? { reversible: false, note: MIGRATION_NOTE } : { reversible: true },
  }
}

interface HashedArtifact extends FileDigest {
  /** The encoded chunk index, for artifacts large enough to have one. */
  readonly index: Buffer | null
}

async function hashArtifact(dir: string, layout: KindLayout, chunkIndex: boolean): Promise<E.Either<Failure, HashedArtifact>> {
  const file = path.join(dir, layout.file)
  try {
    const st = await fs.stat(file)
    if (!st.isFile()) return E.left(manifestError(`${file}: the ${layout.kind} artifact is not a regular file`))
    if (st.size === 0) return E.left(manifestError(`${file}: the ${layout.kind} artifact is empty`))
    if (chunkIndex && st.size >= INDEX_THRESHOLD) {
      const ix = await indexFile(file, INDEX_SCHEME)
      return E.right({ sha256: ix.sha256, size: ix.size, index: encodeIndex(ix) })
    }
    return E.right({ ...(await hashFile(file)), index: null })
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return E.left(manifestError(`${file}: missing ${layout.kind} artifact; --artifact-dir must hold ${layout.file}`))
    return E.left(manifestError(`${file}: cannot read the ${layout.kind} artifact: ${e instanceof Error ? e.message : String(e)}`))
  }
}

const isoSeconds = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z')

export const INDEX_SUFFIX = '.chunks'
/** The index `manifest build` writes: format 2, content-defined chunks (schemas/chunk-index.md). */
export const INDEX_SCHEME: ChunkScheme = { format: 2, cdc: DEFAULT_CDC }

export interface BuiltManifest {
  readonly manifest: Manifest
  /** Chunk indexes to write into --artifact-dir beside their artifacts. */
  readonly indexes: readonly { readonly path: string; readonly bytes: Buffer }[]
}

export async function buildManifest(o: BuildOptions): Promise<E.Either<Failure, BuiltManifest>> {
  try {
    const st = await fs.stat(o.artifactDir)
    if (!st.isDirectory()) return E.left(usageError(`--artifact-dir ${o.artifactDir}: not a directory`))
  } catch {
    return E.left(usageError(`--artifact-dir ${o.artifactDir}: no such directory`))
  }
  const components: Component[] = []
  const indexes: BuiltManifest['indexes'][number][] = []
  const unusable: { file: string; failure: Failure }[] = []
  for (const layout of KIND_LAYOUT) {
    const hashed = await hashArtifact(o.artifactDir, layout, o.chunkIndex)
    // Every missing or empty artifact is named at once: a release directory is fixed in one pass.
    if (E.isLeft(hashed)) {
      unusable.push({ file: layout.file, failure: hashed.left })
      continue
    }
    const component = describeComponent(layout, hashed.right, o)
    const index = hashed.right.index
    if (index) {
      const file = `${layout.file}${INDEX_SUFFIX}`
      indexes.push({ path: path.join(o.artifactDir, file), bytes: index })
      components.push({ ...component, chunks: { url: artifactUrl(o, file), sha256: createHash('sha256').update(index).digest('hex'), size: index.length, chunk_size: nominalChunkSize(INDEX_SCHEME) } })
    } else components.push(component)
  }
  if (unusable.length === 1) return E.left(unusable[0].failure)
  if (unusable.length > 1)
    return E.left(
      manifestError(
        `--artifact-dir ${o.artifactDir}: ${unusable.length} artifacts are missing, empty or unreadable: ${unusable.map((u) => u.file).join(', ')}; every file of the artifact table must be there`,
        unusable.map((u) => u.failure.message),
      ),
    )
  const sha = (kind: string) => `sha256:${components.find((c) => c.kind === kind)!.sha256}`
  const manifest: Manifest = {
    schema_version: 1,
    manifest_id: `nullspace-single-host/${o.releaseId}/${o.arch}`,
    release_id: o.releaseId,
    version: o.version,
    architecture: o.arch,
    source_revision: o.sourceRevision,
    created_at: isoSeconds(o.now),
    ...(o.expiresInDays !== undefined ? { expires_at: isoSeconds(new Date(o.now.getTime() + o.expiresInDays * 86_400_000)) } : {}),
    runtime_compatibility: {
      firecracker_version: o.firecrackerVersion,
      firecracker_commit: o.firecrackerCommit,
      snapshot_data_format: o.snapshotDataFormat,
      kernel_identity: o.kernelIdentity,
      rootfs_digest: sha('rootfs'),
      template_digest: sha('template'),
      guest_agent_protocol_version: o.guestAgentProtocolVersion,
      runtime_class: o.runtimeClass,
      snapshot_metadata_format: o.snapshotMetadataFormat,
    },
    components,
  }
  // The builder's output must pass validate; check before anything is written.
  const valid = validateManifest(manifest, { now: o.now.getTime(), allowHttp: true, allowExpired: false })
  if (E.isLeft(valid)) return E.left(usageError(`the flags describe an invalid manifest: ${valid.left.map(formatProblem).join('; ')}`))
  return E.right({ manifest, indexes })
}

/** Writes the chunk indexes, then the manifest, each atomically; returns the manifest's digest. */
export async function writeManifest(file: string, built: BuiltManifest): Promise<string> {
  for (const ix of built.indexes) await writeFileAtomic(ix.path, ix.bytes, 0o644)
  const bytes = Buffer.from(`${JSON.stringify(built.manifest, null, 2)}\n`)
  await writeFileAtomic(file, bytes, 0o644)
  return manifestDigest(bytes)
}
