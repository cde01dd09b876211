// The JSON Schema against the io-ts codec. The codec is the one runtime definition of the
// manifest; the schema mirrors its structure for other tools. These tests keep the two in
// step: the same fields (read from the codec by probing it, never from a second list),
// the same field types, patterns, enums and ranges, and the same verdict on every document
// of the corpus whose fault is structural. Cross-field and clock rules are the codec's
// alone, so the schema must accept every document that breaks only those.
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import fs from 'node:fs'
import * as t from 'io-ts'
import * as E from 'fp-ts/lib/Either.js'
import Ajv2020 from 'ajv/dist/2020.js'
import type { ErrorObject } from 'ajv'
import {
  ByteSize, ChunkIndexRef, ChunkSize, Component, ComponentArchitecture, ComponentKind, DIGEST, Digest, MODE, Manifest,
  ManifestArchitecture, Mode, NonEmpty, RELEASE_ID, RFC3339, ReleaseId, Rollback, RuntimeCompatibility, SEMVER, SHA256_HEX,
  SchemaVersion, Semver, Sha256Hex, Timestamp,
} from '../lib/manifest/codec.js'
import { ARCHITECTURES, COMPONENT_KINDS } from '../lib/manifest/kinds.js'
import { MAX_CHUNK_SIZE } from '../lib/chunks/format.js'
import { validateManifest } from '../lib/manifest/load.js'
import { formatProblem } from '../lib/manifest/problems.js'
import { type AnyCodec, ref, shapeOf, withoutDocs } from './helpers/codec-shape.js'
import { DEFAULT_OPTIONS, SCHEMA_FILE, applyPatch, loadCorpus, loadExample } from './fixtures/bad-manifests/corpus.js'

type Json = any // eslint-disable-line @typescript-eslint/no-explicit-any

const schema: Json = JSON.parse(fs.readFileSync(SCHEMA_FILE, 'utf8'))
// strict: a keyword ajv does not know (a custom or misspelt one) is an error, not ignored.
const ajv = new Ajv2020.default({ strict: true, allErrors: true })
const validateSchema = ajv.compile(schema)

function schemaVerdict(doc: unknown): { ok: boolean; errors: ErrorObject[] } {
  const ok = validateSchema(doc)
  return { ok, errors: ok ? [] : [...(validateSchema.errors ?? [])] }
}
const showErrors = (errors: ErrorObject[]) => errors.map((e) => `${e.instancePath || '/'} ${e.message} ${JSON.stringify(e.params)}`).join('\n')
const codecProblems = (doc: unknown, o = DEFAULT_OPTIONS) => {
  const r = validateManifest(doc, o)
  return E.isLeft(r) ? r.left : []
}

/** `components[3].chunks.url` -> `/components/3/chunks/url` (JSON Pointer, as ajv reports places). */
const pointer = (path: string) => (path === '' ? '' : `/${path.replace(/\[(\d+)\]/g, '.$1').split('.').join('/')}`)

const corpus = loadCorpus()

// ---------------------------------------------------------------------------------------
const verdicts = suite('manifest schema: verdicts')

verdicts('the schema is valid draft 2020-12 and compiles under ajv strict mode (no custom keywords)', () => {
  assert.is(schema.$schema, 'https://json-schema.org/draft/2020-12/schema')
  assert.ok(ajv.validateSchema(schema), JSON.stringify(ajv.errors))
})

verdicts('the top-level description says which rules only the codec enforces', () => {
  const d: string = schema.description
  for (const word of ['codec', 'manifest_id', 'rootfs_digest', 'template_digest', 'firecracker', 'jailer', 'install_path', 'active_path', 'URL', 'credentials', 'architecture', 'expires_at', 'clock'])
    assert.ok(d.includes(word), `description does not mention ${word}`)
})

for (const which of ['dev', 'release'] as const) {
  verdicts(`the ${which} example passes the schema and the codec`, () => {
    const doc = loadExample(which)
    const v = schemaVerdict(doc)
    assert.ok(v.ok, showErrors(v.errors))
    assert.equal(codecProblems(doc).map(formatProblem), [])
  })
}

verdicts('the optional fields (expires_at, chunks, rollback note, no active_path/mode) pass both', () => {
  const doc = applyPatch(loadExample('release'), [
    { op: 'add', path: '/expires_at', value: '2099-01-01T00:00:00+02:00' },
    { op: 'test', path: '/components/3/kind', value: 'rootfs' },
    {
      op: 'add',
      path: '/components/3/chunks',
      value: { url: 'https://releases.nullspace.example/single-host/2026.06.10/rootfs.ext4.chunks', sha256: 'c'.repeat(64), size: 8192, chunk_size: 4096 },
    },
    { op: 'add', path: '/components/0/rollback/note', value: 'restarts the API' },
    { op: 'remove', path: '/components/0/active_path' },
    { op: 'remove', path: '/components/0/mode' },
  ])
  const v = schemaVerdict(doc)
  assert.ok(v.ok, showErrors(v.errors))
  assert.equal(codecProblems(doc, { ...DEFAULT_OPTIONS, now: Date.now() }).map(formatProblem), [])
})

