// Runs every launch check in order, never stopping at the first failure: each check gathers
// what it needs (files under --root, the manifest, a deep doctor, HTTP answers), is judged by
// checks.ts, and is timed. A check that throws is a failed check, not a failed gate run.
import os from 'node:os'
import { E } from '../commonjs.cjs'
import { EVIDENCE_KEY, TRUSTED_KEYS_DIR, layout } from '../layout.js'
import { loadTrusted, type HostFlags } from '../operations.js'
import { manifestFetch, manifestSourceName } from '../manifest/remote.js'
import { loadManifest } from '../manifest/load.js'
import { readTrustedKeys, SignatureFile } from '../signature.js'
import { runDoctor, type DoctorReport } from '../doctor.js'
import { smokeIngress } from '../exec/smoke.js'
import { Failure } from '../errors.js'
import { probeKvm, readHostFacts, readOsRelease } from '../../state/host-facts.js'
import {
  type CheckName, type CheckResult, type EvidenceKeyFacts, type GateHostFacts, type GateMode, type KvmProbe, type ManifestFacts, type OsRelease, type Outcome,
  CHECKS, fail, judgeActiveRelease, judgeArchitecture, judgeCompatibility, judgeConsoleAnswer, judgeConsoleTarget, judgeDoctor, judgeEvidenceKey, judgeKvm,
  judgeManifest, judgeOs, pass, skip,
} from './checks.js'
import { get, type ResolvePin } from './http.js'

export interface GateOptions {
  readonly mode: GateMode
  readonly flags: HostFlags
  readonly manifestPath: string
  readonly consoleUrl: string
  readonly publicHostname: string | null
  readonly ingressUrl: string
  /** Seconds each network check may take (the console GET; the ingress smoke's retries). */
  readonly timeoutS: number
  readonly ca: Buffer | null
  readonly resolve: readonly ResolvePin[]
  readonly evidenceKey: EvidenceKeyFacts
}

export interface GateRun {
  readonly mode: GateMode
  readonly started_at: string
  readonly finished_at: string
  readonly ok: boolean
  readonly manifest: ManifestFacts
  /** The manifest's bytes, kept with the evidence when it could be read. */
  readonly manifest_bytes: Buffer | null
  readonly host: GateHostFacts
  readonly checks: readonly CheckResult[]
  readonly doctor: DoctorReport | null
  readonly doctor_error: string | null
  readonly targets: { readonly console_url: string; readonly public_hostname: string | null; readonly ingress_url: string }
}

const firstLine = (e: unknown) => (e instanceof Error ? e.message : String(e)).split('\n')[0]!
const failureText = (e: unknown) => (e instanceof Failure && e.details.length > 0 ? `${e.message}: ${e.details.join('; ')}` : firstLine(e)).replace(/\.? ?Nothing was changed\.?$/, '')

/** The manifest through loadTrusted; when it is valid but refused, still decoded so the other checks can compare it. */
export async function readManifestFacts(mode: GateMode, file: string, flags: HostFlags): Promise<{ facts: ManifestFacts; bytes: Buffer | null }> {
  const abs = manifestSourceName(file)
  const keysDir = layout(flags.root).host(TRUSTED_KEYS_DIR)
  const base = { path: abs, manifest: null, digest: null, invalid: null, untrusted: null, signed_by: null, trusted_keys: 0 }
  // Unsafe trust material is a problem loadTrusted reports as the reason; here only the count.
  const trustedKeys = (await readTrustedKeys(flags.root)).keys.size
  try {
    const { loaded, signature } = await loadTrusted(abs, flags)
    const facts = { ...base, manifest: loaded.manifest, digest: loaded.digest, trusted_keys: trustedKeys }
    if (signature === null) {
      const untrusted = mode === 'owned-domain' ? `owned-domain needs a manifest signed by a trusted key, and ${keysDir} holds no .pub; copy the release pipeline's public key there` : null
      return { facts: { ...facts, untrusted }, bytes: loaded.bytes }
    }
    const sig = SignatureFile.decode(JSON.parse(signature.toString('utf8')))
    return { facts: { ...facts, signed_by: E.isRight(sig) ? sig.right.key_id : null }, bytes: loaded.bytes }
  } catch (refused) {
    const valid = await loadManifest(abs, { now: Date.now(), allowHttp: flags.allowHttp, allowExpired: flags.allowExpired }, manifestFetch(flags))
    if (E.isLeft(valid)) return { facts: { ...base, trusted_keys: trustedKeys, invalid: failureText(valid.left) }, bytes: null }
    return { facts: { ...base, trusted_keys: trustedKeys, manifest: valid.right.manifest, digest: valid.right.digest, untrusted: failureText(refused) }, bytes: valid.right.bytes }
  }
}

