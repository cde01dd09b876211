// Errors are values until a command prints them; only the command turns one into an exit code.

export const EXIT = {
  ok: 0,
  failed: 1,
  changes: 2,
  usage: 64,
  badManifest: 65,
} as const
export type ExitCode = (typeof EXIT)[keyof typeof EXIT]

export class Failure extends Error {
  constructor(
    readonly exit: ExitCode,
    message: string,
    /** Further lines (every problem of an invalid manifest), printed after the message. */
    readonly details: readonly string[] = [],
  ) {
    super(message)
  }
}

export const usageError = (message: string) => new Failure(EXIT.usage, message)
export const manifestError = (message: string, details: readonly string[] = []) => new Failure(EXIT.badManifest, message, details)
export const operationFailed = (message: string, details: readonly string[] = []) => new Failure(EXIT.failed, message, details)

/** Node's errno errors carry a code; this reads it without `any`. */
export const errnoCode = (e: unknown): string | undefined =>
  typeof e === 'object' && e !== null && 'code' in e && typeof (e as { code: unknown }).code === 'string' ? (e as { code: string }).code : undefined
