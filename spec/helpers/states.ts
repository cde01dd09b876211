// In-memory desired and actual states for planner specs: plain data in, plan out.
import { createHash } from 'node:crypto'
import * as E from 'fp-ts/lib/Either.js'
import { KIND_LAYOUT } from '../../lib/manifest/kinds.js'
import { describeComponent } from '../../lib/manifest/build.js'
import { validateManifest } from '../../lib/manifest/load.js'
import type { Manifest } from '../../lib/manifest/codec.js'
import { desiredState, type DesiredState } from '../../lib/desired.js'
import type { ActualState, PathState, ReleaseOnDisk } from '../../state/read.js'
import type { Seal } from '../../state/seal.js'
import { emptyState } from '../../state/state-file.js'
import { renderApplianceFiles } from '../../lib/appliance-files.js'

export const NOW = Date.parse('2026-06-10T12:00:00Z')
const sha = (s: string) => createHash('sha256').update(s).digest('hex')

/** A valid manifest whose artifact contents are `<file> of <releaseId>` unless overridden. */
export function manifestOf(releaseId: string, version = '0.1.0', contents: Record<string, string> = {}): Manifest {
  const o = {
    artifactDir: '/mnt/rel', output: '/mnt/rel/manifest.json', releaseId, version, arch: 'x86_64' as const, sourceRevision: 'abc',
    firecrackerVersion: 'v1.12.1', firecrackerCommit: 'c', snapshotDataFormat: 'firecracker-v1.12', kernelIdentity: 'linux-6.1',
    guestAgentProtocolVersion: '1', runtimeClass: 'firecracker', snapshotMetadataFormat: 'm1', now: new Date(NOW), chunkIndex: false,
  }
  const components = KIND_LAYOUT.map((k) => {
    const body = contents[k.file] ?? `${k.file} of ${releaseId}`
    return describeComponent(k, { sha256: sha(body), size: Buffer.byteLength(body) }, o)
  })
  const find = (kind: string) => `sha256:${components.find((c) => c.kind === kind)!.sha256}`
  const m = {
    schema_version: 1 as const, manifest_id: `nullspace-single-host/${releaseId}/x86_64`, release_id: releaseId, version, architecture: 'x86_64' as const,
    source_revision: 'abc', created_at: '2026-06-10T12:00:00Z',
    runtime_compatibility: { firecracker_version: 'v1.12.1', firecracker_commit: 'c', snapshot_data_format: 'firecracker-v1.12', kernel_identity: 'linux-6.1', rootfs_digest: find('rootfs'), template_digest: find('template'), guest_agent_protocol_version: '1', runtime_class: 'firecracker', snapshot_metadata_format: 'm1' },
    components,
  }
  const v = validateManifest(m, { now: NOW, allowHttp: false, allowExpired: false })
  if (E.isLeft(v)) throw new Error(JSON.stringify(v.left))
  return v.right
}

export const digestOf = (m: Manifest) => `sha256:${sha(JSON.stringify(m))}`

export function desiredOf(m: Manifest): DesiredState {
  return desiredState({ manifest: m, bytes: Buffer.from(JSON.stringify(m)), digest: digestOf(m), path: `/mnt/${m.release_id}/manifest.json`, url: null })
}

let ino = 1000
/** A sealed release on disk whose files are exactly as sealed. */
export function sealedRelease(m: Manifest): ReleaseOnDisk {
  const components = m.components.map((c) => ({
    name: c.name, kind: c.kind, install_path: c.install_path, status: 'installed' as const, sha256: c.sha256, size: c.size, mtime_ms: 1_700_000_000_000, ino: ino++, obtained: { how: 'fetched' as const, bytes_fetched: c.size },
  }))
  const seal: Seal = { format_version: 1, release_id: m.release_id, manifest_id: m.manifest_id, version: m.version, manifest_digest: digestOf(m), sealed_at: '2026-06-10T12:00:00Z', signed: false, components }
  const files: Record<string, PathState> = {}
  for (const c of components) files[c.install_path] = { kind: 'file', stat: { size: c.size, mtimeMs: c.mtime_ms, ino: c.ino, mode: 0o444 } }
  return { id: m.release_id, seal: { kind: 'sealed', seal }, files }
}

export function emptyHost(): ActualState {
  return {
    root: '/tmp/root', releases: [], currentLink: { kind: 'absent' }, current: null, currentManifest: null, state: emptyState(), journal: null,
    links: {}, rendered: { '/etc/nullspace/appliance.env': null, '/etc/systemd/system/nullspace-api.service': null }, parts: {}, staging: {}, tempLeftovers: [], unsafePaths: [], hooks: [], unsafeHooks: [], journalProblem: null, tooLong: [],
  }
}

/** A host converged on `m`: sealed, current, links, rendered files and history. */
export function convergedHost(m: Manifest, others: Manifest[] = []): ActualState {
  const d = desiredOf(m)
  const links: Record<string, PathState> = {}
  for (const l of d.links) links[l.path] = { kind: 'symlink', target: l.target }
  const rendered: Record<string, string | null> = {}
  for (const f of renderApplianceFiles(m, digestOf(m))) rendered[f.path] = f.content
  return {
    ...emptyHost(),
    releases: [...others.map(sealedRelease), sealedRelease(m)].sort((a, b) => a.id.localeCompare(b.id)),
    currentLink: { kind: 'symlink', target: m.release_id },
    current: m.release_id,
    currentManifest: m,
    state: { format_version: 1, history: [{ op: 'install', from: null, to: m.release_id, at: '2026-06-10T12:00:00Z', result: 'ok' }], failed: {} },
    links,
    rendered,
  }
}
