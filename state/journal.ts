// `var/lib/nullspace/journal.json`: the operation in progress. Written before its first change,
// marked done after its last; a rerun of the same command reads it to finish the work.
import fs from 'node:fs/promises'
import { t, E } from '../lib/commonjs.cjs'
import { writeFileAtomic } from '../lib/fsx.js'
import { errnoCode, operationFailed } from '../lib/errors.js'
import { formatProblem, problemsFromErrors } from '../lib/manifest/problems.js'
import { Operation } from './state-file.js'

export const Journal = t.intersection([
  t.type({
    format_version: t.literal(1),
    operation: t.union([Operation, t.literal('fetch')]),
    from: t.union([t.string, t.null]),
    to: t.string,
    manifest_digest: t.string,
    started_at: t.string,
    /** Set once `current` names `to`: the post-switch work (render, hooks, smoke, record) remains. */
    switched: t.boolean,
    done: t.boolean,
  }),
  t.partial({
    /** When `current` was renamed to `to`: a unit process started before it runs the previous release. */
    switched_at: t.string,
    /**
     * Ids of the activation's steps done after the switch (render, daemon-reload, enable, restart, health, ...):
     * a rerun does not restart a unit whose health was already proven, and reloads a unit rendered before the kill.
     */
    progress: t.array(t.string),
  }),
])
export type Journal = t.TypeOf<typeof Journal>

/**
 * The switch renames `current`, then records `switched`: a kill or a full disk between the two
 * leaves a journal that says "not switched" while `current` already names its target. The
 * link is the truth, so readers see the journal as switched.
 */
const switchSeen = (j: Journal, current: string | null): boolean => j.switched || (j.from !== j.to && current === j.to)

export const withSwitchSeen = (j: Journal | null, current: string | null): Journal | null =>
  j !== null && !j.done && !j.switched && switchSeen(j, current) ? { ...j, switched: true } : j

/** A rollback (an operator's or the automatic one) interrupted after its switch: the next command finishes it first. */
export const interruptedRollback = (j: Journal | null, current: string | null): j is Journal =>
  j !== null && !j.done && (j.operation === 'rollback' || j.operation === 'auto-rollback') && current === j.to && switchSeen(j, current)

/** What journal.json holds. A journal that cannot be read fails closed: it may hold an unfinished operation. */
export type JournalRead =
  | { readonly kind: 'none' }
  | { readonly kind: 'journal'; readonly journal: Journal }
  | { readonly kind: 'corrupt'; readonly problem: string }

const corrupt = (file: string, why: string): JournalRead => ({
  kind: 'corrupt',
  problem: `${file} ${why}: what operation it held is unknown, so none is finished on a guess; check the host with doctor (current, links, hooks' work), move it aside (mv ${file} ${file}.bad), then run the command again`,
})

export async function inspectJournal(file: string): Promise<JournalRead> {
  let text: string
  try {
    // A symlink here was planted (writes rename a regular file into place): not ours, never read
    // through (it may lead outside the root), and replaced by the next write.
    if ((await fs.lstat(file)).isSymbolicLink()) return { kind: 'none' }
    text = await fs.readFile(file, 'utf8')
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return { kind: 'none' }
    return corrupt(file, `cannot be read (${(e as Error).message})`)
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    return corrupt(file, 'is not valid JSON (cut short?)')
  }
  const decoded = Journal.decode(json)
  if (E.isLeft(decoded)) return corrupt(file, `is malformed (${problemsFromErrors(decoded.left).map(formatProblem)[0]})`)
  return { kind: 'journal', journal: decoded.right }
}

/** The journal, or null when there is none; a journal that cannot be read refuses the command (exit 1). */
export async function readJournal(file: string): Promise<Journal | null> {
  const read = await inspectJournal(file)
  if (read.kind === 'corrupt') throw operationFailed(`${read.problem}. Nothing was changed.`)
  return read.kind === 'journal' ? read.journal : null
}

export const writeJournal = (file: string, j: Journal) => writeFileAtomic(file, `${JSON.stringify(j, null, 2)}\n`, 0o644)
