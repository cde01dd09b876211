// The launch gate's checks as data and pure judgements. run.ts gathers the facts (files under
// --root, the manifest, a deep doctor, HTTP answers) and times each check; the functions
// here only look at those facts and say pass, fail or skip, with a detail an operator can act on.
import type { DoctorReport } from '../doctor.js'
import type { Manifest, RuntimeCompatibility } from '../manifest/codec.js'
import { firecrackerMinor } from '../compat.js'
import type { GetResult } from './http.js'
import type { KvmProbe, OsRelease } from '../../state/host-facts.js'

export type { KvmProbe, OsRelease }

export type GateMode = 'localhost' | 'owned-domain'
export const GATE_MODES: readonly GateMode[] = ['localhost', 'owned-domain']
export const CONFIRM_PHRASE = 'run nullspace launch gate'
export const SUPPORTED_UBUNTU = ['22.04', '24.04'] as const
export const SUPPORTED_ARCHITECTURE = 'x86_64'

export type CheckStatus = 'pass' | 'fail' | 'skip'

/** What a check concluded. */
export interface Outcome {
  readonly status: CheckStatus
  readonly detail: string
}

/** One line of launch-gate.json's `checks`. */
export interface CheckResult extends Outcome {
  readonly name: CheckName
  readonly started_at: string
  readonly duration_ms: number
}

/** Every check, in the order they run and are reported. */
export const CHECKS = [
  'manifest.trusted',
  'host.os',
  'host.architecture',
  'host.kvm',
  'doctor.deep',
  'release.active',
  'compatibility',
  'console',
  'ingress',
  'evidence.signature',
] as const
export type CheckName = (typeof CHECKS)[number]

export const pass = (detail: string): Outcome => ({ status: 'pass', detail })
export const fail = (detail: string): Outcome => ({ status: 'fail', detail })
export const skip = (detail: string): Outcome => ({ status: 'skip', detail })

/** The host facts launch-gate.json records. */
export interface GateHostFacts {
  readonly root: string
  readonly os_release: OsRelease
  readonly architecture: string
  readonly kvm: KvmProbe
  /** Of the machine the gate ran on (not under --root). */
  readonly hostname: string
  readonly kernel_release: string
}

/** The manifest as the gate saw it: decoded when it passed the rules, trusted when the policy held. */
export interface ManifestFacts {
  readonly path: string
  readonly manifest: Manifest | null
  readonly digest: string | null
  /** Why it did not decode or pass the rules. */
  readonly invalid: string | null
  /** Why the host's (or the owned-domain) signature policy refused it. */
  readonly untrusted: string | null
  /** Key id of the verified signature, when one was required and held. */
  readonly signed_by: string | null
  readonly trusted_keys: number
}

export interface EvidenceKeyFacts {
  /** Where the key was configured: the flag, the root's evidence-key file, or nowhere. */
  readonly source: 'flag' | 'root' | null
  readonly path: string | null
  readonly key_id: string | null
  /** Why a configured key cannot be used. */
  readonly problem: string | null
}

export function judgeOs(os: OsRelease): Outcome {
  const supported = `the launch gate supports Ubuntu ${SUPPORTED_UBUNTU.join(' and ')}`
  if (os.file === null) return fail(`no etc/os-release (or usr/lib/os-release) under the root, so the distribution is unknown; ${supported}`)
  const what = `${os.pretty_name ?? os.id ?? 'unknown'} (ID=${os.id ?? '?'}, VERSION_ID=${os.version_id ?? '?'}, from ${os.file})`
  if (os.id !== 'ubuntu') return fail(`${what} is not Ubuntu; ${supported}`)
  if (!SUPPORTED_UBUNTU.includes(os.version_id as (typeof SUPPORTED_UBUNTU)[number])) return fail(`${what}: Ubuntu ${os.version_id ?? '(no VERSION_ID)'} is not supported; ${supported}`)
  return pass(what)
}

