// The keys of backup records: the evidence key signs them (ARCHITECTURE.md section 8.2, "signed like
// evidence"); verify checks with --key, or with the public half of the configured evidence key.
import fs from 'node:fs/promises'
import { createPublicKey, type KeyObject } from 'node:crypto'
import { EVIDENCE_KEY, type Layout } from '../layout.js'
import { errnoCode } from '../errors.js'
import { readPublicKey, readSecretKey } from '../signature.js'
import { usageError } from '../errors.js'

/** The configured evidence key, or null when there is none; an unusable one (exposed, not ed25519) is an error, never skipped. */
export async function evidenceSigningKey(l: Layout): Promise<KeyObject | null> {
  const p = l.host(EVIDENCE_KEY)
  try {
    await fs.lstat(p)
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return null
  }
  return readSecretKey(p)
}

/** `--key PUB`, else the evidence key's public half, else null (the record cannot be checked for a signature). */
export async function verifyingKey(l: Layout, flag: string | undefined): Promise<{ key: KeyObject; source: string } | null> {
  if (flag !== undefined) {
    try {
      return { key: await readPublicKey(flag), source: flag }
    } catch (e) {
      throw usageError(`--key ${flag}: not an ed25519 public key (SPKI PEM) (${errnoCode(e) ?? (e as Error).message}); give the .pub that manifest keygen wrote`)
    }
  }
  const key = await evidenceSigningKey(l)
  return key === null ? null : { key: createPublicKey(key), source: l.host(EVIDENCE_KEY) }
}
