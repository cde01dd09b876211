// A plan as `plan --json` prints it and `plan --out F` saves it, and `apply F` reading it back.
// The file is the thing the operator reviewed, so `apply F` executes exactly its steps: the
// manifest and options are loaded and planned again, and the plan is refused as stale when the
// host, the manifest or the steps no longer come out the same. `plan_digest` binds the file to
// its own content, so an edit anywhere (an option that does not change the steps included) is
// refused rather than applied. It is a checksum, not a signature: whoever can write the file can
// write a whole consistent plan, which is why the file deserves the care of the manifest itself.
import fs from 'node:fs/promises'
import { createHash } from 'node:crypto'
import { t, E } from '../commonjs.cjs'
import { Failure, EXIT, errnoCode, operationFailed } from '../errors.js'
import { formatProblem, problemsFromErrors } from '../manifest/problems.js'
import { canonicalJson } from './fingerprint.js'
import type { Plan, PlanDocument, Step } from './types.js'

export const SavedPlan = t.type({
  format_version: t.literal(1),
  operation: t.union([t.literal('install'), t.literal('fetch'), t.literal('upgrade'), t.literal('rollback'), t.literal('auto-rollback')]),
  manifest: t.type({ release_id: t.string, digest: t.string, path: t.string }),
  host_fingerprint: t.string,
  steps: t.array(t.unknown),
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

const digestOf = (fields: object) => `sha256:${createHash('sha256').update(canonicalJson(fields)).digest('hex')}`

/** The plan as JSON documents carry it: the plan's fields and the digest that binds them. */
export function planDocument(plan: Plan): PlanDocument {
  return { ...plan, plan_digest: digestOf(plan) }
}

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
  const { plan_digest: recorded, ...fields } = json as Record<string, unknown>
  const again = `plan --manifest ${decoded.right.manifest.path} --out ${file}`
  if (typeof recorded !== 'string') throw operationFailed(`plan is stale: ${file} has no plan_digest (saved by an older nullspace-host); run ${again} again and review it`, [], 'stale_plan')
  // Nothing in an edited file is to be trusted, its manifest path included: the advice names none.
  if (recorded !== digestOf(fields)) throw operationFailed(`plan is stale: ${file} was edited after plan --out wrote it (its content no longer matches its plan_digest); nothing was changed; run plan --manifest M --out ${file} again and review it`, [], 'stale_plan')
  return decoded.right
}

/** What differs between the steps a saved plan records and the steps planned now; null when they are the same. */
export function stepsDiffer(saved: readonly unknown[], now: readonly Step[]): string | null {
  const idOf = (s: unknown) => (s !== null && typeof s === 'object' && typeof (s as { id?: unknown }).id === 'string' ? (s as { id: string }).id : JSON.stringify(s))
  for (let i = 0; i < Math.max(saved.length, now.length); i++) {
    if (i < saved.length && i < now.length && canonicalJson(saved[i]) === canonicalJson(now[i])) continue
    const was = i < saved.length ? idOf(saved[i]) : '(none)'
    const is = i < now.length ? now[i]!.id : '(none)'
    const counts = saved.length === now.length ? `${now.length} steps` : `${saved.length} saved steps, ${now.length} now`
    return `the saved steps are not what apply would run (${counts}; step ${i + 1} is ${was} in the plan, ${was === is ? 'with other details' : is} now)`
  }
  return null
}
