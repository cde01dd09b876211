// The channel codec (lib/channel/codec.ts + rules.ts) and its JSON Schema mirror
// (schemas/channel.schema.json): the codec's verdicts and operator-worded problems, and the
// schema kept equal to the codec the way spec/manifest-schema.spec.ts keeps the manifest's.
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import fs from 'node:fs'
import path from 'node:path'
import * as t from 'io-ts'
import * as E from 'fp-ts/lib/Either.js'
import Ajv2020 from 'ajv/dist/2020.js'
import type { ErrorObject } from 'ajv'
import { Channel, ChannelFormat, ChannelRelease, MAX_ROLLOUT_MINUTES, Minutes, Percentage, Rollout, Sequence } from '../lib/channel/codec.js'
import { DIGEST, Digest, NonEmpty, RELEASE_ID, RFC3339, ReleaseId, SEMVER, Semver, Timestamp } from '../lib/manifest/codec.js'
import { validateChannel } from '../lib/channel/load.js'
import { formatProblem } from '../lib/manifest/problems.js'
import { REPO } from './helpers/cli.js'
import { type AnyCodec, ref, shapeOf, withoutDocs } from './helpers/codec-shape.js'

type Json = any // eslint-disable-line @typescript-eslint/no-explicit-any

const schema: Json = JSON.parse(fs.readFileSync(path.join(REPO, 'schemas/channel.schema.json'), 'utf8'))
const example: Json = JSON.parse(fs.readFileSync(path.join(REPO, 'schemas/examples/channel.example.json'), 'utf8'))
const ajv = new Ajv2020.default({ strict: true, allErrors: true })
const validateSchema = ajv.compile(schema)
const schemaErrors = (doc: unknown): ErrorObject[] => (validateSchema(doc) ? [] : [...(validateSchema.errors ?? [])])
const NOW = Date.parse('2026-07-01T12:00:00Z')
const OPTIONS = { now: NOW, allowHttp: false, allowExpired: false }
const problems = (doc: unknown, o = OPTIONS) => {
  const r = validateChannel(doc, o)
  return E.isLeft(r) ? r.left.map(formatProblem) : []
}
const edit = (f: (doc: Json) => void): Json => {
  const doc = structuredClone(example)
  f(doc)
  return doc
}

// ---------------------------------------------------------------------------------------
const codec = suite('channel codec: verdicts and problems')

codec('the example passes the codec and the schema', () => {
  assert.equal(problems(example), [])
  assert.equal(schemaErrors(example), [])
})

codec('an unknown field is refused, at its path, beside every other problem', () => {
  const doc = edit((d) => {
    d.signature = 'x'
    d.releases[1].rollout_percent = 5
    d.releases[2].rollout.start_percentage = 101
  })
  assert.equal(problems(doc), [
    'signature: unknown field (not part of nullspace-channel-v1)',
    'releases[1].rollout_percent: unknown field (not part of nullspace-channel-v1)',
    'releases[2].rollout.start_percentage: must be a number from 0 to 100, got 101',
  ])
  assert.ok(schemaErrors(doc).length >= 3)
})

