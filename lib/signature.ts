// Detached ed25519 signatures of manifests (and of launch-gate evidence): key pairs,
// `M.sig` files, and the trust policy of a host: its trust root (`etc/nullspace/trust/root.json`,
// ARCHITECTURE.md section 8.5) when it has one, else `etc/nullspace/trusted-keys/*.pub`.
import fs from 'node:fs/promises'
import { constants } from 'node:fs'
import path from 'node:path'
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto'
import { E } from './commonjs.cjs'
import { Failure, errnoCode, manifestError, usageError } from './errors.js'
import { isUnreadable, readRegularFile, type RegularFileOptions, type UnreadableFile, writeFileAtomic } from './fsx.js'
import { TRUSTED_KEYS_DIR } from './layout.js'
import { exposedSecretProblem, symlinkProblem, trustMaterialProblems, unsafeOwnerOrMode } from './trust-material.js'
import { keyId } from './trust/key-id.js'
import { MAX_SIGNATURE_BYTES, MAX_SIGNATURES, parseSignatureDocument, serializeSignatures, SignatureFile, signersOf, withSignature } from './trust/signature-document.js'
import { isExpired } from './trust/root-format.js'
import { readInstalledRoot } from './trust/root-store.js'

export { keyId, MAX_SIGNATURE_BYTES, SignatureFile }

export async function generateKeyPair(dir: string): Promise<{ keyId: string; privatePath: string; publicPath: string }> {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519')
  const id = keyId(publicKey)
  await fs.mkdir(dir, { recursive: true, mode: 0o700 })
  const privatePath = path.join(dir, `${id}.key`)
  const publicPath = path.join(dir, `${id}.pub`)
  await writeFileAtomic(privatePath, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, 0o600)
  await writeFileAtomic(publicPath, publicKey.export({ type: 'spki', format: 'pem' }) as string, 0o644)
  return { keyId: id, privatePath, publicPath }
}

const unreadableKey = (file: string, e: unknown) =>
  usageError(`${file}: cannot read the signing key (${errnoCode(e) === 'ENOENT' ? 'no such file' : (e as Error).message}); make one with manifest keygen --out DIR`)

function parsePrivateKey(file: string, pem: Buffer): KeyObject {
  try {
    const key = createPrivateKey(pem)
    if (key.asymmetricKeyType !== 'ed25519') throw new Error('not ed25519')
    return key
  } catch {
    throw usageError(`${file}: not an ed25519 private key (PKCS#8 PEM); make one with manifest keygen --out DIR`)
  }
}

export async function readPrivateKey(file: string): Promise<KeyObject> {
  let pem: Buffer
  try {
    pem = await fs.readFile(file)
  } catch (e) {
    throw unreadableKey(file, e)
  }
  return parsePrivateKey(file, pem)
}

/**
 * A private key that must be its owner's alone (the evidence key): refused, as a usage error
 * naming the fix, when group or other can read it; judged on the file it opened and read.
 */
export async function readSecretKey(file: string): Promise<KeyObject> {
  let pem: Buffer
  try {
    const fh = await fs.open(file, constants.O_RDONLY | constants.O_NONBLOCK)
    try {
      const exposed = exposedSecretProblem(file, await fh.stat())
      if (exposed !== null) throw usageError(exposed)
      pem = await fh.readFile()
    } finally {
      await fh.close()
    }
  } catch (e) {
    throw e instanceof Failure ? e : unreadableKey(file, e)
  }
  return parsePrivateKey(file, pem)
}

export async function readPublicKey(file: string): Promise<KeyObject> {
  const key = createPublicKey(await fs.readFile(file))
  if (key.asymmetricKeyType !== 'ed25519') throw new Error('not an ed25519 key')
  return key
}

export function signBytes(bytes: Buffer, key: KeyObject): SignatureFile {
  return { key_id: keyId(createPublicKey(key)), algorithm: 'ed25519', signature: sign(null, bytes, key).toString('base64') }
}

export async function writeSignature(file: string, sig: SignatureFile): Promise<void> {
  await writeFileAtomic(file, `${JSON.stringify(sig, null, 2)}\n`, 0o644)
}

