// schemas/root.schema.json against the trust root's io-ts codec (lib/trust/root-format.ts), as
// spec/manifest-schema.spec.ts keeps the manifest's: the same fields (read from the codec), the
// same types and patterns, and the same verdict on every document whose fault is structural.
// The rules beside the codec (threshold within the key count, ed25519, a key under its own id)
// are the codec's alone, so the schema accepts documents that break only those.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fs from 'node:fs'
import path from 'node:path'
import { createHash, generateKeyPairSync } from 'node:crypto'
import * as E from 'fp-ts/lib/Either.js'
import Ajv2020 from 'ajv/dist/2020.js'
import { REPO } from './helpers/cli.js'
import { RFC3339, Timestamp, UnknownField } from '../lib/manifest/codec.js'
import { KEY_ID } from '../lib/trust/key-id.js'
import { PUBLIC_KEY_PEM, PositiveInteger, ROOT_FORMAT, Root, RootFormat, RootKeys, decodeRoot } from '../lib/trust/root-format.js'

type Json = any // eslint-disable-line @typescript-eslint/no-explicit-any

const schema: Json = JSON.parse(fs.readFileSync(path.join(REPO, 'schemas/root.schema.json'), 'utf8'))
const ajv = new Ajv2020.default({ strict: true, allErrors: true })
const validateSchema = ajv.compile(schema)
const ref = (def: string) => ({ $ref: `#/$defs/${def}` })
const withoutDocs = (s: Json): Json => Object.fromEntries(Object.entries(s).filter(([k]) => k !== 'description'))

function key(type: 'ed25519' | 'rsa' = 'ed25519'): { id: string; pem: string } {
  const pub = type === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey : generateKeyPairSync('ed25519').publicKey
  return { id: createHash('sha256').update(pub.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16), pem: pub.export({ type: 'spki', format: 'pem' }) as string }
}
const [k1, k2] = [key(), key()]
const valid = () => ({ format: ROOT_FORMAT, version: 1, expires_at: '2099-01-01T00:00:00Z', threshold: 2, keys: { [k1.id]: k1.pem, [k2.id]: k2.pem } })
const codecOk = async (doc: unknown) => E.isRight(await decodeRoot(Buffer.from(JSON.stringify(doc)), 'root.json'))
const structureOk = (doc: unknown) => E.isRight(Root.decode(doc))

test('the schema is valid draft 2020-12 under ajv strict mode', () => {
  assert.is(schema.$schema, 'https://json-schema.org/draft/2020-12/schema')
  assert.ok(ajv.validateSchema(schema), JSON.stringify(ajv.errors))
})

test('the schema\'s properties and required are the codec\'s fields; both are closed', () => {
  assert.equal(Object.keys(schema.properties).sort(), [...Object.keys(Root.required), ...Object.keys(Root.optional)].sort())
  assert.equal([...schema.required].sort(), Object.keys(Root.required).sort())
  assert.is(schema.additionalProperties, false)
  const probe = Root.decode({ ...valid(), __not_a_field__: true })
  assert.ok(E.isLeft(probe) && probe.left.some((e) => e.context[e.context.length - 1]!.type === UnknownField), 'the codec refuses an unknown field')
})

test('each field has the schema type of its codec type, and the patterns are the codec\'s', () => {
  const want = new Map<unknown, Json>([
    [RootFormat, ref('format')],
    [PositiveInteger, ref('positive_integer')],
    [Timestamp, ref('timestamp')],
    [RootKeys, ref('keys')],
  ])
  for (const [field, type] of Object.entries(Root.required)) assert.equal(withoutDocs(schema.properties[field]), want.get(type), field)
  const d = schema.$defs
  assert.equal(d.format, { const: ROOT_FORMAT })
  assert.ok(RootFormat.is(d.format.const))
  assert.is(d.timestamp.pattern, RFC3339.source)
  assert.is(d.key_id.pattern, KEY_ID.source)
  assert.is(d.public_key_pem.pattern, PUBLIC_KEY_PEM.source)
  for (const re of [RFC3339, KEY_ID, PUBLIC_KEY_PEM]) assert.is(re.flags, '', 'a regex flag has no JSON Schema equivalent')
  assert.equal(withoutDocs(d.keys), { type: 'object', propertyNames: ref('key_id'), additionalProperties: ref('public_key_pem') })
  assert.is(d.positive_integer.type, 'integer')
  assert.ok(PositiveInteger.is(d.positive_integer.minimum) && PositiveInteger.is(d.positive_integer.maximum))
  assert.not.ok(PositiveInteger.is(d.positive_integer.minimum - 1) || PositiveInteger.is(d.positive_integer.maximum + 1) || PositiveInteger.is(1.5))
})

test('the same verdict on structural faults; the codec\'s own rules are refused by the codec alone', async () => {
  assert.ok(validateSchema(valid()), JSON.stringify(validateSchema.errors))
  assert.ok(await codecOk(valid()))
  const structural: Array<[string, Json]> = [
    ['threshold 0', { ...valid(), threshold: 0 }],
    ['version 1.5', { ...valid(), version: 1.5 }],
    ['version "1"', { ...valid(), version: '1' }],
    ['expires_at not RFC 3339', { ...valid(), expires_at: '2099-01-01 00:00' }],
    ['another format', { ...valid(), format: 'nullspace-root-v2' }],
    ['an unknown field', { ...valid(), spec_version: '1.0' }],
    ['a missing field', (({ threshold: _, ...rest }) => rest)(valid())],
    ['a key id that is not 16 hex', { ...valid(), keys: { [k1.id.toUpperCase()]: k1.pem } }],
    ['a key that is not PEM', { ...valid(), keys: { [k1.id]: 'ssh-ed25519 AAAA' } }],
    ['keys not an object', { ...valid(), keys: [k1.pem] }],
  ]
  for (const [what, doc] of structural) {
    assert.not.ok(validateSchema(doc), `schema accepts ${what}`)
    assert.not.ok(structureOk(doc), `codec accepts ${what}`)
  }
  const rsa = key('rsa')
  const rulesOnly: Array<[string, Json]> = [
    ['threshold above the key count', { ...valid(), threshold: 3 }],
    ['no key at all', { ...valid(), threshold: 1, keys: {} }],
    ['an RSA key', { ...valid(), threshold: 1, keys: { [rsa.id]: rsa.pem } }],
    ['a key under another key\'s id', { ...valid(), threshold: 1, keys: { [k1.id]: k2.pem } }],
  ]
  for (const [what, doc] of rulesOnly) {
    assert.ok(validateSchema(doc), `schema refuses ${what}: ${JSON.stringify(validateSchema.errors)}`)
    assert.ok(structureOk(doc), `codec structure refuses ${what}`)
    assert.not.ok(await codecOk(doc), `codec rules accept ${what}`)
  }
})

test.run()
