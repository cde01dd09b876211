// Which roots a host accepts (ARCHITECTURE.md section 8.5, after TUF's root role): a first root signed by
// a threshold of its own keys; then only version N+1, signed by a threshold of the installed
// root's keys AND a threshold of its own. Pure: the clock is a parameter, nothing is read or written,
// so a refused root can never be half-taken (the trap of tough CVE-2025-2888: rejected metadata
// kept; and of go-tuf GHSA-66x3-6cw3-v5gj: a version compared with a default instead of the
// trusted one).
import { E } from '../commonjs.cjs'
import { isExpired, type TrustRoot } from './root-format.js'
import { signersOf, type SignatureFile } from './signature-document.js'

const expiredProblem = (root: TrustRoot, label: string) =>
  `${label} (version ${root.version}) expired at ${root.expiresAt}; sign a root with a later expires_at`

/**
 * Null when `bytes` carry signatures by at least `by.threshold` distinct keys of `by`; else how
 * many did (naming `whose` keys), who, and why the rest counted zero.
 */
function shortfall(bytes: Buffer, by: TrustRoot, sigs: readonly SignatureFile[], whose: string): string | null {
  const s = signersOf(bytes, sigs, by.keys)
  if (s.keyIds.length >= by.threshold) return null
  const signed = s.keyIds.length === 0 ? 'none' : s.keyIds.join(', ')
  const ignored = s.ignored.length > 0 ? `; counted zero: ${s.ignored.join('; ')}` : ''
  return `signed by ${s.keyIds.length} distinct key${s.keyIds.length === 1 ? '' : 's'} among ${whose}, which requires ${by.threshold} (signed: ${signed}${ignored})`
}

/** A first root (`trust init`): not expired, and signed by a threshold of its own keys. */
export function checkFirstRoot(candidate: TrustRoot, sigs: readonly SignatureFile[], label: string, now: Date): E.Either<string, TrustRoot> {
  if (isExpired(candidate, now)) return E.left(expiredProblem(candidate, label))
  const own = shortfall(candidate.bytes, candidate, sigs, 'its own keys')
  if (own !== null) return E.left(`${label} is ${own}; sign it with more of its keys: manifest sign --manifest ${label} --key K`)
  return E.right(candidate)
}

/** A new root (`trust update`) against the installed one `current` (which may itself have expired). */
export function checkRootUpdate(current: TrustRoot, candidate: TrustRoot, sigs: readonly SignatureFile[], label: string, now: Date): E.Either<string, TrustRoot> {
  const next = current.version + 1
  if (candidate.version < current.version) return E.left(`${label} is version ${candidate.version}, older than the installed root (version ${current.version}): a rollback to an older root is refused; only version ${next} is accepted`)
  if (candidate.version === current.version) return E.left(`${label} is version ${candidate.version}, the version already installed; only version ${next} is accepted`)
  if (candidate.version > next) return E.left(`${label} is version ${candidate.version}, which skips version ${next}${candidate.version > next + 1 ? `-${candidate.version - 1}` : ''}; install each version in turn, ${next} first`)
  if (isExpired(candidate, now)) return E.left(expiredProblem(candidate, label))
  const byCurrent = shortfall(candidate.bytes, current, sigs, `the installed root (version ${current.version})`)
  if (byCurrent !== null) return E.left(`${label} is ${byCurrent}; a new root must be signed by a threshold of the keys this host trusts now, as well as by its own`)
  const byOwn = shortfall(candidate.bytes, candidate, sigs, 'its own keys')
  if (byOwn !== null) return E.left(`${label} is ${byOwn}; a new root must also be signed by a threshold of its own keys, which proves they are held`)
  return E.right(candidate)
}
