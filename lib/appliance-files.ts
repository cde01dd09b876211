// The files `install`/`upgrade`/`rollback` render from the active manifest. They name only
// stable compatibility paths and manifest facts, so a switch changes facts, not paths.
import path from 'node:path/posix'
import type { Manifest } from './manifest/codec.js'
import type { ComponentKind } from './manifest/kinds.js'
import { API_UNIT, APPLIANCE_ENV, CURRENT, RELEASES_HOST_DIR } from './layout.js'

export interface RenderedFile {
  /** Absolute host path. */
  readonly path: string
  readonly content: string
  readonly mode: number
}

/** Where the active release's file of a kind is reached: its compatibility link, else through `current`. */
export function stablePath(m: Manifest, kind: ComponentKind): string {
  const c = m.components.find((x) => x.kind === kind)!
  return c.active_path ?? path.join(RELEASES_HOST_DIR, CURRENT, c.install_path)
}

export function renderApplianceEnv(m: Manifest, digest: string): string {
  const rc = m.runtime_compatibility
  const vars: [string, string][] = [
    ['NULLSPACE_RELEASE_ID', m.release_id],
    ['NULLSPACE_VERSION', m.version],
    ['NULLSPACE_MANIFEST_ID', m.manifest_id],
    ['NULLSPACE_MANIFEST_DIGEST', digest],
    ['NULLSPACE_ARCHITECTURE', m.architecture],
    ['NULLSPACE_RELEASE_DIR', path.join(RELEASES_HOST_DIR, CURRENT)],
    ['NULLSPACE_API_BIN', stablePath(m, 'api')],
    ['NULLSPACE_GUEST_AGENT_BIN', stablePath(m, 'guest_agent')],
    ['NULLSPACE_FIRECRACKER_BIN', stablePath(m, 'firecracker')],
    ['NULLSPACE_JAILER_BIN', stablePath(m, 'jailer')],
    ['NULLSPACE_KERNEL', stablePath(m, 'kernel')],
    ['NULLSPACE_ROOTFS', stablePath(m, 'rootfs')],
    ['NULLSPACE_TEMPLATE', stablePath(m, 'template')],
    ['NULLSPACE_CONSOLE_BUNDLE', stablePath(m, 'console')],
    ['NULLSPACE_MIGRATION_BUNDLE', stablePath(m, 'migration_bundle')],
    ['NULLSPACE_FIRECRACKER_VERSION', rc.firecracker_version],
    ['NULLSPACE_FIRECRACKER_COMMIT', rc.firecracker_commit],
    ['NULLSPACE_SNAPSHOT_DATA_FORMAT', rc.snapshot_data_format],
    ['NULLSPACE_SNAPSHOT_METADATA_FORMAT', rc.snapshot_metadata_format],
    ['NULLSPACE_KERNEL_IDENTITY', rc.kernel_identity],
    ['NULLSPACE_GUEST_AGENT_PROTOCOL_VERSION', rc.guest_agent_protocol_version],
    ['NULLSPACE_RUNTIME_CLASS', rc.runtime_class],
  ]
  const quote = (v: string) => (/^[A-Za-z0-9_./:@+-]*$/.test(v) ? v : `"${v.replace(/(["\\$`])/g, '\\$1')}"`)
  return [
    `# Rendered by nullspace-host from ${m.manifest_id}; changes are overwritten on the next switch.`,
    ...vars.map(([k, v]) => `${k}=${quote(v)}`),
    '',
  ].join('\n')
}

/**
 * A path as the program word of a unit's command line (systemd.service, COMMAND LINES): `%`
 * starts a specifier, so it is doubled; a space would split the word, so anything beyond plain
 * path characters is double-quoted. `$` stays as it is: systemd does not expand variables in
 * the program to execute. Quotes, backslashes and control characters cannot be written at all
 * (systemd refuses them in an executable name); the manifest rules refuse them first.
 */
export function unitProgramWord(p: string): string {
  const word = p.replace(/%/g, '%%')
  return /^[A-Za-z0-9_./:@+,=-]+$/.test(p) ? word : `"${word}"`
}

export function renderApiUnit(m: Manifest): string {
  return [
    '# Rendered by nullspace-host; changes are overwritten on the next switch.',
    '[Unit]',
    'Description=nullspace API',
    'After=network-online.target',
    'Wants=network-online.target',
    // A crash loop ends in `failed` (5 starts within 60 s, RestartSec=2: about 10 s) instead of flapping
    // forever, so the health wait after a switch sees it well within its window.
    'StartLimitIntervalSec=60',
    'StartLimitBurst=5',
    '',
    '[Service]',
    'Type=simple',
    `EnvironmentFile=${APPLIANCE_ENV}`,
    `ExecStart=${unitProgramWord(stablePath(m, 'api'))}`,
    'Restart=on-failure',
    'RestartSec=2',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n')
}

/** Where systemd reads the units this tool renders. */
export const UNIT_DIR = '/etc/systemd/system'

/** The unit a rendered file defines (`nullspace-api.service`), or null for any other file. */
export function unitOf(file: RenderedFile | string): string | null {
  const p = typeof file === 'string' ? file : file.path
  return path.dirname(p) === UNIT_DIR && p.endsWith('.service') ? path.basename(p) : null
}

export function renderApplianceFiles(m: Manifest, digest: string): RenderedFile[] {
  return [
    { path: APPLIANCE_ENV, content: renderApplianceEnv(m, digest), mode: 0o644 },
    { path: API_UNIT, content: renderApiUnit(m), mode: 0o644 },
  ]
}