/**
 * Adds `sig` to the signature file `file` (`manifest sign`), so several keys can sign one document
 * for a trust root's threshold: one signature is written as one object (as before), more as an
 * array; a new signature by a key already in the file replaces that key's entry, never a second
 * entry. An existing file that is not a signature file is refused, never overwritten.
 * Returns how many signatures the file now holds.
 */
export async function appendSignature(file: string, sig: SignatureFile): Promise<number> {
  const existing = await readRegularFile(file, MAX_SIGNATURE_BYTES, { followSymlink: true })
  let sigs: SignatureFile[] = []
  if (!isUnreadable(existing)) {
    const doc = parseSignatureDocument(existing, file)
    if (E.isLeft(doc)) throw manifestError(`${doc.left}; it was left as it is: remove it to start a new signature file`)
    sigs = doc.right
  } else if (!existing.missing) throw manifestError(`${file} ${existing.why}; it was left as it is: remove it to start a new signature file`)
  const all = withSignature(sigs, sig)
  if (all.length > MAX_SIGNATURES) throw manifestError(`${file} already holds ${sigs.length} signatures, the most a signature file may hold; it was left as it is`)
  await writeFileAtomic(file, serializeSignatures(all), 0o644)
  return all.length
}

export interface TrustedKeys {
  readonly dir: string
  /** Public keys by key id. */
  readonly keys: ReadonlyMap<string, KeyObject>
  /** Why the trust material cannot be used; any one refuses every manifest. */
  readonly problems: readonly string[]
}

/** A public key file is a small PEM document; anything bigger is refused before it is read. */
const MAX_PUBLIC_KEY_BYTES = 64 * 1024

/**
 * The trusted keys of the host at `root`: `etc/nullspace/trusted-keys/*.pub`. A key file is an
 * entry whose name ends in `.pub` exactly; any other entry (`X.PUB`, `X.pub.bak`, a directory)
 * is a problem named by path, not skipped, so a key the operator meant to trust is never
 * silently ignored. The dir, its parents below the root and each key must pass
 * trustMaterialProblems. An existing, empty, safe dir trusts nothing: no key, no signature
 * required (README, "Signed manifests": a signature is required when the directory holds any `.pub`).
 */
export async function readTrustedKeys(root: string): Promise<TrustedKeys> {
  const dir = path.join(root, TRUSTED_KEYS_DIR)
  const keys = new Map<string, KeyObject>()
  const problems: string[] = []
  const result = () => ({ dir, keys, problems })
  let st
  try {
    st = await fs.lstat(dir)
  } catch (e) {
    const code = errnoCode(e)
    if (code === 'ENOENT' || code === 'ENOTDIR') return result()
  }
  problems.push(...(await trustMaterialProblems(root, dir)))
  if (problems.length > 0) return result()
  if (!st?.isDirectory()) return problems.push(`${dir} is not a directory; it must be a directory of ed25519 public keys named *.pub`), result()
  let names: string[]
  try {
    names = (await fs.readdir(dir)).sort()
  } catch (e) {
    return problems.push(`${dir}: cannot read the trusted keys (${errnoCode(e) ?? (e as Error).message}); make it readable by the user running nullspace-host`), result()
  }
  for (const name of names) {
    const file = path.join(dir, name)
    if (!name.endsWith('.pub')) {
      problems.push(`${file} is not a key file: ${dir} holds only ed25519 public keys named *.pub, and a key under another name would not be trusted; rename it to end in .pub or remove it`)
      continue
    }
    const key = await readTrustedKey(file, problems)
    if (key) keys.set(keyId(key), key)
  }
  return result()
}

