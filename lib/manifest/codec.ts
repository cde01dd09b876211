// The one runtime definition of the release manifest (ARCHITECTURE.md section 7).
// schemas/single-host-release-manifest.schema.json mirrors the structure declared here;
// spec/manifest-schema.spec.ts keeps the two in step. Cross-field and clock rules live in
// rules.ts: they are the codec's alone, the schema cannot express them.
import { t } from '../commonjs.cjs'
import { ARCHITECTURES, COMPONENT_KINDS } from './kinds.js'
import { MAX_CHUNK_SIZE } from '../chunks/format.js'

/** A codec of the values `accepts` admits, whose `name` is what an operator reads in an error: "must be <name>". */
export function refined<T>(name: string, accepts: (u: unknown) => u is T): t.Type<T, T, unknown> {
  return new t.Type<T, T, unknown>(name, accepts, (u, c) => (accepts(u) ? t.success(u) : t.failure(u, c)), t.identity)
}

/** A string matching `re`. */
export const pattern = (re: RegExp, name: string): t.Type<string, string, unknown> => refined(name, (u): u is string => typeof u === 'string' && re.test(u))

/** A whole number from `min` to `max`. */
export const wholeNumber = (name: string, min: number, max = Number.MAX_SAFE_INTEGER): t.Type<number, number, unknown> =>
  refined(name, (u): u is number => typeof u === 'number' && Number.isSafeInteger(u) && u >= min && u <= max)

export function oneOf<T extends string>(values: readonly T[]): t.Type<T, T, unknown> {
  const set = new Set<string>(values)
  return new t.Type<T, T, unknown>(
    `one of ${values.map((v) => JSON.stringify(v)).join(', ')}`,
    (u): u is T => typeof u === 'string' && set.has(u),
    (u, c) => (typeof u === 'string' && set.has(u) ? t.success(u as T) : t.failure(u, c)),
    t.identity,
  )
}

/** An object that refuses fields it does not declare: a typo must not be silently ignored. */
export function closed<R extends t.Props, O extends t.Props>(name: string, required: R, optional: O) {
  const shape = t.intersection([t.type(required), t.partial(optional)])
  const known = new Set([...Object.keys(required), ...Object.keys(optional)])
  const codec = new t.Type<t.TypeOf<typeof shape>, t.OutputOf<typeof shape>, unknown>(
    name,
    shape.is,
    (u, c) => {
      if (typeof u !== 'object' || u === null || Array.isArray(u)) return t.failure(u, c)
      const record = u as Record<string, unknown>
      const unknownFields: t.Errors = Object.keys(record)
        .filter((k) => !known.has(k))
        .map((k) => ({ value: record[k], context: [...c, { key: k, type: UnknownField, actual: record[k] }], message: undefined }))
      const result = shape.validate(u, c)
      // Report an unknown field together with every other problem of the object, not instead of them.
      if (unknownFields.length === 0) return result
      return t.failures([...unknownFields, ...(result._tag === 'Left' ? result.left : [])])
    },
    shape.encode,
  )
  // The declared fields, so the JSON Schema's mirror of them can be checked.
  return Object.assign(codec, { required, optional })
}

/** Marker type used in error contexts for a field the format does not define. */
export const UnknownField = new t.Type<never, never, unknown>('no such field', (_): _ is never => false, t.failure, t.identity)

