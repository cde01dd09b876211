// What the executor and its steps share: the context a command hands in, the reporter it
// prints through, and the run's own record of what it did (StepRun), which the steps in
// lib/exec/steps/ read and add to.
import type { Layout } from '../layout.js'
import type { Plan, Step } from '../plan/types.js'
import type { MinSpeed } from '../fetch/watch.js'
import type { DeltaInput } from '../chunks/assemble.js'
import type { Obtained } from '../../state/seal.js'
import type { Journal } from '../../state/journal.js'
import { errnoCode } from '../errors.js'

export interface Reporter {
  /** Once, before the first step of a plan that has steps (a progress display sizes itself from it). */
  begin?(plan: Plan): void
  step(step: Step, phase: 'start' | 'done', detail?: string): void
  bytes(component: string, n: number): void
  warn(text: string): void
  /**
   * A wait that may last (the smoke, a unit's restart and health wait, a slow hook): what it waits
   * for and how long at most, then a line per notice interval. Progress, not a warning: --quiet drops it.
   */
  waiting?(text: string): void
  /** The change was stopped by a signal: where the host stands and how to resume. Printed even with --quiet. */
  interrupted?(text: string): void
}

/** How often a long wait says it is still waiting (terraform's "Still creating... [10s elapsed]"). */
export const WAIT_NOTICE_MS = 10_000

export interface ExecContext {
  readonly layout: Layout
  /** The verified manifest bytes (and detached signature) the release is sealed with. */
  readonly manifestBytes: Buffer
  readonly signatureBytes: Buffer | null
  /** null for a manifest fetched from a URL (FetchRequest.manifestDir). */
  readonly manifestDir: string | null
  readonly manifestId: string
  readonly version: string
  readonly fetch: { readonly allowHttp: boolean; readonly stallTimeoutMs: number; readonly minSpeed: MinSpeed; readonly retries: number; readonly backoffMs: number }
  readonly hookTimeoutMs: number
  /** Written into each switch record of state.json (`history`). */
  readonly toolVersion: string
  readonly user: string
  readonly report: Reporter
  readonly now: () => Date
  /** Chunk indexes read while planning, by component, for delta steps. */
  readonly deltas?: ReadonlyMap<string, DeltaInput>
  /** Verified bytes fetched while planning (chunk indexes), by sha256: not fetched twice. */
  readonly prefetched?: ReadonlyMap<string, Buffer>
  /** The interval of the still-waiting lines (WAIT_NOTICE_MS unless a spec shortens it). */
  readonly waitNoticeMs?: number
}

export interface ExecResult {
  /** Bytes that crossed the wire (or were read from file:// sources) in this run. */
  readonly bytesTransferred: number
  /** Optional components whose artifact was absent. */
  readonly skipped: readonly string[]
}

/** The mode of every directory the executor creates. */
export const DIR_MODE = 0o755

/** What a run knows while it runs, for its steps: the plan and context, and what earlier steps did. */
export interface StepRun {
  readonly plan: Plan
  readonly ctx: ExecContext
  /** How each component staged in this run was obtained (the seal records it). */
  readonly obtained: Map<string, Obtained>
  /** Optional components whose artifact was absent (or a chunk index that was unusable). */
  readonly skipped: Set<string>
  /** What the probe could not verify (firecracker, jailer), kept in the switch record for `doctor`. */
  readonly unverified: string[]
  /** MainPID of each unit before this run restarted it: the health wait wants another. */
  readonly pidBefore: Map<string, number>
  /** The operation in progress (read by `record` for the switch time). */
  readonly journal: Journal | null
  /** Counts bytes that crossed the wire (or were read from file:// sources). */
  transferred(n: number): void
  /** Creates directories below the root, never through a planted symlink. */
  mkdirs(dir: string): Promise<void>
  /** Where the host stands now, for a failure's message: whether the switch happened decides what an operator does next. */
  hostStands(): string
  /** "the active release is still X" or "no release is active". */
  activeNote(): string
  /** Runs `work`; while it lasts, says `start` (if any) at once and `still(elapsed s)` every notice interval. */
  noticed<T>(work: () => Promise<T>, o: { start?: string; still: (elapsedS: number) => string }): Promise<T>
}

/** A step's system error with its context; `code` stays for printFailure's advice (ENOSPC: prune ...). */
export class StepError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message)
  }
}

/** Node's errors from a system call (they carry `syscall`), not a library's coded errors. */
export const isSystemError = (e: unknown): e is Error & { code: string } => e instanceof Error && 'syscall' in e && errnoCode(e) !== undefined
