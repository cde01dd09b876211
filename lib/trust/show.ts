// `trust show`: what this host trusts, as data (the human and --json renderings read the same
// report): the trust root, the trusted-keys directory and whether it is used, and the evidence
// key that signs launch-gate evidence and backup records, which stays apart from the root.
import { createPublicKey } from 'node:crypto'
import path from 'node:path'
import { E } from '../commonjs.cjs'
import { Failure, manifestError } from '../errors.js'
import { isUnreadable, readRegularFile } from '../fsx.js'
import { EVIDENCE_KEY, layout } from '../layout.js'
import { evidenceSigningKey } from '../backup/keys.js'
import { readTrustedKeys } from '../signature.js'
import { isExpired } from './root-format.js'
import { ROOT_SIG_FILE, readInstalledRoot } from './root-store.js'
import { keyId } from './key-id.js'
import { MAX_SIGNATURE_BYTES, parseSignatureDocument, signersOf } from './signature-document.js'

export interface TrustReport {
  readonly root: null | {
    readonly file: string
    readonly version: number
    readonly expires_at: string
    readonly expired: boolean
    readonly threshold: number
    readonly key_ids: readonly string[]
    /** The root's own signatures as installed: which of its keys signed it. */
    readonly signature: { readonly file: string; readonly signed_by: readonly string[]; readonly problem: string | null }
  }
  readonly trusted_keys: { readonly dir: string; readonly key_ids: readonly string[]; readonly used: boolean; readonly problems: readonly string[] }
  readonly evidence_key: { readonly file: string; readonly key_id: string | null; readonly problem: string | null }
}

export async function trustReport(hostRoot: string, now: Date): Promise<TrustReport> {
  const installed = await readInstalledRoot(hostRoot)
  if (installed.state === 'unusable') throw manifestError(`the host's trust root cannot be used: ${installed.problems[0]}; every manifest is refused until it is fixed`)
  const trusted = await readTrustedKeys(hostRoot)
  const evidenceFile = layout(hostRoot).host(EVIDENCE_KEY)
  let evidence: TrustReport['evidence_key'] = { file: evidenceFile, key_id: null, problem: null }
  try {
    const key = await evidenceSigningKey(layout(hostRoot))
    if (key !== null) evidence = { ...evidence, key_id: keyId(createPublicKey(key)) }
  } catch (e) {
    evidence = { ...evidence, problem: e instanceof Failure ? e.message : (e as Error).message }
  }
  let root: TrustReport['root'] = null
  if (installed.state === 'installed') {
    const r = installed.root
    const sigFile = path.join(path.dirname(installed.file), ROOT_SIG_FILE)
    const raw = await readRegularFile(sigFile, MAX_SIGNATURE_BYTES)
    const doc = isUnreadable(raw) ? E.left(`${sigFile} ${raw.why}`) : parseSignatureDocument(raw, sigFile)
    const signedBy = E.isRight(doc) ? signersOf(r.bytes, doc.right, r.keys).keyIds : []
    const problem = E.isLeft(doc) ? doc.left : signedBy.length < r.threshold ? `signed by ${signedBy.length} of its keys, fewer than its threshold ${r.threshold}` : null
    root = {
      file: installed.file,
      version: r.version,
      expires_at: r.expiresAt,
      expired: isExpired(r, now),
      threshold: r.threshold,
      key_ids: [...r.keys.keys()],
      signature: { file: sigFile, signed_by: signedBy, problem },
    }
  }
  return {
    root,
    trusted_keys: { dir: trusted.dir, key_ids: [...trusted.keys.keys()], used: root === null, problems: trusted.problems },
    evidence_key: evidence,
  }
}

export function renderTrustReport(t: TrustReport): string[] {
  const lines: string[] = []
  if (t.root === null) lines.push(`No trust root (${t.trusted_keys.dir.replace(/trusted-keys$/, 'trust/root.json')} does not exist): manifests are judged by the trusted keys below, any one signature suffices.`)
  else {
    const r = t.root
    lines.push(`Trust root ${r.file}: version ${r.version}, ${r.expired ? `EXPIRED at ${r.expires_at} (every manifest is refused; install a newer root with trust update FILE)` : `expires ${r.expires_at}`}`)
    lines.push(`  threshold: ${r.threshold} of ${r.key_ids.length} keys: ${r.key_ids.join(', ')}`)
    lines.push(`  ${r.signature.file}: ${r.signature.problem ?? `signed by ${r.signature.signed_by.join(', ')}`}`)
  }
  const k = t.trusted_keys
  const ids = k.key_ids.length === 0 ? 'none' : k.key_ids.join(', ')
  lines.push(`Trusted keys ${k.dir}: ${ids}${k.used ? '' : ' (not used while a trust root is installed)'}${k.problems.length > 0 ? `; problems: ${k.problems.join('; ')}` : ''}`)
  const e = t.evidence_key
  lines.push(`Evidence key ${e.file} (signs launch-gate evidence and backup records; not part of the root): ${e.problem ?? (e.key_id === null ? 'none' : `key ${e.key_id}`)}`)
  return lines
}