export const SHA256_HEX = /^[0-9a-f]{64}$/
export const DIGEST = /^sha256:[0-9a-f]{64}$/
export const RELEASE_ID = /^(?!current$)[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/
export const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/
export const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/
export const MODE = /^0?[0-7]{3}$/

export const Sha256Hex = pattern(SHA256_HEX, '64 lowercase hex characters')
export const Digest = pattern(DIGEST, '"sha256:" followed by 64 lowercase hex characters')
/**
 * Control characters: C0, DEL, C1, and the Unicode line and paragraph separators. Manifest
 * strings reach rendered files (a newline in a path would add a line, e.g. `ExecStartPre=`, to
 * the systemd unit), file names, and operators' terminals; none of them has a use for one.
 */
export const CONTROL_CHARS = '\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029'
/** Not blank at either end, no control character anywhere (internal spaces are fine). */
export const NON_EMPTY = new RegExp(`^[^\\s${CONTROL_CHARS}](?:[^${CONTROL_CHARS}]*[^\\s${CONTROL_CHARS}])?$`)
export const NonEmpty = pattern(NON_EMPTY, 'a non-empty string without leading or trailing space or control characters')
export const Semver = pattern(SEMVER, 'a semantic version such as 1.2.3')
export const ReleaseId = pattern(RELEASE_ID, 'a release id of letters, digits, ".", "_" or "-" (at most 64, starting with a letter or digit, not "current")')
/** RFC 3339 shape and a calendar date and time that exist (no 2026-02-30, no 25:00). */
export function isTimestamp(s: string): boolean {
  const m = RFC3339.exec(s)
  if (!m) return false
  const [y, mo, d, h, mi, se] = s.slice(0, 19).split(/[-T:tT]/).map(Number)
  const daysInMonth = new Date(Date.UTC(y, mo, 0)).getUTCDate()
  return mo >= 1 && mo <= 12 && d >= 1 && d <= daysInMonth && h <= 23 && mi <= 59 && se <= 60
}
export const Timestamp = refined('an RFC 3339 timestamp such as 2026-06-10T12:00:00Z', (u): u is string => typeof u === 'string' && isTimestamp(u))
export const Mode = pattern(MODE, 'an octal file mode such as 0555')

export const ByteSize = wholeNumber(`a whole number of bytes from 0 to ${Number.MAX_SAFE_INTEGER}`, 0)
export const ChunkSize = wholeNumber(`a whole number of bytes from 4096 to ${MAX_CHUNK_SIZE} (16 MiB)`, 4096, MAX_CHUNK_SIZE)
export const SchemaVersion = refined('1 (the only schema_version this tool reads)', (u): u is 1 => u === 1)

export const ComponentKind = oneOf(COMPONENT_KINDS)
export const ManifestArchitecture = oneOf(ARCHITECTURES)
export const ComponentArchitecture = oneOf([...ARCHITECTURES, 'noarch'] as const)

export const Rollback = closed('rollback metadata', { reversible: t.boolean }, { note: t.string })

export const ChunkIndexRef = closed(
  'chunk index reference',
  { url: NonEmpty, sha256: Sha256Hex, size: ByteSize, chunk_size: ChunkSize },
  {},
)

export const Component = closed(
  'component',
  {
    name: NonEmpty,
    kind: ComponentKind,
    url: NonEmpty,
    sha256: Sha256Hex,
    size: ByteSize,
    architecture: ComponentArchitecture,
    version: NonEmpty,
    compatibility_class: NonEmpty,
    install_path: NonEmpty,
    required: t.boolean,
    rollback: Rollback,
  },
  { active_path: NonEmpty, mode: Mode, chunks: ChunkIndexRef },
)
export type Component = t.TypeOf<typeof Component>

export const RuntimeCompatibility = closed(
  'runtime compatibility facts',
  {
    firecracker_version: NonEmpty,
    firecracker_commit: NonEmpty,
    snapshot_data_format: NonEmpty,
    kernel_identity: NonEmpty,
    rootfs_digest: Digest,
    template_digest: Digest,
    guest_agent_protocol_version: NonEmpty,
    runtime_class: NonEmpty,
    snapshot_metadata_format: NonEmpty,
  },
  {},
)
export type RuntimeCompatibility = t.TypeOf<typeof RuntimeCompatibility>

export const Manifest = closed(
  'release manifest',
  {
    schema_version: SchemaVersion,
    manifest_id: NonEmpty,
    release_id: ReleaseId,
    version: Semver,
    architecture: ManifestArchitecture,
    source_revision: NonEmpty,
    created_at: Timestamp,
    runtime_compatibility: RuntimeCompatibility,
    components: t.array(Component, 'a list of components'),
  },
  { expires_at: Timestamp },
)
export type Manifest = t.TypeOf<typeof Manifest>