export function judgeArchitecture(hostArch: string, manifest: Manifest | null): Outcome {
  if (hostArch !== SUPPORTED_ARCHITECTURE) return fail(`this host is ${hostArch}; the launch gate supports ${SUPPORTED_ARCHITECTURE} hosts only`)
  if (manifest === null) return pass(`host ${hostArch} (the manifest could not be read, so its architecture is not compared)`)
  if (manifest.architecture !== hostArch) return fail(`the manifest is for ${manifest.architecture}, this host is ${hostArch}`)
  return pass(`host ${hostArch}, manifest ${manifest.architecture}`)
}

export function judgeKvm(kvm: KvmProbe): Outcome {
  if (kvm.kind === 'absent') return fail(`${kvm.path} does not exist: KVM is not available (enable virtualisation, load kvm_intel or kvm_amd, or expose /dev/kvm to this machine)`)
  if (kvm.kind === 'other') return fail(`${kvm.path} is a ${kvm.other ?? 'non-device'}, not a character device; microVMs need the real /dev/kvm`)
  const dev = kvm.device ? ` ${kvm.device.major}:${kvm.device.minor}` : ''
  if (kvm.open_error !== null) return fail(`${kvm.path} (character device${dev}) cannot be opened read-write: ${kvm.open_error}; run as root or as a member of the kvm group`)
  return pass(`${kvm.path} is a character device${dev} and opens read-write`)
}

export function judgeManifest(mode: GateMode, m: ManifestFacts): Outcome {
  if (m.invalid !== null) return fail(m.invalid)
  if (m.untrusted !== null) return fail(m.untrusted)
  const id = `${m.manifest?.manifest_id} (${m.digest})`
  if (m.signed_by !== null) return pass(`${id} is valid and signed by trusted key ${m.signed_by}`)
  if (mode === 'owned-domain') return fail(`${id} is valid but not signed by a trusted key; owned-domain needs a signed manifest`)
  return pass(`${id} is valid; this host has no trusted keys, so no signature is required in localhost mode`)
}

export function judgeDoctor(report: DoctorReport | null, error: string | null): Outcome {
  if (report === null) return fail(`doctor --deep could not run: ${error ?? 'unknown error'}`)
  if (!report.ok) return fail(`doctor --deep found ${report.problems.length} problem${report.problems.length === 1 ? '' : 's'}: ${report.problems.join('; ')}`)
  const rehashed = report.components.filter((c) => c.evidence === 'sha256').length
  return pass(`clean: ${rehashed} component${rehashed === 1 ? '' : 's'} rehashed, ${report.links.length} links and ${report.rendered.length} rendered files as expected`)
}

export function judgeActiveRelease(report: DoctorReport | null, manifest: Manifest | null, digest: string | null): Outcome {
  if (manifest === null) return skip('the manifest could not be read, so there is no release to compare')
  if (report === null) return fail('the active release could not be read (doctor did not run)')
  const active = report.active
  if (active === null) return fail(`no active sealed release on this host; install ${manifest.release_id} first`)
  if (active.release_id !== manifest.release_id) return fail(`the active release is ${active.release_id}, not the manifest's ${manifest.release_id}; install or upgrade to ${manifest.release_id} first`)
  if (digest !== null && active.manifest_digest !== digest) return fail(`${active.release_id} is active but was sealed from manifest ${active.manifest_digest}, not ${digest}`)
  return pass(`${active.release_id} is active (manifest ${active.manifest_digest})`)
}

const RC_FIELDS: readonly (keyof RuntimeCompatibility)[] = [
  'firecracker_version', 'firecracker_commit', 'snapshot_data_format', 'kernel_identity', 'rootfs_digest',
  'template_digest', 'guest_agent_protocol_version', 'runtime_class', 'snapshot_metadata_format',
]

