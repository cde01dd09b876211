// The seal of a release (`.nullspace-release.json`): what was verified, and the stat of each
// file at seal time, so `doctor` and `plan` can trust a release without rehashing it.
import fs from 'node:fs/promises'
import path from 'node:path'
import { t, E } from '../lib/commonjs.cjs'
import { Digest, ReleaseId, Sha256Hex } from '../lib/manifest/codec.js'
import { formatProblem, problemsFromErrors } from '../lib/manifest/problems.js'
import { writeFileAtomic } from '../lib/fsx.js'
import { SEAL_FILE } from '../lib/layout.js'
import { errnoCode } from '../lib/errors.js'
import type { PathState } from './path-state.js'

export const Obtained = t.union([
  t.type({ how: t.literal('fetched'), bytes_fetched: t.number }),
  t.type({ how: t.literal('linked'), from_release: t.string }),
  t.type({ how: t.literal('verified-local') }),
  t.type({ how: t.literal('repaired'), bytes_fetched: t.number }),
  t.type({ how: t.literal('delta'), bytes_fetched: t.number, bytes_reused: t.number }),
])
export type Obtained = t.TypeOf<typeof Obtained>

export const SealedComponent = t.union([
  t.type({
    name: t.string,
    kind: t.string,
    install_path: t.string,
    status: t.literal('installed'),
    sha256: Sha256Hex,
    size: t.number,
    mtime_ms: t.number,
    ino: t.number,
    obtained: Obtained,
  }),
  t.type({
    name: t.string,
    kind: t.string,
    install_path: t.string,
    status: t.literal('skipped'),
    sha256: Sha256Hex,
    size: t.number,
    reason: t.string,
  }),
])
export type SealedComponent = t.TypeOf<typeof SealedComponent>

/** A sealed file is trusted while its size, mtime and inode are what the seal recorded. */
export function sealedFileIntact(c: SealedComponent, st: PathState | undefined): boolean {
  return (
    c.status === 'installed' &&
    st?.kind === 'file' &&
    st.stat.size === c.size &&
    st.stat.mtimeMs === c.mtime_ms &&
    st.stat.ino === c.ino &&
    // Rehashed (--deep): bytes changed under an unchanged stat are not intact either.
    (st.sha256 === undefined || st.sha256 === c.sha256)
  )
}

export const Seal = t.type({
  format_version: t.literal(1),
  release_id: ReleaseId,
  manifest_id: t.string,
  version: t.string,
  manifest_digest: Digest,
  sealed_at: t.string,
  signed: t.boolean,
  components: t.array(SealedComponent),
})
export type Seal = t.TypeOf<typeof Seal>

export type SealRead = { readonly kind: 'sealed'; readonly seal: Seal } | { readonly kind: 'missing' } | { readonly kind: 'invalid'; readonly reason: string }

export async function readSeal(releaseDir: string): Promise<SealRead> {
  let text: string
  try {
    text = await fs.readFile(path.join(releaseDir, SEAL_FILE), 'utf8')
  } catch (e) {
    return errnoCode(e) === 'ENOENT' ? { kind: 'missing' } : { kind: 'invalid', reason: `cannot read the seal: ${(e as Error).message}` }
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    return { kind: 'invalid', reason: 'the seal is not valid JSON' }
  }
  const decoded = Seal.decode(json)
  if (E.isLeft(decoded)) return { kind: 'invalid', reason: `the seal is malformed: ${problemsFromErrors(decoded.left).map(formatProblem).slice(0, 3).join('; ')}` }
  if (decoded.right.release_id !== path.basename(releaseDir)) return { kind: 'invalid', reason: `the seal names release ${decoded.right.release_id}, not ${path.basename(releaseDir)}` }
  return { kind: 'sealed', seal: decoded.right }
}

export async function writeSeal(releaseDir: string, seal: Seal): Promise<void> {
  await writeFileAtomic(path.join(releaseDir, SEAL_FILE), `${JSON.stringify(seal, null, 2)}\n`, 0o444)
}
