// Reading a closed io-ts codec's shape, for the specs that keep a JSON Schema equal to its codec
// (manifest, channel). `closed` in lib/manifest/codec.ts hides its props inside a t.Type, so the
// field lists are read by decoding probes instead of being written down twice:
// - a Proxy whose every field reads as `null` makes the codec read, and refuse, each field
//   it declares (required and optional), with that field's codec in the error context;
// - decoding `{}` refuses exactly the required fields;
// - an extra field is refused as UnknownField exactly when the object is closed.
import type * as t from 'io-ts'
import * as E from 'fp-ts/lib/Either.js'
import { UnknownField } from '../../lib/manifest/codec.js'

type Json = any // eslint-disable-line @typescript-eslint/no-explicit-any
export type AnyCodec = t.Decoder<unknown, unknown>

export interface Shape {
  readonly required: string[]
  readonly optional: string[]
  readonly types: ReadonlyMap<string, t.Decoder<unknown, unknown>>
  readonly closed: boolean
}

function fieldErrors(codec: AnyCodec, input: unknown): Map<string, AnyCodec> {
  const r = codec.decode(input)
  const out = new Map<string, AnyCodec>()
  if (E.isRight(r)) return out
  for (const e of r.left) {
    const last = e.context[e.context.length - 1]
    if (e.context.length >= 2 && last.type !== UnknownField) out.set(last.key, last.type as AnyCodec)
  }
  return out
}

export function shapeOf(codec: AnyCodec): Shape {
  const everyFieldNull = new Proxy({}, { get: (_target, key) => (typeof key === 'string' ? null : undefined) })
  const types = fieldErrors(codec, everyFieldNull)
  const required = [...fieldErrors(codec, {}).keys()].sort()
  const optional = [...types.keys()].filter((k) => !required.includes(k)).sort()
  const probe = codec.decode({ __not_a_field__: true })
  const closed = E.isLeft(probe) && probe.left.some((e) => e.context[e.context.length - 1].type === UnknownField)
  return { required, optional, types, closed }
}

export const ref = (def: string) => ({ $ref: `#/$defs/${def}` })

/** A schema node without its documentation keywords. */
export const withoutDocs = (s: Json): Json => {
  if (typeof s !== 'object' || s === null || Array.isArray(s)) return s
  return Object.fromEntries(Object.entries(s).filter(([k]) => k !== 'description' && k !== 'title' && k !== '$comment'))
}
