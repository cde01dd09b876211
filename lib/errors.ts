// Errors are values until a command prints them; only the command turns one into an exit code.

export const EXIT = {
  ok: 0,
  failed: 1,
  changes: 2,
  usage: 64,
  badManifest: 65,
  /** EX_TEMPFAIL: another command holds the host lock; the same command may simply be retried. */
  busy: 75,
} as const
export type ExitCode = (typeof EXIT)[keyof typeof EXIT]

/**
 * The `error.code` of a failure's JSON document: short strings scripts may branch on, so they
 * never change once published. Each names a kind of failure, not a message.
 */
export type ErrorCode =
  | 'usage'
  | 'bad_manifest'
  | 'failed'
  | 'host_busy'
  | 'stale_plan'
  | 'not_installed'
  | 'refused'
  | 'activation_failed'
  | 'problems'
  | 'launch_gate_failed'

/** The `error` of every failure's JSON document (with `ok: false` and the command's own report fields, if any). */
export interface FailureJson {
  /** An ErrorCode. */
  readonly code: string
  readonly message: string
  readonly exit: number
}

const CODE_OF_EXIT: Record<ExitCode, ErrorCode> = { 0: 'failed', 1: 'failed', 2: 'failed', 64: 'usage', 65: 'bad_manifest', 75: 'host_busy' }

export class Failure extends Error {
  readonly code: ErrorCode
  constructor(
    readonly exit: ExitCode,
    message: string,
    /** Further lines (every problem of an invalid manifest), printed after the message. */
    readonly details: readonly string[] = [],
    o: {
      code?: ErrorCode
      /** Fields of the command's own report (doctor's, a failed upgrade's): the --json failure document carries them beside `error`. */
      document?: object
    } = {},
  ) {
    super(message)
    this.code = o.code ?? CODE_OF_EXIT[exit]
    this.document = o.document
  }
  readonly document: object | undefined
}

export const usageError = (message: string) => new Failure(EXIT.usage, message)
export const manifestError = (message: string, details: readonly string[] = []) => new Failure(EXIT.badManifest, message, details)
export const operationFailed = (message: string, details: readonly string[] = [], code: ErrorCode = 'failed') => new Failure(EXIT.failed, message, details, { code })

/** Node's errno errors carry a code; this reads it without `any`. */
export const errnoCode = (e: unknown): string | undefined =>
  typeof e === 'object' && e !== null && 'code' in e && typeof (e as { code: unknown }).code === 'string' ? (e as { code: string }).code : undefined