for (const c of corpus.filter((x) => x.structural)) {
  verdicts(`structural ${c.file}: refused by the schema and by the codec, at the same place`, () => {
    const v = schemaVerdict(c.manifest)
    assert.not.ok(v.ok, 'the schema accepts it')
    const found = codecProblems(c.manifest, c.options)
    assert.ok(found.length > 0, 'the codec accepts it')
    // Each codec problem has a schema error at its field or at an enclosing object/list
    // (ajv reports a missing or unknown field at the object that should or should not hold it).
    for (const p of found) {
      const at = pointer(p.path)
      const depth = at.split('/').length - 1
      const near = v.errors.some((e) => (at === e.instancePath || at.startsWith(`${e.instancePath}/`)) && (e.instancePath !== '' || depth <= 1))
      assert.ok(near, `no schema error near ${at} (${formatProblem(p)}); schema said:\n${showErrors(v.errors)}`)
    }
  })
}

for (const c of corpus.filter((x) => !x.structural)) {
  verdicts(`rule-only ${c.file}: the schema accepts it (structure only), the codec refuses it`, () => {
    const v = schemaVerdict(c.manifest)
    assert.ok(v.ok, `the schema refuses a rule-only case:\n${showErrors(v.errors)}`)
    assert.ok(codecProblems(c.manifest, c.options).length > 0, 'the codec accepts it')
  })
}

verdicts.run()

// ---------------------------------------------------------------------------------------
// The codec's shape is read by probes (spec/helpers/codec-shape.ts), never from a second list.
const objectCodecs: Array<[string, AnyCodec, Json]> = [
  ['Manifest', Manifest, schema],
  ['RuntimeCompatibility', RuntimeCompatibility, schema.$defs.runtime_compatibility],
  ['Component', Component, schema.$defs.component],
  ['Rollback', Rollback, schema.$defs.rollback],
  ['ChunkIndexRef', ChunkIndexRef, schema.$defs.chunk_index_ref],
]
/** How the schema must spell a field of each codec type (descriptions aside). */
const fieldSchema = new Map<unknown, Json>([
  [SchemaVersion, { const: 1 }],
  [NonEmpty, ref('non_empty_string')],
  [ReleaseId, ref('release_id')],
  [Semver, ref('semver')],
  [Timestamp, ref('timestamp')],
  [Sha256Hex, ref('sha256_hex')],
  [Digest, ref('digest')],
  [Mode, ref('mode')],
  [ByteSize, ref('byte_size')],
  [ChunkSize, ref('chunk_size')],
  [ManifestArchitecture, ref('manifest_architecture')],
  [ComponentArchitecture, ref('component_architecture')],
  [ComponentKind, ref('component_kind')],
  [RuntimeCompatibility, ref('runtime_compatibility')],
  [Rollback, ref('rollback')],
  [ChunkIndexRef, ref('chunk_index_ref')],
  [t.boolean, { type: 'boolean' }],
  [t.string, { type: 'string' }],
])

const drift = suite('manifest schema: no drift from the codec')

drift('the probes read the codec (sanity: they find what ARCHITECTURE.md section 7 names)', () => {
  const m = shapeOf(Manifest)
  assert.ok(m.required.includes('release_id') && m.optional.includes('expires_at') && m.closed)
  const c = shapeOf(Component)
  assert.ok(c.required.includes('install_path') && c.optional.includes('active_path') && c.optional.includes('chunks'))
})

for (const [name, codec, objectSchema] of objectCodecs) {
  drift(`${name}: the schema's properties and required are the codec's fields`, () => {
    const shape = shapeOf(codec)
    assert.equal(Object.keys(objectSchema.properties).sort(), [...shape.required, ...shape.optional].sort())
    assert.equal([...objectSchema.required].sort(), shape.required)
  })

  drift(`${name}: closed in the codec, additionalProperties false in the schema`, () => {
    assert.ok(shapeOf(codec).closed, `${name} is not closed in the codec`)
    assert.is(objectSchema.type, 'object')
    assert.is(objectSchema.additionalProperties, false)
  })

  drift(`${name}: each field has the schema type of its codec type`, () => {
    for (const [field, type] of shapeOf(codec).types) {
      const got = withoutDocs(objectSchema.properties[field])
      if (type instanceof t.ArrayType) {
        // components: a list of Component, each of the ten kinds exactly once.
        assert.is(type.type, Component, `${name}.${field}`)
        assert.is(got.type, 'array')
        assert.equal(got.items, ref('component'))
        assert.equal(
          got.allOf,
          COMPONENT_KINDS.map((kind) => ({
            contains: { type: 'object', properties: { kind: { const: kind } }, required: ['kind'] },
            minContains: 1,
            maxContains: 1,
          })),
        )
        continue
      }
      const want = fieldSchema.get(type)
      assert.ok(want !== undefined, `${name}.${field}: codec type "${type.name}" has no schema counterpart in this test; add it`)
      assert.equal(got, want, `${name}.${field}`)
    }
  })
}