/** One key file, judged on the file it opened (no symlink followed); its problems go to `problems`. */
async function readTrustedKey(file: string, problems: string[]): Promise<KeyObject | null> {
  let fh
  try {
    // O_NOFOLLOW: a link is refused, not followed; O_NONBLOCK: a planted FIFO does not hang.
    fh = await fs.open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  } catch (e) {
    problems.push(errnoCode(e) === 'ELOOP' ? await symlinkProblem(file) : `${file}: cannot read the key (${errnoCode(e) ?? (e as Error).message}); make it readable by the user running nullspace-host`)
    return null
  }
  try {
    const st = await fh.stat()
    if (!st.isFile()) return problems.push(`${file} is not a regular file; a trusted key is a file of SPKI PEM`), null
    const unsafe = unsafeOwnerOrMode(file, st)
    if (unsafe.length > 0) return problems.push(...unsafe), null
    if (st.size > MAX_PUBLIC_KEY_BYTES) return problems.push(`${file} is ${st.size} bytes, more than a public key can be; fix or remove it`), null
    const key = createPublicKey(await fh.readFile())
    if (key.asymmetricKeyType !== 'ed25519') throw new Error('not an ed25519 key')
    return key
  } catch {
    problems.push(`${file}: not an ed25519 public key (SPKI PEM); fix or remove it`)
    return null
  } finally {
    await fh.close()
  }
}

export type SignatureCheck = E.Either<string, { readonly keyId: string; readonly bytes: Buffer }>

/**
 * Checks `sigFile` over `bytes` against `keys`; Left is the reason, for an exit-65 message. The
 * signature is read only as a regular file of at most MAX_SIGNATURE_BYTES (a FIFO planted as the
 * signature must not hang the command holding the host lock, nor /dev/zero fill its memory).
 */
export async function checkSignature(bytes: Buffer, sigFile: string, keys: ReadonlyMap<string, KeyObject>, o: RegularFileOptions = { followSymlink: true }): Promise<SignatureCheck> {
  return verifySignatureBytes(bytes, await readRegularFile(sigFile, MAX_SIGNATURE_BYTES, o), sigFile, keys)
}

/** Why a signature could not be read; a URL has no "file": "no signature at https://.../manifest.json.sig". */
const unreadableSignature = (raw: UnreadableFile, label: string) =>
  raw.missing ? `no signature ${/^[a-z][a-z0-9+.-]*:\/\//i.test(label) ? 'at' : 'file'} ${label}` : `${label} ${raw.why}`

/**
 * The one check of a detached signature document `raw` (named `sigLabel` in messages: a path or
 * a URL) over `bytes`, wherever the signature came from: a file beside the manifest, or a
 * download of `<url>.sig`.
 */
export function verifySignatureBytes(bytes: Buffer, raw: Buffer | UnreadableFile, sigLabel: string, keys: ReadonlyMap<string, KeyObject>): SignatureCheck {
  if (isUnreadable(raw)) return E.left(unreadableSignature(raw, sigLabel))
  const doc = parseSignatureDocument(raw, sigLabel)
  if (E.isLeft(doc)) return doc
  if (doc.right.length > 1) {
    // Several signatures (manifest sign appends): without a trust root, one valid signature by a trusted key suffices, as it does alone.
    const s = signersOf(bytes, doc.right, keys)
    if (s.keyIds.length > 0) return E.right({ keyId: s.keyIds[0]!, bytes: raw })
    return E.left(`none of the ${doc.right.length} signatures in ${sigLabel} is a valid one by a trusted key (${[...keys.keys()].join(', ')}): ${s.ignored.join('; ')}`)
  }
  const sig = doc.right[0]!
  const key = keys.get(sig.key_id)
  if (!key) return E.left(`signed by key ${sig.key_id}, which is not among the trusted keys (${[...keys.keys()].join(', ')})`)
  const signature = Buffer.from(sig.signature, 'base64')
  if (signature.length !== 64 || !verify(null, bytes, key, signature)) return E.left(`the signature by key ${sig.key_id} does not match the bytes (changed after signing, or a forged signature)`)
  return E.right({ keyId: sig.key_id, bytes: raw })
}

/** Reads the detached signature of a document; `label` names it in messages. */
export interface SignatureSource {
  readonly label: string
  read(): Promise<Buffer | UnreadableFile>
}

/** The signature beside a local document: `<file>.sig`, a regular file of at most MAX_SIGNATURE_BYTES. */
export const signatureBeside = (file: string): SignatureSource => ({
  label: `${file}.sig`,
  read: () => readRegularFile(`${file}.sig`, MAX_SIGNATURE_BYTES, { followSymlink: true }),
})

