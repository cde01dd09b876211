// Builds artifact directories and manifests the way an operator would: files on disk, then
// the real `manifest build`.
import fs from 'node:fs'
import path from 'node:path'
import { KIND_LAYOUT } from '../../lib/manifest/kinds.js'
import { runCli, type CliResult } from './cli.js'
import { tempDir } from './tmp.js'

export interface ReleaseSpec {
  releaseId?: string
  version?: string
  arch?: string
  /** Content per artifact file name; default `<file> of <releaseId>`. */
  contents?: Record<string, string | Buffer>
  extra?: string[]
}

export interface BuiltRelease {
  dir: string
  manifest: string
  releaseId: string
}

/** The `manifest build` flags a spec may change; the rest are fixed. */
export interface BuildFlags {
  arch: string
  firecrackerVersion: string
  snapshotDataFormat: string
  kernelIdentity: string
  guestAgentProtocolVersion?: string
  runtimeClass?: string
  snapshotMetadataFormat?: string
  baseUrl?: string
}

export const DEFAULT_FLAGS: BuildFlags = {
  arch: 'x86_64',
  firecrackerVersion: 'v1.12.1',
  snapshotDataFormat: 'firecracker-v1.12',
  kernelIdentity: 'linux-6.1-nullspace',
}

/** The `manifest build` command line of a release: the one place specs spell its flags. */
export function buildArgs(dir: string, out: string, releaseId: string, version: string, flags: Partial<BuildFlags> = {}): string[] {
  const f = { ...DEFAULT_FLAGS }
  for (const [k, v] of Object.entries(flags)) if (v !== undefined) Object.assign(f, { [k]: v })
  const args = [
    'manifest', 'build',
    '--artifact-dir', dir,
    '--output', out,
    '--release-id', releaseId,
    '--version', version,
    '--arch', f.arch,
    '--source-revision', 'deadbeef',
    '--firecracker-version', f.firecrackerVersion,
    '--firecracker-commit', 'reviewed-firecracker-build',
    '--snapshot-data-format', f.snapshotDataFormat,
    '--kernel-identity', f.kernelIdentity,
  ]
  if (f.guestAgentProtocolVersion !== undefined) args.push('--guest-agent-protocol-version', f.guestAgentProtocolVersion)
  if (f.runtimeClass !== undefined) args.push('--runtime-class', f.runtimeClass)
  if (f.snapshotMetadataFormat !== undefined) args.push('--snapshot-metadata-format', f.snapshotMetadataFormat)
  if (f.baseUrl !== undefined) args.push('--base-url', f.baseUrl)
  return args
}

/**
 * Writes the ten artifact files; contents default to text naming the file and release, except the
 * migration bundle: releases share it unless a spec changes it, as the migration guard (an
 * irreversible bundle that differs needs a verified backup) is backup-guard.spec's business.
 */
export function writeArtifacts(dir: string, releaseId: string, contents: Record<string, string | Buffer> = {}): void {
  fs.mkdirSync(dir, { recursive: true })
  for (const { file } of KIND_LAYOUT) fs.writeFileSync(path.join(dir, file), contents[file] ?? (file === 'migrations.tar.gz' ? `${file}\n` : `${file} of ${releaseId}\n`))
}

export async function buildRelease(spec: ReleaseSpec = {}): Promise<BuiltRelease> {
  const releaseId = spec.releaseId ?? '2026.06.10'
  const dir = path.join(tempDir('release'), releaseId)
  writeArtifacts(dir, releaseId, spec.contents)
  const manifest = path.join(dir, 'manifest.json')
  const r: CliResult = await runCli([...buildArgs(dir, manifest, releaseId, spec.version ?? '0.1.0', { arch: spec.arch }), ...(spec.extra ?? [])])
  if (r.code !== 0) throw new Error(`manifest build failed (${r.code}): ${r.stderr}`)
  return { dir, manifest, releaseId }
}

/** Minimal view of spec/helpers/server.ts that serving a release needs. */
interface FileServer {
  url(path: string): string
  setFile(path: string, data: Buffer): void
}

/** Builds a release whose URLs point at `server` under `/<releaseId>/`, and serves its files there; `totalBytes` counts them all. */
export async function buildServedRelease(server: FileServer, spec: ReleaseSpec = {}): Promise<BuiltRelease & { totalBytes: number }> {
  const releaseId = spec.releaseId ?? '2026.06.10'
  const built = await buildRelease({ ...spec, releaseId, extra: ['--base-url', server.url(`/${releaseId}`), ...(spec.extra ?? [])] })
  let totalBytes = 0
  // Artifacts and their chunk indexes: everything `manifest build` left beside the manifest.
  for (const file of fs.readdirSync(built.dir)) {
    if (file === 'manifest.json') continue
    const data = fs.readFileSync(path.join(built.dir, file))
    server.setFile(`/${releaseId}/${file}`, data)
    totalBytes += data.length
  }
  return { ...built, totalBytes }
}

/** Deterministic pseudo-random bytes (fast, no crypto): big artifacts that do not compress or dedupe. */
export function noise(size: number, seed = 1): Buffer {
  const buf = Buffer.allocUnsafe(size)
  let x = seed >>> 0 || 1
  for (let i = 0; i + 4 <= size; i += 4) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    buf.writeUInt32LE(x >>> 0, i)
  }
  for (let i = size - (size % 4); i < size; i++) buf[i] = i & 0xff
  return buf
}