drift('every $def is used, and only $defs are referenced', () => {
  const text = JSON.stringify(schema)
  const refs = new Set([...text.matchAll(/"\$ref":"#\/\$defs\/([a-z0-9_]+)"/g)].map((m) => m[1]))
  assert.equal([...refs].sort(), Object.keys(schema.$defs).sort())
  assert.not.match(text.replace(/"\$ref":"#\/\$defs\/[a-z0-9_]+"/g, ''), /\$ref/)
})

drift('patterns are the codec\'s regular expressions', () => {
  const d = schema.$defs
  const pairs: Array<[string, RegExp]> = [
    ['sha256_hex', SHA256_HEX],
    ['digest', DIGEST],
    ['release_id', RELEASE_ID],
    ['semver', SEMVER],
    ['timestamp', RFC3339],
    ['mode', MODE],
  ]
  for (const [def, re] of pairs) {
    assert.is(d[def].type, 'string', def)
    assert.is(d[def].pattern, re.source, def)
    assert.is(re.flags, '', `${def}: a flag on the codec's regex has no JSON Schema equivalent`)
  }
})

drift('non_empty_string gives the codec\'s NonEmpty verdict, control characters included', () => {
  const re = new RegExp(schema.$defs.non_empty_string.pattern, 'u')
  const probes = ['a', 'ab', 'a b', 'a\nb', 'x\u00a0y', '\u{1F680}', '', ' ', ' a', 'a ', '\ta', 'a\n', '\n', '\u00a0a', 'a\u2028', 'v1.12.1', 'lines\r\nand\r\nlines',
    // Control characters anywhere (a newline in a path adds a line to the rendered unit): C0, DEL, C1, U+2028/2029.
    'a\tb', 'a\u0000b', 'a\u001bb', 'a\u007fb', 'a\u0080b', 'a\u0085b', 'a\u009fb', 'a\u2028b', 'a\u2029b', 'a\u00a0b', '/opt/nullspace/x\nExecStartPre=/bin/sh']
  for (const s of probes) assert.is(re.test(s), NonEmpty.is(s), JSON.stringify(s))
  for (const s of ['a\nb', 'a\tb', 'a\u007fb', 'a\u0085b', 'a\u2028b']) assert.not.ok(NonEmpty.is(s), `${JSON.stringify(s)} is accepted`)
  for (const s of ['a b', 'a\u00a0b', 'v1.12.1']) assert.ok(NonEmpty.is(s), `${JSON.stringify(s)} is refused`)
})

drift('integer ranges are the codec\'s: each bound accepted, one past refused, fractions refused', () => {
  for (const [def, codec] of [['byte_size', ByteSize], ['chunk_size', ChunkSize]] as const) {
    const s = schema.$defs[def]
    assert.is(s.type, 'integer', def)
    assert.ok(codec.is(s.minimum) && codec.is(s.maximum), `${def}: a bound is refused by the codec`)
    assert.not.ok(codec.is(s.minimum - 1), `${def}: the codec accepts minimum - 1`)
    assert.not.ok(codec.is(s.maximum + 1), `${def}: the codec accepts maximum + 1`)
    assert.not.ok(codec.is(s.minimum + 0.5), `${def}: the codec accepts a fraction`)
  }
  assert.is(schema.$defs.byte_size.maximum, Number.MAX_SAFE_INTEGER)
  assert.is(schema.$defs.chunk_size.minimum, 4096)
  assert.is(schema.$defs.chunk_size.maximum, MAX_CHUNK_SIZE)
})

drift('enums are the codec\'s', () => {
  const d = schema.$defs
  assert.equal(d.component_kind.enum, [...COMPONENT_KINDS])
  assert.equal(d.manifest_architecture.enum, [...ARCHITECTURES])
  assert.equal(d.component_architecture.enum, [...ARCHITECTURES, 'noarch'])
  for (const [def, codec] of [['component_kind', ComponentKind], ['manifest_architecture', ManifestArchitecture], ['component_architecture', ComponentArchitecture]] as const) {
    for (const v of d[def].enum) assert.ok(codec.is(v), `${def}: the codec refuses ${v}`)
    assert.not.ok(codec.is('sparc'), def)
  }
  assert.ok(SchemaVersion.is(schema.properties.schema_version.const))
})

drift.run()
