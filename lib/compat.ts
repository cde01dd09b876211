// Host and release compatibility rules for install and upgrade. Pure: the host's facts and
// the active release's manifest are inputs. Each finding is a warning or a blocker with its reason.
import type { Manifest } from './manifest/codec.js'
import type { Blocker } from './plan/types.js'
import type { HostFacts } from '../state/host-facts.js'

// The host's facts are read by state/host-facts.ts; compat.ts judges them.
export { type HostFacts, hostArchitecture } from '../state/host-facts.js'

export interface Findings {
  readonly warnings: string[]
  readonly blockers: Blocker[]
}

export interface ReleaseRuleFlags {
  readonly allowDowngrade: boolean
  readonly acceptSnapshotFormatChange: boolean
}

/** The Firecracker minor version a string names: "v1.12.1" and "firecracker-v1.12" both give "1.12". */
export function firecrackerMinor(s: string): string | null {
  const m = /v?(\d+)\.(\d+)/.exec(s)
  return m ? `${m[1]}.${m[2]}` : null
}

/** Said by install and upgrade (a warning of the plan) and by doctor, while `<root>/dev/kvm` is absent. */
export const NO_KVM = '/dev/kvm is not present on this host: microVMs will not start until KVM is available'

export function hostFindings(next: Manifest, host: HostFacts): Findings {
  const warnings: string[] = []
  const blockers: Blocker[] = []
  if (next.architecture !== host.architecture)
    blockers.push({ message: `the manifest is for ${next.architecture}, this host is ${host.architecture}`, exit: 1 })
  if (!host.kvm) warnings.push(NO_KVM)
  const rc = next.runtime_compatibility
  const fc = firecrackerMinor(rc.firecracker_version)
  const snap = firecrackerMinor(rc.snapshot_data_format)
  if (fc && snap && fc !== snap)
    warnings.push(`snapshot_data_format ${rc.snapshot_data_format} names Firecracker ${snap}, but firecracker_version is ${rc.firecracker_version}`)
  return { warnings, blockers }
}

export async function releaseFindings(active: Manifest | null, next: Manifest, flags: ReleaseRuleFlags): Promise<Findings> {
  const warnings: string[] = []
  const blockers: Blocker[] = []
  if (active === null || active.release_id === next.release_id) return { warnings, blockers }
  // semver is loaded only when two releases' versions are compared (never for a no-op plan),
  // and only its `lt`: its index loads every module semver has.
  const { default: semverLt } = await import('semver/functions/lt.js')
  const a = active.runtime_compatibility
  const n = next.runtime_compatibility
  if (semverLt(next.version, active.version)) {
    const message = `${next.release_id} (version ${next.version}) is older than the active ${active.release_id} (version ${active.version})`
    if (flags.allowDowngrade) warnings.push(`downgrade allowed by --allow-downgrade: ${message}`)
    else blockers.push({ message: `${message}; pass --allow-downgrade to install it anyway`, exit: 1 })
  }
  for (const field of ['snapshot_data_format', 'snapshot_metadata_format'] as const) {
    if (a[field] === n[field]) continue
    const message = `${field} changes from ${a[field]} to ${n[field]}: existing snapshots will not restore`
    warnings.push(message)
    if (!flags.acceptSnapshotFormatChange) blockers.push({ message: `${message}; pass --accept-snapshot-format-change to accept`, exit: 1 })
  }
  if (a.guest_agent_protocol_version !== n.guest_agent_protocol_version)
    warnings.push(`guest_agent_protocol_version changes from ${a.guest_agent_protocol_version} to ${n.guest_agent_protocol_version}: running guests need a restart`)
  if (active.architecture !== next.architecture) blockers.push({ message: `architecture changes from ${active.architecture} to ${next.architecture}; a host cannot change architecture`, exit: 1 })
  if (a.runtime_class !== n.runtime_class) blockers.push({ message: `runtime_class changes from ${a.runtime_class} to ${n.runtime_class}; install the new runtime class on a new host`, exit: 1 })
  for (const c of next.components) {
    const old = active.components.find((x) => x.kind === c.kind)
    if (old && old.compatibility_class !== c.compatibility_class) warnings.push(`${c.name}: compatibility_class changes from ${old.compatibility_class} to ${c.compatibility_class}`)
  }
  return { warnings, blockers }
}

export function migrationWarning(from: Manifest | null, to: Manifest): string | null {
  const a = from?.components.find((c) => c.kind === 'migration_bundle')
  const b = to.components.find((c) => c.kind === 'migration_bundle')
  if (!a || !b || a.sha256 === b.sha256) return null
  return `the migration bundle differs between ${from!.release_id} and ${to.release_id}: database migrations are not rolled back; restore a verified appliance backup to reverse them`
}