/** Runs every check and returns the whole record; never throws for a failing check. */
export async function runGate(o: GateOptions, now: () => Date = () => new Date()): Promise<GateRun> {
  const l = layout(o.flags.root)
  const startedAt = now()
  const results: CheckResult[] = []

  let osRelease: OsRelease = { file: null, id: null, version_id: null, pretty_name: null }
  let kvm: KvmProbe = { path: l.host('/dev/kvm'), kind: 'absent', open_error: null }
  let architecture = 'unknown'
  let doctor: DoctorReport | null = null
  let doctorError: string | null = null
  // Read by the first check; every later check compares against what it found.
  let manifest: { facts: ManifestFacts; bytes: Buffer | null } = {
    facts: { path: manifestSourceName(o.manifestPath), manifest: null, digest: null, invalid: 'the manifest was not read', untrusted: null, signed_by: null, trusted_keys: 0 },
    bytes: null,
  }
  let m: ManifestFacts['manifest'] = null

  const bodies: Record<CheckName, () => Promise<Outcome>> = {
    'host.os': async () => judgeOs((osRelease = await readOsRelease(l))),
    'host.architecture': async () => judgeArchitecture((architecture = (await readHostFacts(l)).architecture), m),
    'host.kvm': async () => judgeKvm((kvm = await probeKvm(l))),
    'manifest.trusted': async () => {
      manifest = await readManifestFacts(o.mode, o.manifestPath, o.flags).catch((e) => ({ facts: { ...manifest.facts, invalid: failureText(e) }, bytes: null }))
      m = manifest.facts.manifest
      return judgeManifest(o.mode, manifest.facts)
    },
    'doctor.deep': async () => {
      try {
        doctor = await runDoctor(l, true)
      } catch (e) {
        doctorError = firstLine(e)
      }
      return judgeDoctor(doctor, doctorError)
    },
    'release.active': async () => judgeActiveRelease(doctor, m, manifest.facts.digest),
    compatibility: async () => judgeCompatibility(doctor, m),
    console: async () => {
      const refused = judgeConsoleTarget(o.mode, o.consoleUrl, o.publicHostname)
      if (refused) return refused
      try {
        return judgeConsoleAnswer(await get(o.consoleUrl, { ca: o.ca ?? undefined, resolve: o.resolve, timeoutMs: o.timeoutS * 1000 }))
      } catch (e) {
        return fail(`${firstLine(e)}; expected 200 with the console's HTML`)
      }
    },
    ingress: async () => {
      if (m === null) return skip('the manifest could not be read, so there is no release id to expect')
      try {
        await smokeIngress(o.ingressUrl, m.release_id, o.timeoutS)
        return pass(`${o.ingressUrl} serves the ingress fixture for ${m.release_id}`)
      } catch (e) {
        return fail(firstLine(e))
      }
    },
    'evidence.signature': async () => judgeEvidenceKey(o.mode, o.evidenceKey, l.host(EVIDENCE_KEY)),
  }

  for (const name of CHECKS) {
    const started = now()
    const t0 = performance.now()
    let outcome: Outcome
    try {
      outcome = await bodies[name]()
    } catch (e) {
      outcome = fail(`the check could not run: ${firstLine(e)}`)
    }
    results.push({ name, status: outcome.status, detail: outcome.detail, started_at: started.toISOString(), duration_ms: Math.round(performance.now() - t0) })
  }

  return {
    mode: o.mode,
    started_at: startedAt.toISOString(),
    finished_at: now().toISOString(),
    ok: results.every((r) => r.status === 'pass' || (r.status === 'skip' && r.name === 'evidence.signature')),
    manifest: manifest.facts,
    manifest_bytes: manifest.bytes,
    host: { root: l.root, os_release: osRelease, architecture, kvm, hostname: os.hostname(), kernel_release: os.release() },
    checks: results,
    doctor,
    doctor_error: doctorError,
    targets: { console_url: o.consoleUrl, public_hostname: o.publicHostname, ingress_url: o.ingressUrl },
  }
}
