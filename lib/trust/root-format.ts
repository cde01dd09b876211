// The trust root (ARCHITECTURE.md section 8.5): `etc/nullspace/trust/root.json`, the keys a host trusts,
// how many of them must sign, until when, and its version in the chain of roots. The codec is the
// one runtime definition; schemas/root.schema.json mirrors it (spec/trust-root-schema.spec.ts keeps the
// two equal). The rules beside it (threshold within the key count, each key ed25519 and listed
// under its own id, no key id twice) are the codec's alone.
import { createPublicKey, type KeyObject } from 'node:crypto'
import { t, E } from '../commonjs.cjs'
import { closed, oneOf, pattern, Timestamp, wholeNumber } from '../manifest/codec.js'
import { formatProblem, problemsFromErrors } from '../manifest/problems.js'
import { KEY_ID, keyId } from './key-id.js'

export const ROOT_FORMAT = 'nullspace-root-v1'
/** A root names a few keys; 64 KiB holds hundreds. Bigger is refused before it is read. */
export const MAX_ROOT_BYTES = 64 * 1024
/** At most this many keys; a signature file may hold two roots' worth (a rotation). */
export const MAX_ROOT_KEYS = 32

export const PositiveInteger = wholeNumber('an integer of at least 1', 1)
export const PUBLIC_KEY_PEM = /^-----BEGIN PUBLIC KEY-----\r?\n[A-Za-z0-9+/=\r\n]+-----END PUBLIC KEY-----\r?\n?$/
export const KeyId = pattern(KEY_ID, 'a key id: 16 lowercase hex characters, as manifest keygen names the key')
export const PublicKeyPem = pattern(PUBLIC_KEY_PEM, 'an ed25519 public key in SPKI PEM (the content of the .pub manifest keygen writes)')
export const RootFormat = oneOf([ROOT_FORMAT] as const)
/**
 * Key id to SPKI PEM. Not t.record: io-ts drops a member whose name fails the domain instead of
 * reporting it, and a misspelt key id must be named, never silently left out of the root.
 */
export const RootKeys = new t.Type<Record<string, string>, Record<string, string>, unknown>(
  'an object of key id to SPKI PEM',
  (u): u is Record<string, string> => typeof u === 'object' && u !== null && !Array.isArray(u) && Object.entries(u).every(([k, v]) => KeyId.is(k) && PublicKeyPem.is(v)),
  (u, c) => {
    if (typeof u !== 'object' || u === null || Array.isArray(u)) return t.failure(u, c)
    const errors: t.Errors = []
    for (const [k, v] of Object.entries(u as Record<string, unknown>)) {
      if (!KeyId.is(k)) errors.push({ value: k, context: [...c, { key: k, type: KeyId, actual: k }], message: undefined })
      else if (!PublicKeyPem.is(v)) errors.push({ value: v, context: [...c, { key: k, type: PublicKeyPem, actual: v }], message: undefined })
    }
    return errors.length > 0 ? t.failures(errors) : t.success(u as Record<string, string>)
  },
  t.identity,
)

export const Root = closed('trust root', { format: RootFormat, version: PositiveInteger, expires_at: Timestamp, threshold: PositiveInteger, keys: RootKeys }, {})
export type RootDocument = t.TypeOf<typeof Root>

/** A decoded root: its document, its keys by id, and the exact bytes that were signed. */
export interface TrustRoot {
  readonly version: number
  readonly expiresAt: string
  readonly threshold: number
  readonly keys: ReadonlyMap<string, KeyObject>
  readonly bytes: Buffer
}

/** Every cross-field problem of a decoded root; none when it is usable. */
export function rootRuleProblems(doc: RootDocument): { problems: string[]; keys: Map<string, KeyObject> } {
  const problems: string[] = []
  const keys = new Map<string, KeyObject>()
  const ids = Object.keys(doc.keys)
  if (ids.length > MAX_ROOT_KEYS) problems.push(`keys: ${ids.length} keys, more than the ${MAX_ROOT_KEYS} a root may hold`)
  if (doc.threshold > ids.length) problems.push(`threshold: ${doc.threshold} is more than the ${ids.length} key${ids.length === 1 ? '' : 's'} listed, so nothing could ever be trusted; lower it or add keys`)
  for (const id of ids) {
    let key: KeyObject
    try {
      key = createPublicKey(doc.keys[id]!)
    } catch {
      problems.push(`keys.${id}: not a public key in SPKI PEM; paste the content of the .pub manifest keygen wrote`)
      continue
    }
    if (key.asymmetricKeyType !== 'ed25519') {
      problems.push(`keys.${id}: a ${key.asymmetricKeyType ?? 'unknown'} key, not ed25519; make one with manifest keygen`)
      continue
    }
    const computed = keyId(key)
    if (computed !== id) problems.push(`keys.${id}: this key's id is ${computed} (first 16 hex of sha256 of its SPKI DER); list it under that id`)
    else keys.set(id, key)
  }
  return { problems, keys }
}

/** Object members named twice (`keys.<id>` for a key id): JSON.parse keeps the last silently. */
async function duplicateMembers(text: string): Promise<string[]> {
  const { visit } = await import('jsonc-parser')
  const open: Set<string>[] = []
  const dups: string[] = []
  visit(text, {
    onObjectBegin: () => void open.push(new Set()),
    onObjectEnd: () => void open.pop(),
    onObjectProperty: (name, _offset, _length, _line, _column, pathOf) => {
      const seen = open[open.length - 1]!
      if (seen.has(name)) dups.push([...pathOf(), name].join('.'))
      seen.add(name)
    },
  })
  return dups
}

/** `bytes` as a trust root, or every reason it is not one (each naming its field), for `label`. */
export async function decodeRoot(bytes: Buffer, label: string): Promise<E.Either<string, TrustRoot>> {
  const text = bytes.toString('utf8')
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (e) {
    return E.left(`${label}: not valid JSON (${(e as Error).message})`)
  }
  const decoded = Root.decode(json)
  if (E.isLeft(decoded)) return E.left(`${label}: ${problemsFromErrors(decoded.left, ROOT_FORMAT).map(formatProblem).join('; ')}`)
  // Checked on a document the codec accepted, so at most two levels deep.
  const dups = await duplicateMembers(text)
  if (dups.length > 0) return E.left(`${label}: ${dups.map((d) => `${d}: named twice (a JSON reader would keep only the last); list each key once`).join('; ')}`)
  const { problems, keys } = rootRuleProblems(decoded.right)
  if (problems.length > 0) return E.left(`${label}: ${problems.join('; ')}`)
  const d = decoded.right
  return E.right({ version: d.version, expiresAt: d.expires_at, threshold: d.threshold, keys, bytes })
}

export const isExpired = (root: TrustRoot, now: Date): boolean => Date.parse(root.expiresAt) <= now.getTime()
