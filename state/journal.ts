// `var/lib/nullspace/journal.json`: the operation in progress. Written before its first change,
// marked done after its last; a rerun of the same command reads it to finish the work.
import fs from 'node:fs/promises'
import { t, E } from '../lib/commonjs.cjs'
import { writeFileAtomic } from '../lib/fsx.js'
import { errnoCode } from '../lib/errors.js'
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

export async function readJournal(file: string): Promise<Journal | null> {
  try {
    const decoded = Journal.decode(JSON.parse(await fs.readFile(file, 'utf8')))
    return E.isRight(decoded) ? decoded.right : null
  } catch (e) {
    if (errnoCode(e) === 'ENOENT' || e instanceof SyntaxError) return null
    throw e
  }
}

export const writeJournal = (file: string, j: Journal) => writeFileAtomic(file, `${JSON.stringify(j, null, 2)}\n`, 0o644)
