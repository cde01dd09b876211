// The host fingerprint a saved plan records: a digest of everything the planner read.
// `apply PLAN` refuses a plan whose host has changed since (`plan is stale`).
import { createHash } from 'node:crypto'
import type { ActualState } from '../../state/read.js'

/** JSON with sorted keys, so equal states give equal bytes. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (value !== null && typeof value === 'object')
    return `{${Object.keys(value)
      .sort()
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`)
      .join(',')}}`
  return JSON.stringify(value)
}

export function hostFingerprint(actual: ActualState): string {
  return `sha256:${createHash('sha256').update(canonicalJson(actual)).digest('hex')}`
}