codec('each field refused with an operator-worded problem naming its path', () => {
  const cases: Array<[(d: Json) => void, string]> = [
    [(d) => (d.format = 'nullspace-channel-v2'), 'format: must be "nullspace-channel-v1" (the only channel format this tool reads), got "nullspace-channel-v2"'],
    [(d) => delete d.channel, 'channel: missing (must be a non-empty string without leading or trailing space or control characters)'],
    [(d) => (d.sequence = -1), `sequence: must be a whole number from 0 to ${Number.MAX_SAFE_INTEGER}, got -1`],
    [(d) => (d.sequence = 1.5), `sequence: must be a whole number from 0 to ${Number.MAX_SAFE_INTEGER}, got 1.5`],
    [(d) => (d.generated_at = '2026-07-01 12:00'), 'generated_at: must be an RFC 3339 timestamp such as 2026-06-10T12:00:00Z, got "2026-07-01 12:00"'],
    [(d) => (d.releases = {}), 'releases: must be a list of channel releases, got {}'],
    [(d) => (d.releases[0] = 'r1'), 'releases[0]: must be a JSON object (channel release), got "r1"'],
    [(d) => (d.releases[0].version = 'v1'), 'releases[0].version: must be a semantic version such as 1.2.3, got "v1"'],
    [(d) => (d.releases[0].manifest_digest = 'sha256:ABC'), 'releases[0].manifest_digest: must be "sha256:" followed by 64 lowercase hex characters, got "sha256:ABC"'],
    [(d) => (d.releases[0].barrier = 'yes'), 'releases[0].barrier: must be boolean, got "yes"'],
    [(d) => delete d.releases[0].deadend, 'releases[0].deadend: missing (must be boolean)'],
    [(d) => (d.releases[2].rollout.duration_minutes = 1.5), `releases[2].rollout.duration_minutes: must be a whole number of minutes from 0 to ${MAX_ROLLOUT_MINUTES} (ten years), got 1.5`],
    [(d) => (d.releases[2].rollout.duration_minutes = -1), `releases[2].rollout.duration_minutes: must be a whole number of minutes from 0 to ${MAX_ROLLOUT_MINUTES} (ten years), got -1`],
    [(d) => delete d.releases[2].rollout.start_at, 'releases[2].rollout.start_at: missing (must be an RFC 3339 timestamp such as 2026-06-10T12:00:00Z)'],
  ]
  for (const [f, want] of cases) {
    const doc = edit(f)
    assert.equal(problems(doc), [want])
    assert.ok(schemaErrors(doc).length > 0, `the schema accepts: ${want}`)
  }
})

codec('rule-only problems: duplicate release_id or version (as semver), manifest_url, expires_at; the schema accepts them', () => {
  const cases: Array<[(d: Json) => void, string, object?]> = [
    [(d) => (d.releases[2].release_id = d.releases[0].release_id), 'releases[2].release_id: duplicate release_id "2026.06.10" (also releases[0]); a release id names one release'],
    [(d) => (d.releases[2].version = '0.1.0+build.7'), 'releases[2].version: duplicate version "0.1.0+build.7" (also releases[0] "0.1.0"); each release needs a version of its own'],
    [(d) => (d.releases[1].manifest_url = 'ftp://mirror.example/m.json'), 'releases[1].manifest_url: scheme must be file: or https:, got "ftp://mirror.example/m.json"'],
    [(d) => (d.releases[1].manifest_url = 'manifest.json'), 'releases[1].manifest_url: must be an absolute URL, got "manifest.json"'],
    [(d) => (d.releases[1].manifest_url = 'https://user:pw@mirror.example/m.json'), 'releases[1].manifest_url: must not carry a user or password, got "https://mirror.example/m.json"'],
    [(d) => (d.releases[1].manifest_url = 'http://mirror.example/m.json'), 'releases[1].manifest_url: http: URLs need --allow-http, got "http://mirror.example/m.json"'],
    [(d) => (d.generated_at = d.expires_at = '2026-07-05T00:00:00Z'), 'expires_at: must be after generated_at (2026-07-05T00:00:00Z), got "2026-07-05T00:00:00Z"'],
  ]
  for (const [f, want] of cases) {
    const doc = edit(f)
    assert.equal(problems(doc), [want])
    assert.equal(schemaErrors(doc), [], want)
  }
  assert.equal(problems(edit((d) => (d.releases[1].manifest_url = 'http://mirror.example/m.json')), { ...OPTIONS, allowHttp: true }), [])
})

codec('the clock: past expires_at refused unless --allow-expired', () => {
  const later = Date.parse('2026-08-01T00:00:00Z')
  assert.equal(problems(example, { ...OPTIONS, now: later }), ['expires_at: the channel expired at 2026-07-31T12:00:00Z; the publisher must publish it again (or pass --allow-expired)'])
  assert.equal(problems(example, { ...OPTIONS, now: later, allowExpired: true }), [])
})

codec('duration_minutes 0 is allowed (every host at start_at), start_percentage may be a fraction', () => {
  const doc = edit((d) => (d.releases[2].rollout = { start_at: '2026-07-02T00:00:00Z', start_percentage: 0.5, duration_minutes: 0 }))
  assert.equal(problems(doc), [])
  assert.equal(schemaErrors(doc), [])
})

codec.run()

// ---------------------------------------------------------------------------------------
const drift = suite('channel schema: no drift from the codec')

