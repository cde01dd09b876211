// Turns io-ts decode errors into the one-line problems operators read:
// `components[3].sha256: must be 64 lowercase hex characters, got "abc"`.
import { t } from '../commonjs.cjs'
import { UnknownField } from './codec.js'

/** A problem found in an input document, named by the path of the field. */
export interface Problem {
  readonly path: string
  readonly message: string
  /** A well-formed document this host refuses (it expired), not a malformed one: callers word it so. */
  readonly refusal?: true
}

export const formatProblem = (p: Problem): string => (p.path ? `${p.path}: ${p.message}` : p.message)

export function preview(value: unknown): string {
  let s: string
  try {
    s = JSON.stringify(value) ?? String(value)
  } catch {
    s = String(value)
  }
  // JSON.stringify escapes C0 controls but not DEL, C1 or U+2028/2029: a problem line stays one
  // line of plain text on any terminal.
  s = s.replace(/[\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
  return s.length > 80 ? `${s.slice(0, 77)}...` : s
}

export function joinPath(parent: string, key: string | number): string {
  if (typeof key === 'number' || /^\d+$/.test(key)) return `${parent}[${key}]`
  return parent ? `${parent}.${key}` : key
}

function pathOf(context: t.Context): string {
  let path = ''
  for (const entry of context.slice(1)) {
    // Members of an intersection carry their index as key; they are not a level of the document.
    if (entry.type instanceof t.InterfaceType || entry.type instanceof t.PartialType || entry.type instanceof t.IntersectionType) continue
    path = joinPath(path, entry.key)
  }
  return path
}

/** A closed object codec (codec.ts `closed`): it carries the fields it declares. */
const isObjectCodec = (type: t.Decoder<unknown, unknown>): boolean => 'required' in type && 'optional' in type

/**
 * `format` names the document in an unknown field's message: the field is not part of it.
 * Defaults to the manifest's.
 */
export function problemsFromErrors(errors: t.Errors, format = 'schema_version 1'): Problem[] {
  const seen = new Set<string>()
  const out: Problem[] = []
  for (const e of errors) {
    const last = e.context[e.context.length - 1]
    const path = pathOf(e.context)
    let message: string
    if (last.type === UnknownField) message = `unknown field (not part of ${format})`
    else if (e.value === undefined) message = `missing (must be ${last.type.name})`
    else if (isObjectCodec(last.type))
      message = `must be a JSON object (${last.type.name}), got ${preview(e.value)}`
    else message = `must be ${last.type.name}, got ${preview(e.value)}`
    const line = `${path}\0${message}`
    if (!seen.has(line)) {
      seen.add(line)
      out.push({ path, message })
    }
  }
  return out
}
