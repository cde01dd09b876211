// The ten component kinds and where `manifest build` expects and installs each one
// (ARCHITECTURE.md section 7). Every other module reads this table instead of repeating it.

export const COMPONENT_KINDS = [
  'api',
  'console',
  'guest_agent',
  'rootfs',
  'template',
  'kernel',
  'firecracker',
  'jailer',
  'migration_bundle',
  'operator_tool',
] as const

export type ComponentKind = (typeof COMPONENT_KINDS)[number]

export interface KindLayout {
  readonly kind: ComponentKind
  /** File name `manifest build` expects in `--artifact-dir`. */
  readonly file: string
  readonly installPath: string
  readonly activePath?: string
  /** Installed 0555 rather than 0444. */
  readonly executable: boolean
}

export const KIND_LAYOUT: readonly KindLayout[] = [
  { kind: 'api', file: 'nullspace-api', installPath: 'bin/nullspace-api', activePath: '/opt/nullspace/nullspace-api', executable: true },
  { kind: 'console', file: 'console.tar.gz', installPath: 'console/console.tar.gz', executable: false },
  { kind: 'guest_agent', file: 'nullspace-guest-agent', installPath: 'bin/nullspace-guest-agent', executable: true },
  { kind: 'rootfs', file: 'rootfs.ext4', installPath: 'artifacts/rootfs.ext4', activePath: '/opt/nullspace/artifacts/rootfs.ext4', executable: false },
  { kind: 'template', file: 'template.ext4', installPath: 'artifacts/template.ext4', activePath: '/opt/nullspace/artifacts/template.ext4', executable: false },
  { kind: 'kernel', file: 'vmlinux', installPath: 'artifacts/vmlinux', activePath: '/opt/nullspace/artifacts/vmlinux', executable: false },
  { kind: 'firecracker', file: 'firecracker', installPath: 'bin/firecracker', activePath: '/opt/nullspace/bin/firecracker', executable: true },
  { kind: 'jailer', file: 'jailer', installPath: 'bin/jailer', activePath: '/opt/nullspace/bin/jailer', executable: true },
  { kind: 'migration_bundle', file: 'migrations.tar.gz', installPath: 'migrations/migrations.tar.gz', executable: false },
  { kind: 'operator_tool', file: 'nullspace-host', installPath: 'bin/nullspace-host', activePath: '/opt/nullspace/bin/nullspace-host', executable: true },
]

export const ARCHITECTURES = ['x86_64', 'aarch64'] as const
export type Architecture = (typeof ARCHITECTURES)[number]

/** Defaults of `manifest build --guest-agent-protocol-version`, `--runtime-class` and `--snapshot-metadata-format` (documented in README). */
export const BUILD_DEFAULTS = {
  guestAgentProtocolVersion: '1',
  runtimeClass: 'firecracker',
  snapshotMetadataFormat: 'nullspace-snapshot-metadata-v1',
} as const
