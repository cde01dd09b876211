// A plan saved by `plan --out F`, as `apply F` reads it back. Only the header is decoded:
// the steps are planned again and must come out the same, which is what the manifest
// digest and host fingerprint guarantee.
import fs from 'node:fs/promises'
import { t, E } from '../commonjs.cjs'
import { Failure, EXIT, errnoCode } from '../errors.js'
import { formatProblem, problemsFromErrors } from '../manifest/problems.js'

export const SavedPlan = t.type({
  format_version: t.literal(1),
  operation: t.union([t.literal('install'), t.literal('fetch'), t.literal('upgrade'), t.literal('rollback'), t.literal('auto-rollback')]),
  manifest: t.type({ release_id: t.string, digest: t.string, path: t.string }),
  host_fingerprint: t.string,
  options: t.type({
    allow_http: t.boolean,
    allow_expired: t.boolean,
    allow_downgrade: t.boolean,
    accept_snapshot_format_change: t.boolean,
    smoke_url: t.union([t.string, t.null]),
    smoke_timeout_s: t.number,
    service_manager: t.union([t.literal('systemd'), t.literal('none')]),
    service_settle_s: t.number,
    service_timeout_s: t.number,
  }),
})
export type SavedPlan = t.TypeOf<typeof SavedPlan>

export async function readSavedPlan(file: string): Promise<SavedPlan> {
  let text: string
  try {
    text = await fs.readFile(file, 'utf8')
  } catch (e) {
    throw new Failure(EXIT.usage, errnoCode(e) === 'ENOENT' ? `${file}: no such plan file; save one with plan --out ${file}` : `${file}: cannot read the plan: ${(e as Error).message}`)
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    throw new Failure(EXIT.usage, `${file}: not a saved plan (invalid JSON); save one with plan --manifest M --out ${file}`)
  }
  const decoded = SavedPlan.decode(json)
  if (E.isLeft(decoded)) throw new Failure(EXIT.usage, `${file}: not a saved plan: ${problemsFromErrors(decoded.left).map(formatProblem)[0]}`)
  return decoded.right
}
