// The id of an ed25519 public key (README, "Command reference", `manifest keygen`): what a signature names
// and what a trust root lists its keys under. Kept apart from signature.ts so the trust root's
// modules can use it without importing the policy that uses them.
import { createHash, type KeyObject } from 'node:crypto'

/** First 16 hex characters of the sha256 of the public key's SPKI DER. */
export function keyId(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16)
}

export const KEY_ID = /^[0-9a-f]{16}$/
