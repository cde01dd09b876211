// Detached ed25519 signatures of manifests (and of launch-gate evidence): key pairs,
// `M.sig` files, and the trust policy of a host (`etc/nullspace/trusted-keys/*.pub`).
import fs from 'node:fs/promises'
import path from 'node:path'
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto'
import { t, E } from './commonjs.cjs'
import { Failure, EXIT, errnoCode, manifestError, usageError } from './errors.js'
import { formatProblem, problemsFromErrors } from './manifest/problems.js'
import { isUnreadable, readRegularFile, type RegularFileOptions, writeFileAtomic } from './fsx.js'

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

export async function readPrivateKey(file: string): Promise<KeyObject> {
  let pem: Buffer
  try {
    pem = await fs.readFile(file)
  } catch (e) {
    throw usageError(`${file}: cannot read the signing key (${errnoCode(e) === 'ENOENT' ? 'no such file' : (e as Error).message}); make one with manifest keygen --out DIR`)
  }
  try {
    const key = createPrivateKey(pem)
    if (key.asymmetricKeyType !== 'ed25519') throw new Error('not ed25519')
    return key
  } catch {
    throw usageError(`${file}: not an ed25519 private key (PKCS#8 PEM); make one with manifest keygen --out DIR`)
  }
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

/** Public keys of `dir/*.pub` by key id; an unreadable key is an error, not a silent skip. */
export async function readTrustedKeys(dir: string): Promise<Map<string, KeyObject>> {
  const keys = new Map<string, KeyObject>()
  let names: string[]
  try {
    names = (await fs.readdir(dir)).filter((n) => n.endsWith('.pub')).sort()
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return keys
    throw new Failure(EXIT.failed, `${dir}: cannot read the trusted keys: ${(e as Error).message}`)
  }
  for (const name of names) {
    try {
      const key = await readPublicKey(path.join(dir, name))
      keys.set(keyId(key), key)
    } catch {
      throw new Failure(EXIT.failed, `${path.join(dir, name)}: not an ed25519 public key (SPKI PEM); fix or remove it`)
    }
  }
  return keys
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
  const raw = await readRegularFile(sigFile, MAX_SIGNATURE_BYTES, o)
  if (isUnreadable(raw)) return E.left(raw.missing ? `no signature file ${sigFile}` : `${sigFile} ${raw.why}`)
  let json: unknown
  try {
    json = JSON.parse(raw.toString('utf8'))
  } catch {
    return E.left(`${sigFile} is not valid JSON`)
  }
  const decoded = SignatureFile.decode(json)
  if (E.isLeft(decoded)) return E.left(`${sigFile} is malformed: ${problemsFromErrors(decoded.left).map(formatProblem)[0]}`)
  const sig = decoded.right
  const key = keys.get(sig.key_id)
  if (!key) return E.left(`signed by key ${sig.key_id}, which is not among the trusted keys (${[...keys.keys()].join(', ')})`)
  const signature = Buffer.from(sig.signature, 'base64')
  if (signature.length !== 64 || !verify(null, bytes, key, signature)) return E.left(`the signature by key ${sig.key_id} does not match the bytes (changed after signing, or a forged signature)`)
  return E.right({ keyId: sig.key_id, bytes: raw })
}

/**
 * The host's policy: with any trusted key present, a manifest must carry a valid
 * detached signature `<manifest>.sig`. Returns the signature bytes to seal with the release.
 */
export async function enforceManifestSignature(manifestPath: string, bytes: Buffer, trustedKeysDir: string): Promise<Buffer | null> {
  const keys = await readTrustedKeys(trustedKeysDir)
  const sigFile = `${manifestPath}.sig`
  if (keys.size === 0) return null
  const check = await checkSignature(bytes, sigFile, keys)
  if (E.isLeft(check)) throw manifestError(`${manifestPath}: untrusted manifest: ${check.left}; this host requires a signature by one of ${trustedKeysDir}/*.pub. Nothing was changed`)
  return check.right.bytes
}