/** What a signature policy judges: named in messages ("untrusted manifest"). */
export type SignedKind = 'manifest' | 'channel'

/**
 * The host's policy, the one entry point for every signed document (`kind`). With a trust root
 * (`etc/nullspace/trust/root.json`), the document needs valid signatures by at least `threshold`
 * distinct keys of the root, and an expired or unusable root refuses every document; the
 * trusted-keys directory is then not consulted. Without a root, as before: with any trusted key
 * present, a valid signature by one of them; unsafe trust material refuses every document (never
 * fail open). The signature is `<source>.sig` unless `sig` says where else it comes from; `source`
 * is the document's path or URL, for messages. Returns the signature bytes to keep with it.
 */
export async function enforceSignaturePolicy(kind: SignedKind, source: string, bytes: Buffer, root: string, sig: SignatureSource = signatureBeside(source)): Promise<Buffer | null> {
  const installed = await readInstalledRoot(root)
  if (installed.state === 'absent') return enforceTrustedKeys(kind, source, bytes, root, sig)
  const untrusted = `${source}: untrusted ${kind}`
  if (installed.state === 'unusable')
    throw manifestError(`${untrusted}: the host's trust root cannot be used: ${installed.problems[0]}; every ${kind} is refused until it is fixed. Nothing was changed`)
  const r = installed.root
  if (isExpired(r, new Date()))
    throw manifestError(`${untrusted}: the host's trust root ${installed.file} (version ${r.version}) expired at ${r.expiresAt}, so it no longer vouches for any key; install a newer root signed by its keys with: nullspace-host trust update FILE. Nothing was changed`)
  const raw = await sig.read()
  if (isUnreadable(raw)) throw manifestError(`${untrusted}: ${unreadableSignature(raw, sig.label)}; this host's trust root requires signatures by ${r.threshold} of its keys. Nothing was changed`)
  const doc = parseSignatureDocument(raw, sig.label)
  if (E.isLeft(doc)) throw manifestError(`${untrusted}: ${doc.left}. Nothing was changed`)
  const s = signersOf(bytes, doc.right, r.keys)
  if (s.keyIds.length < r.threshold) {
    const signed = s.keyIds.length === 0 ? '' : ` (${s.keyIds.join(', ')})`
    const ignored = s.ignored.length > 0 ? `; counted zero: ${s.ignored.join('; ')}` : ''
    throw manifestError(`${untrusted}: signed by ${s.keyIds.length} distinct key${s.keyIds.length === 1 ? '' : 's'} of the trust root${signed}, which requires ${r.threshold}${ignored}; add signatures by other keys of ${installed.file} (manifest sign --manifest F --key K appends to ${sig.label}). Nothing was changed`)
  }
  return raw
}

/** The manifest's policy: enforceSignaturePolicy for a manifest. */
export const enforceManifestSignature = (source: string, bytes: Buffer, root: string, sig: SignatureSource = signatureBeside(source)): Promise<Buffer | null> =>
  enforceSignaturePolicy('manifest', source, bytes, root, sig)

/** The policy without a trust root: any one key of `etc/nullspace/trusted-keys/*.pub`, when there is one. */
async function enforceTrustedKeys(kind: SignedKind, source: string, bytes: Buffer, root: string, sig: SignatureSource): Promise<Buffer | null> {
  const trust = await readTrustedKeys(root)
  if (trust.problems.length > 0) {
    const more = trust.problems.length > 1 ? ` (and ${trust.problems.length - 1} more problem${trust.problems.length > 2 ? 's' : ''} below)` : ''
    throw manifestError(`${source}: untrusted ${kind}: the host's trust material is unsafe: ${trust.problems[0]}${more}; every ${kind} is refused until it is fixed. Nothing was changed`, trust.problems.slice(1))
  }
  if (trust.keys.size === 0) return null
  const check = verifySignatureBytes(bytes, await sig.read(), sig.label, trust.keys)
  if (E.isLeft(check)) throw manifestError(`${source}: untrusted ${kind}: ${check.left}; this host requires a signature by one of ${trust.dir}/*.pub. Nothing was changed`)
  return check.right.bytes
}