drift('the schema is valid draft 2020-12 and compiles under ajv strict mode', () => {
  assert.is(schema.$schema, 'https://json-schema.org/draft/2020-12/schema')
  assert.ok(ajv.validateSchema(schema), JSON.stringify(ajv.errors))
  for (const word of ['codec', 'release_id', 'version', 'manifest_url', 'expires_at', 'sequence', '--allow-http', '--allow-expired'])
    assert.ok(schema.description.includes(word), `description does not mention ${word}`)
})

const objectCodecs: Array<[string, AnyCodec, Json]> = [
  ['Channel', Channel, schema],
  ['ChannelRelease', ChannelRelease, schema.$defs.channel_release],
  ['Rollout', Rollout, schema.$defs.rollout],
]
const fieldSchema = new Map<unknown, Json>([
  [ChannelFormat, { const: 'nullspace-channel-v1' }],
  [NonEmpty, ref('non_empty_string')],
  [Sequence, ref('sequence')],
  [Timestamp, ref('timestamp')],
  [ReleaseId, ref('release_id')],
  [Semver, ref('semver')],
  [Digest, ref('digest')],
  [Percentage, ref('percentage')],
  [Minutes, ref('minutes')],
  [Rollout, ref('rollout')],
  [t.boolean, { type: 'boolean' }],
])

for (const [name, c, objectSchema] of objectCodecs) {
  drift(`${name}: same fields, required, closed, and each field's schema type`, () => {
    const shape = shapeOf(c)
    assert.ok(shape.closed, `${name} is not closed in the codec`)
    assert.is(objectSchema.type, 'object')
    assert.is(objectSchema.additionalProperties, false)
    assert.equal(Object.keys(objectSchema.properties).sort(), [...shape.required, ...shape.optional].sort())
    assert.equal([...objectSchema.required].sort(), shape.required)
    for (const [field, type] of shape.types) {
      const got = withoutDocs(objectSchema.properties[field])
      if (type instanceof t.ArrayType) {
        assert.is(type.type, ChannelRelease, `${name}.${field}`)
        assert.equal(got, { type: 'array', items: ref('channel_release') })
        continue
      }
      const want = fieldSchema.get(type)
      assert.ok(want !== undefined, `${name}.${field}: codec type "${type.name}" has no schema counterpart in this test; add it`)
      assert.equal(got, want, `${name}.${field}`)
    }
  })
}

drift('the shared string patterns are the manifest codec\'s regular expressions', () => {
  const manifestSchema = JSON.parse(fs.readFileSync(path.join(REPO, 'schemas/single-host-release-manifest.schema.json'), 'utf8'))
  for (const [def, re] of [['digest', DIGEST], ['release_id', RELEASE_ID], ['semver', SEMVER], ['timestamp', RFC3339]] as const) {
    assert.is(schema.$defs[def].pattern, re.source, def)
    assert.is(re.flags, '', def)
  }
  assert.is(schema.$defs.non_empty_string.pattern, manifestSchema.$defs.non_empty_string.pattern)
})

drift('number ranges are the codec\'s: each bound accepted, one past refused', () => {
  for (const [def, c, integer] of [['sequence', Sequence, true], ['minutes', Minutes, true], ['percentage', Percentage, false]] as const) {
    const s = schema.$defs[def]
    assert.is(s.type, integer ? 'integer' : 'number', def)
    assert.ok(c.is(s.minimum) && c.is(s.maximum), `${def}: a bound is refused by the codec`)
    assert.not.ok(c.is(s.minimum - 1), `${def}: minimum - 1`)
    assert.not.ok(c.is(s.maximum + 1), `${def}: maximum + 1`)
    assert.is(c.is(s.minimum + 0.5), !integer, `${def}: fractions`)
  }
  assert.is(schema.$defs.sequence.maximum, Number.MAX_SAFE_INTEGER)
  assert.is(schema.$defs.minutes.maximum, MAX_ROLLOUT_MINUTES)
})

drift('every $def is used', () => {
  const text = JSON.stringify(schema)
  const refs = new Set([...text.matchAll(/"\$ref":"#\/\$defs\/([a-z0-9_]+)"/g)].map((m) => m[1]))
  assert.equal([...refs].sort(), Object.keys(schema.$defs).sort())
})

drift.run()
