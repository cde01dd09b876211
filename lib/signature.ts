// Detached ed25519 signatures of manifests (and of launch-gate evidence): key pairs,
// `M.sig` files, and the trust policy of a host (`etc/nullspace/trusted-keys/*.pub`).
import fs from 'node:fs/promises'
import { constants } from 'node:fs'
import path from 'node:path'
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto'
import { t, E } from './commonjs.cjs'
import { Failure, errnoCode, manifestError, usageError } from './errors.js'
import { formatProblem, problemsFromErrors } from './manifest/problems.js'
import { isUnreadable, readRegularFile, type RegularFileOptions, type UnreadableFile, writeFileAtomic } from './fsx.js'
import { TRUSTED_KEYS_DIR } from './layout.js'
import { exposedSecretProblem, symlinkProblem, trustMaterialProblems, unsafeOwnerOrMode } from './trust-material.js'

export const SignatureFile = t.type({
  key_id: t.string,
  algorithm: t.literal('ed25519'),
  signature: t.string,
})
export type SignatureFile = t.TypeOf<typeof SignatureFile>

/** First 16 hex characters of the sha256 of the public key's SPKI DER. */
export function keyId(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16)
}

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
 * required (DESIGN section 3: signatures are required "when any .pub exists").
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

/** A signature file is a small JSON document; anything bigger is refused before it is read. */
export const MAX_SIGNATURE_BYTES = 64 * 1024

export type SignatureCheck = E.Either<string, { readonly keyId: string; readonly bytes: Buffer }>

/**
 * Checks `sigFile` over `bytes` against `keys`; Left is the reason, for an exit-65 message. The
 * signature is read only as a regular file of at most MAX_SIGNATURE_BYTES (a FIFO planted as the
 * signature must not hang the command holding the host lock, nor /dev/zero fill its memory).
 */
export async function checkSignature(bytes: Buffer, sigFile: string, keys: ReadonlyMap<string, KeyObject>, o: RegularFileOptions = { followSymlink: true }): Promise<SignatureCheck> {
  return verifySignatureBytes(bytes, await readRegularFile(sigFile, MAX_SIGNATURE_BYTES, o), sigFile, keys)
}

/**
 * The one check of a detached signature document `raw` (named `sigLabel` in messages: a path or
 * a URL) over `bytes`, wherever the signature came from: a file beside the manifest, or a
 * download of `<url>.sig`.
 */
export function verifySignatureBytes(bytes: Buffer, raw: Buffer | UnreadableFile, sigLabel: string, keys: ReadonlyMap<string, KeyObject>): SignatureCheck {
  // A URL has no "file": "no signature at https://.../manifest.json.sig".
  if (isUnreadable(raw)) return E.left(raw.missing ? `no signature ${/^[a-z][a-z0-9+.-]*:\/\//i.test(sigLabel) ? 'at' : 'file'} ${sigLabel}` : `${sigLabel} ${raw.why}`)
  let json: unknown
  try {
    json = JSON.parse(raw.toString('utf8'))
  } catch {
    return E.left(`${sigLabel} is not valid JSON`)
  }
  const decoded = SignatureFile.decode(json)
  if (E.isLeft(decoded)) return E.left(`${sigLabel} is malformed: ${problemsFromErrors(decoded.left).map(formatProblem)[0]}`)
  const sig = decoded.right
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

/**
 * The host's policy: with any trusted key present, a manifest must carry a valid detached
 * signature (`<manifest>.sig` unless `sig` says where else it comes from); trust material that
 * is unsafe refuses every manifest (never fail open). `source` is the manifest's path or URL, for
 * messages. Returns the signature bytes to seal with the release.
 */
export function enforceManifestSignature(source: string, bytes: Buffer, root: string, sig: SignatureSource = signatureBeside(source)): Promise<Buffer | null> {
  return enforceDocumentSignature('manifest', source, bytes, root, sig)
}

/**
 * The same policy for any signed document (`what`: "manifest", "channel"): exit 65 naming the
 * document when a trusted key exists and the signature is missing or bad, or when the trust
 * material is unsafe; null when the host trusts no key.
 */
export async function enforceDocumentSignature(what: string, source: string, bytes: Buffer, root: string, sig: SignatureSource): Promise<Buffer | null> {
  const trust = await readTrustedKeys(root)
  if (trust.problems.length > 0) {
    const more = trust.problems.length > 1 ? ` (and ${trust.problems.length - 1} more problem${trust.problems.length > 2 ? 's' : ''} below)` : ''
    throw manifestError(`${source}: untrusted ${what}: the host's trust material is unsafe: ${trust.problems[0]}${more}; every ${what} is refused until it is fixed. Nothing was changed`, trust.problems.slice(1))
  }
  if (trust.keys.size === 0) return null
  const check = verifySignatureBytes(bytes, await sig.read(), sig.label, trust.keys)
  if (E.isLeft(check)) throw manifestError(`${source}: untrusted ${what}: ${check.left}; this host requires a signature by one of ${trust.dir}/*.pub. Nothing was changed`)
  return check.right.bytes
}
