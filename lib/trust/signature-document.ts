// A detached signature file (`M.sig`, `root.json.sig`): one signature object, as `manifest sign`
// always wrote, or a JSON array of them (ARCHITECTURE.md section 8.5), one per signing key.
import { verify, type KeyObject } from 'node:crypto'
import { t, E } from '../commonjs.cjs'
import { formatProblem, problemsFromErrors } from '../manifest/problems.js'
import { keyId } from './key-id.js'

export const SignatureFile = t.type({
  key_id: t.string,
  algorithm: t.literal('ed25519'),
  signature: t.string,
})
export type SignatureFile = t.TypeOf<typeof SignatureFile>

/** A signature file is a small JSON document; anything bigger is refused before it is read. */
export const MAX_SIGNATURE_BYTES = 64 * 1024
/**
 * More signatures than any root has keys (a root holds at most MAX_ROOT_KEYS) is not a signature
 * file but an attempt to make the verifier work: refused before any entry is decoded.
 */
export const MAX_SIGNATURES = 64

/** The signatures `raw` holds, in file order; Left is the reason, naming `label`. */
export function parseSignatureDocument(raw: Buffer, label: string): E.Either<string, SignatureFile[]> {
  let json: unknown
  try {
    json = JSON.parse(raw.toString('utf8'))
  } catch {
    return E.left(`${label} is not valid JSON`)
  }
  if (!Array.isArray(json)) {
    const one = SignatureFile.decode(json)
    return E.isLeft(one) ? E.left(`${label} is malformed: ${problemsFromErrors(one.left).map(formatProblem)[0]}`) : E.right([one.right])
  }
  if (json.length === 0) return E.left(`${label} is an empty array: it holds no signature; sign with manifest sign --key K`)
  if (json.length > MAX_SIGNATURES) return E.left(`${label} holds ${json.length} signatures, more than the ${MAX_SIGNATURES} a signature file may hold; it is refused unread`)
  const out: SignatureFile[] = []
  for (const [i, entry] of json.entries()) {
    const one = SignatureFile.decode(entry)
    if (E.isLeft(one)) {
      const first = problemsFromErrors(one.left)[0]!
      return E.left(`${label} is malformed: ${formatProblem({ path: first.path ? `[${i}].${first.path}` : `[${i}]`, message: first.message })}`)
    }
    out.push(one.right)
  }
  return E.right(out)
}

/** What a signature file writes: one object for one signature (as before arrays existed), else an array. */
export function serializeSignatures(sigs: readonly SignatureFile[]): string {
  return `${JSON.stringify(sigs.length === 1 ? sigs[0] : sigs, null, 2)}\n`
}

/** `existing` with `sig` added; a signature by the same key replaces that key's entry in place. */
export function withSignature(existing: readonly SignatureFile[], sig: SignatureFile): SignatureFile[] {
  const i = existing.findIndex((s) => s.key_id === sig.key_id)
  return i < 0 ? [...existing, sig] : existing.map((s, j) => (j === i ? sig : s))
}

export interface Signers {
  /** Distinct ids of the keys in `keys` whose signature over the bytes verifies. */
  readonly keyIds: readonly string[]
  /** Why each other entry counted zero, in file order. */
  readonly ignored: readonly string[]
}

/**
 * Who signed `bytes`, among `keys` (by key id, as keyId computes it). Counted over distinct keys,
 * never over entries: a second signature by a key counts nothing. A signature by a key outside
 * `keys`, or one that does not verify, counts zero (as in TUF) and is reported in `ignored`.
 */
export function signersOf(bytes: Buffer, sigs: readonly SignatureFile[], keys: ReadonlyMap<string, KeyObject>): Signers {
  const keyIds: string[] = []
  const ignored: string[] = []
  for (const s of sigs) {
    const key = keys.get(s.key_id)
    // The map is keyed by the id computed from each key, so a key listed under another id is not found.
    if (!key || keyId(key) !== s.key_id) {
      ignored.push(`key ${s.key_id} is not one of them`)
      continue
    }
    const signature = Buffer.from(s.signature, 'base64')
    if (signature.length !== 64 || !verify(null, bytes, key, signature)) {
      ignored.push(`the signature by key ${s.key_id} does not match the bytes (changed after signing, or forged)`)
      continue
    }
    if (keyIds.includes(s.key_id)) {
      ignored.push(`key ${s.key_id} signed more than once and counts once`)
      continue
    }
    keyIds.push(s.key_id)
  }
  return { keyIds, ignored }
}