export function judgeCompatibility(report: DoctorReport | null, manifest: Manifest | null): Outcome {
  if (manifest === null) return skip('the manifest could not be read, so there are no compatibility facts to compare')
  const active = report?.compatibility ?? null
  if (report === null || report.active === null || active === null) return skip('no active release, so there are no installed compatibility facts to compare')
  const want = manifest.runtime_compatibility
  const problems: string[] = []
  for (const f of RC_FIELDS) if (active[f] !== want[f]) problems.push(`${f} is ${active[f]} on the host but ${want[f]} in the manifest`)
  const version = (kind: string) => report.components.find((c) => c.kind === kind)?.version ?? null
  const fc = version('firecracker')
  const jailer = version('jailer')
  if (fc !== jailer) problems.push(`the installed firecracker (${fc ?? 'none'}) and jailer (${jailer ?? 'none'}) versions differ`)
  if (fc !== null && fc !== active.firecracker_version) problems.push(`the installed firecracker is ${fc}, but firecracker_version is ${active.firecracker_version}`)
  const fcMinor = firecrackerMinor(active.firecracker_version)
  const snapMinor = firecrackerMinor(active.snapshot_data_format)
  if (fcMinor && snapMinor && fcMinor !== snapMinor) problems.push(`snapshot_data_format ${active.snapshot_data_format} names Firecracker ${snapMinor}, but firecracker_version is ${active.firecracker_version}`)
  if (problems.length > 0) return fail(problems.join('; '))
  return pass(`runtime_compatibility of ${report.active.release_id} equals the manifest's; firecracker and jailer ${fc}, snapshot format ${active.snapshot_data_format}, kernel ${active.kernel_identity}`)
}

/** owned-domain: the console must be served over https on the public hostname. Null when it may be requested. */
export function judgeConsoleTarget(mode: GateMode, consoleUrl: string, publicHostname: string | null): Outcome | null {
  let u: URL
  try {
    u = new URL(consoleUrl)
  } catch {
    return fail(`--console-url ${consoleUrl} is not a URL`)
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return fail(`--console-url ${consoleUrl}: only http and https URLs can be checked`)
  if (mode !== 'owned-domain') return null
  const host = (h: string) => h.toLowerCase().replace(/\.$/, '')
  if (u.protocol !== 'https:') return fail(`owned-domain needs the console over https, and ${consoleUrl} is ${u.protocol.replace(':', '')}`)
  if (publicHostname === null || host(u.hostname) !== host(publicHostname)) return fail(`owned-domain needs the console on the public hostname ${publicHostname ?? '(none given)'}, and ${consoleUrl} is on ${u.hostname}`)
  return null
}

const looksLikeHtml = (body: string) => /<!doctype html|<html[\s>]/i.test(body.slice(0, 64 * 1024))

export function judgeConsoleAnswer(r: GetResult): Outcome {
  const via = r.address ? ` (connected to ${r.address})` : ''
  if (r.status !== 200) return fail(`${r.url} answered ${r.status}${via}; expected 200 with the console's HTML`)
  const type = r.contentType.split(';')[0]!.trim().toLowerCase()
  if (type !== 'text/html' && type !== 'application/xhtml+xml') return fail(`${r.url} answered 200 with content-type ${r.contentType || '(none)'}${via}; expected text/html`)
  if (!looksLikeHtml(r.body)) return fail(`${r.url} answered 200 text/html${via}, but the body is not an HTML document (no <!doctype html> or <html>)`)
  return pass(`${r.url} answered 200 ${type}, ${Buffer.byteLength(r.body)} bytes of HTML${via}`)
}

export function judgeEvidenceKey(mode: GateMode, key: EvidenceKeyFacts, rootKeyPath: string): Outcome {
  if (key.problem !== null) return fail(`${key.path}: ${key.problem}; the evidence will not be signed`)
  if (key.key_id !== null) return pass(`the evidence is signed by key ${key.key_id} (${key.source === 'flag' ? '--evidence-key' : key.path})`)
  if (mode === 'owned-domain') return fail(`owned-domain evidence must be signed: pass --evidence-key K or install a key at ${rootKeyPath} (make one with nullspace-host manifest keygen)`)
  return skip(`no evidence key configured (--evidence-key, or ${rootKeyPath}); the evidence is checksummed but not signed`)
}
