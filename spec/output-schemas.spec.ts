// schemas/plan.schema.json and schemas/doctor.schema.json against what the tool really prints.
// Real `plan --json` / `doctor --json` output on temp roots in the states an operator meets
// must validate, the examples must validate, and the schemas must mirror the TypeScript types
// they describe (lib/plan/types.ts, lib/doctor.ts). Those types are read with the TypeScript
// compiler, never copied into a second list here, so a new step action or field that the
// schema does not describe fails this spec.
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import fs from 'node:fs'
import path from 'node:path'
import ts from 'typescript'
import Ajv2020 from 'ajv/dist/2020.js'
import type { ErrorObject, ValidateFunction } from 'ajv'
import { KIND_LAYOUT } from '../lib/manifest/kinds.js'
import { buildRelease, type BuiltRelease } from './helpers/artifacts.js'
import { REPO, json, runCli } from './helpers/cli.js'
import { tempDir } from './helpers/tmp.js'

type Json = any // eslint-disable-line @typescript-eslint/no-explicit-any

const readJson = (rel: string): Json => JSON.parse(fs.readFileSync(path.join(REPO, rel), 'utf8'))
const planSchema = readJson('schemas/plan.schema.json')
const doctorSchema = readJson('schemas/doctor.schema.json')
// strict: a keyword ajv does not know (a misspelt one) is an error, not silently ignored.
const ajv = new Ajv2020.default({ strict: true, allErrors: true })
const validatePlan = ajv.compile(planSchema)
const validateDoctor = ajv.compile(doctorSchema)

const showErrors = (errors: ErrorObject[] | null | undefined) => (errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message} ${JSON.stringify(e.params)}`).join('\n')
function assertValid(validate: ValidateFunction, doc: unknown, what: string): void {
  assert.ok(validate(doc), `${what} does not match its schema:\n${showErrors(validate.errors)}`)
}
const T = 60_000

// ---- hosts in the states an operator meets --------------------------------------------------

/** Every file shared between the two releases except the API, so the second one links the rest. */
const shared = Object.fromEntries(KIND_LAYOUT.map((k) => [k.file, `${k.file}, shared by both releases\n`]))
let first: BuiltRelease
let second: BuiltRelease

const freshRoot = () => tempDir('root')
async function cli(args: string[], expect = 0) {
  const r = await runCli(args, { timeoutMs: T })
  assert.is(r.code, expect, `nullspace-host ${args.join(' ')} exited ${r.code}, expected ${expect}\nstderr: ${r.stderr}`)
  return r
}
const planJson = async (root: string, m: string, expect = 0) => json(await cli(['--root', root, 'plan', '--manifest', m, '--json'], expect))
const doctorJson = async (root: string, expect: number) => json(await cli(['--root', root, 'doctor', '--json'], expect))
async function installedRoot(): Promise<string> {
  const root = freshRoot()
  await cli(['--root', root, 'install', '--manifest', first.manifest])
  return root
}
const actionsOf = (plan: Json): string[] => plan.steps.map((s: Json) => s.action)

// ---- real output ----------------------------------------------------------------------------

const real = suite('plan and doctor JSON validate')

real.before(async () => {
  first = await buildRelease({ releaseId: '2026.06.10', version: '0.1.0', contents: shared })
  second = await buildRelease({ releaseId: '2026.07.01', version: '0.2.0', contents: { ...shared, 'nullspace-api': 'nullspace-api of 2026.07.01\n' } })
})

real('the examples in schemas/examples', () => {
  assertValid(validatePlan, readJson('schemas/examples/plan.example.json'), 'schemas/examples/plan.example.json')
  assertValid(validateDoctor, readJson('schemas/examples/doctor.example.json'), 'schemas/examples/doctor.example.json')
})

real('plan --json on a fresh root, and the same plan saved with --out', async () => {
  const root = freshRoot()
  const out = path.join(tempDir('plan'), 'plan.json')
  const plan = await planJson(root, first.manifest)
  assertValid(validatePlan, plan, 'plan of a fresh root')
  for (const a of ['fetch', 'seal', 'switch', 'compat-link', 'render', 'record']) assert.ok(actionsOf(plan).includes(a), `a fresh install plans ${a}`)
  await cli(['--root', root, 'plan', '--manifest', first.manifest, '--out', out])
  assertValid(validatePlan, JSON.parse(fs.readFileSync(out, 'utf8')), 'plan saved by --out')
})

real('plan --json on a converged root: zero steps', async () => {
  const plan = await planJson(await installedRoot(), first.manifest)
  assert.equal(plan.steps, [])
  assertValid(validatePlan, plan, 'plan of a converged root')
})

real('plan --json of a second release: link steps, hooks', async () => {
  const root = await installedRoot()
  const hooks = path.join(root, 'etc/nullspace/hooks/post-switch.d')
  fs.mkdirSync(hooks, { recursive: true })
  fs.writeFileSync(path.join(hooks, '50-restart-api'), '#!/bin/sh\nexit 0\n', { mode: 0o755 })
  const plan = await planJson(root, second.manifest)
  assertValid(validatePlan, plan, 'plan of a second release')
  const actions = actionsOf(plan)
  assert.is(actions.filter((a) => a === 'link').length, KIND_LAYOUT.length - 1, 'every shared file is hard-linked')
  assert.is(actions.filter((a) => a === 'fetch').length, 1, 'only the API is fetched')
  assert.ok(actions.includes('hooks'))
})

real('upgrade --dry-run --json (a plan with the ingress smoke)', async () => {
  const plan = json(await cli(['--root', await installedRoot(), 'upgrade', '--manifest', second.manifest, '--dry-run', '--json']))
  assertValid(validatePlan, plan, 'upgrade --dry-run plan')
  assert.ok(actionsOf(plan).includes('smoke'))
})

real('plan --json of a damaged host: repair, adopt, clean', async () => {
  const root = await installedRoot()
  const releases = path.join(root, 'opt/nullspace/releases')
  fs.rmSync(path.join(releases, first.releaseId, 'bin/nullspace-api'))
  fs.symlinkSync(second.releaseId, path.join(releases, '.current.tmp-4242-0badc0de'))
  const repair = await planJson(root, first.manifest)
  assertValid(validatePlan, repair, 'plan of a host with a missing file and a temp link')
  assert.ok(actionsOf(repair).includes('repair'))
  assert.ok(actionsOf(repair).includes('clean'))
  // A release directory without a seal (an interrupted rename, or someone's copy): adopted, not trusted.
  fs.mkdirSync(path.join(releases, second.releaseId, 'bin'), { recursive: true })
  fs.writeFileSync(path.join(releases, second.releaseId, 'bin/nullspace-api'), 'nullspace-api of 2026.07.01\n')
  const adopt = await planJson(root, second.manifest)
  assertValid(validatePlan, adopt, 'plan over an unsealed release directory')
  assert.ok(actionsOf(adopt).includes('adopt'))
})

real('doctor --json on an installed root and on an empty root', async () => {
  const ok = await doctorJson(await installedRoot(), 0)
  assert.is(ok.ok, true)
  assertValid(validateDoctor, ok, 'doctor of an installed root')
  const empty = await doctorJson(freshRoot(), 1)
  assert.is(empty.ok, false)
  assert.is(empty.active, null)
  assertValid(validateDoctor, empty, 'doctor of an empty root')
})

real.run()

// ---- the schemas are strict where the types are closed --------------------------------------

const strict = suite('the schemas refuse what the tool never prints')
const example = () => readJson('schemas/examples/plan.example.json')

strict('an unknown step action, a step without bytes, a field the Plan type lacks', () => {
  const unknown = example()
  unknown.steps[0].action = 'teleport'
  assert.not.ok(validatePlan(unknown))
  const noBytes = example()
  delete noBytes.steps[0].bytes
  assert.not.ok(validatePlan(noBytes))
  assert.not.ok(validatePlan({ ...example(), surprise: true }))
  const doctor = readJson('schemas/examples/doctor.example.json')
  assert.not.ok(validateDoctor({ ...doctor, components: [{ ...doctor.components[0], colour: 'red' }] }))
})

strict('the runtime_compatibility of doctor is the manifest schema\'s, and so are the patterns', () => {
  const manifest = readJson('schemas/single-host-release-manifest.schema.json')
  for (const name of ['runtime_compatibility', 'non_empty_string', 'digest', 'sha256_hex', 'release_id']) {
    assert.equal(doctorSchema.$defs[name], manifest.$defs[name], `doctor $defs.${name}`)
    if (name in planSchema.$defs) assert.equal(planSchema.$defs[name], manifest.$defs[name], `plan $defs.${name}`)
  }
})

strict.run()

// ---- the schemas mirror the TypeScript types ------------------------------------------------

const types = suite('the schemas mirror lib/plan/types.ts and lib/doctor.ts')

const TYPES_FILE = path.join(REPO, 'lib/plan/types.ts')
const DOCTOR_FILE = path.join(REPO, 'lib/doctor.ts')
let checker: ts.TypeChecker
let program: ts.Program

types.before(() => {
  const config = ts.readConfigFile(path.join(REPO, 'tsconfig.json'), ts.sys.readFile)
  const { options } = ts.parseJsonConfigFileContent(config.config, ts.sys, REPO)
  program = ts.createProgram([TYPES_FILE, DOCTOR_FILE], { ...options, noEmit: true })
  checker = program.getTypeChecker()
})

function exportedType(file: string, name: string): ts.Type {
  const sf = program.getSourceFile(file)
  assert.ok(sf, `${file} is part of the program`)
  const sym = checker.getExportsOfModule(checker.getSymbolAtLocation(sf)!).find((s) => s.name === name)
  assert.ok(sym, `${path.relative(REPO, file)} exports ${name}`)
  return checker.getDeclaredTypeOfSymbol(sym)
}

const literalsOf = (t: ts.Type): (string | number)[] => (t.isUnion() ? t.types : [t]).map((x) => (x.isLiteral() ? (x.value as string | number) : NaN))

/** `$ref`s resolved within the schema; the referring node's own keywords (description) kept. */
function resolve(s: Json, root: Json): Json {
  while (s.$ref) {
    const { $ref, ...rest } = s
    s = { ...root.$defs[String($ref).replace('#/$defs/', '')], ...rest }
  }
  return s
}
/** The alternatives a schema node admits: oneOf branches, each type of a type list, each enum value as a const. */
function alternatives(s: Json, root: Json): Json[] {
  s = resolve(s, root)
  if (s.oneOf) return s.oneOf.flatMap((x: Json) => alternatives(x, root))
  if (s.enum) return s.enum.map((v: unknown) => ({ const: v }))
  if (Array.isArray(s.type)) return s.type.map((t: string) => ({ ...s, type: t }))
  return [s]
}

type Shape = 'null' | 'string' | 'number' | 'boolean' | 'array' | 'object' | { literal: string | number | boolean }
function shapeOfTs(t: ts.Type): Shape {
  if (t.flags & ts.TypeFlags.Null) return 'null'
  if (t.isStringLiteral() || t.isNumberLiteral()) return { literal: t.value }
  if (t.flags & ts.TypeFlags.BooleanLiteral) return { literal: (t as unknown as { intrinsicName: string }).intrinsicName === 'true' }
  if (t.flags & ts.TypeFlags.StringLike) return 'string'
  if (t.flags & ts.TypeFlags.NumberLike) return 'number'
  if (t.isIntersection()) {
    // io-ts brands: string & Brand<...>
    if (t.types.some((x) => x.flags & ts.TypeFlags.StringLike)) return 'string'
    if (t.types.some((x) => x.flags & ts.TypeFlags.NumberLike)) return 'number'
  }
  if (checker.isArrayType(t)) return 'array'
  return 'object'
}
function shapeOfSchema(s: Json): Shape {
  if ('const' in s) return { literal: s.const }
  return s.type === 'integer' ? 'number' : s.type
}
const key = (s: Shape) => (typeof s === 'string' ? s : JSON.stringify(s.literal))

/** Compares a TS type with a schema node; returns every difference, each naming where. */
function compare(t: ts.Type, node: Json, root: Json, at: string): string[] {
  const problems: string[] = []
  const parts = (t.isUnion() ? t.types : [t]).filter((x) => !(x.flags & ts.TypeFlags.Undefined))
  const alts = alternatives(node, root)
  // TypeScript spells boolean as true | false.
  const bools = parts.filter((x) => x.flags & ts.TypeFlags.BooleanLiteral)
  const tsShapes: Shape[] = parts.filter((x) => !(bools.length === 2 && bools.includes(x))).map(shapeOfTs)
  if (bools.length === 2) tsShapes.push('boolean')
  const schemaShapes = alts.map(shapeOfSchema)
  const tsKeys = new Set(tsShapes.map(key))
  const schemaKeys = new Set(schemaShapes.map(key))
  // A field the types keep as `string` may be narrowed to the manifest's enum (component kind).
  const narrowedString = tsKeys.has('string') && !schemaKeys.has('string') && schemaShapes.some((s) => typeof s === 'object' && typeof s.literal === 'string')
  for (const k of tsKeys) if (!schemaKeys.has(k) && !(k === 'string' && narrowedString)) problems.push(`${at}: the type admits ${k}, the schema does not`)
  for (const s of schemaShapes) {
    const k = key(s)
    if (tsKeys.has(k) || (narrowedString && typeof s === 'object')) continue
    problems.push(`${at}: the schema admits ${k}, the type does not`)
  }
  if (problems.length) return problems

  const arrays = parts.filter((x) => shapeOfTs(x) === 'array')
  for (const a of arrays) problems.push(...compare(checker.getTypeArguments(a as ts.TypeReference)[0], alts.find((s) => s.type === 'array').items, root, `${at}[]`))

  const objects = parts.filter((x) => shapeOfTs(x) === 'object')
  const schemaObjects = alts.filter((s) => s.type === 'object')
  if (objects.length === 1) return [...problems, ...compareObject(objects[0], schemaObjects[0], root, at)]
  // A discriminated union: pair each variant with the schema branch whose const matches its literal property.
  for (const o of objects) {
    const tag = checker.getPropertiesOfType(o).find((p) => checker.getTypeOfSymbol(p).isLiteral())
    if (!tag) {
      problems.push(`${at}: a union member has no literal discriminator`)
      continue
    }
    const value = (checker.getTypeOfSymbol(tag) as ts.LiteralType).value
    const branch = schemaObjects.find((s) => resolve(s.properties?.[tag.name] ?? {}, root).const === value)
    if (!branch) problems.push(`${at}: no schema branch has ${tag.name} = ${JSON.stringify(value)}`)
    else problems.push(...compareObject(o, branch, root, `${at}(${value})`))
  }
  return problems
}

function compareObject(t: ts.Type, s: Json, root: Json, at: string): string[] {
  const problems: string[] = []
  const props = checker.getPropertiesOfType(t)
  const names = props.map((p) => p.name).sort()
  const required = props.filter((p) => !(p.flags & ts.SymbolFlags.Optional)).map((p) => p.name).sort()
  const schemaNames = Object.keys(s.properties ?? {}).sort()
  if (s.additionalProperties !== false) problems.push(`${at}: the type is closed, the schema must say additionalProperties: false`)
  for (const n of names) if (!schemaNames.includes(n)) problems.push(`${at}.${n}: in the type, not in the schema`)
  for (const n of schemaNames) if (!names.includes(n)) problems.push(`${at}.${n}: in the schema, not in the type`)
  const schemaRequired = [...(s.required ?? [])].sort()
  if (JSON.stringify(required) !== JSON.stringify(schemaRequired)) problems.push(`${at}: required ${JSON.stringify(schemaRequired)}, the type requires ${JSON.stringify(required)}`)
  for (const p of props) if (s.properties?.[p.name]) problems.push(...compare(checker.getTypeOfSymbol(p), s.properties[p.name], root, `${at}.${p.name}`))
  return problems
}

types('every action of the Step union is a branch of the schema\'s step oneOf, and no other', () => {
  const actions = literalsOf(exportedType(TYPES_FILE, 'StepAction')).sort()
  assert.ok(actions.length >= 10 && actions.every((a) => typeof a === 'string'), `StepAction read from types.ts: ${actions}`)
  const branches = planSchema.$defs.step.oneOf.map((b: Json) => b.properties.action.const).sort()
  assert.equal(branches, actions)
})

types('the plan schema describes the PlanDocument type (the Plan and its plan_digest) field by field', () => {
  const problems = compare(exportedType(TYPES_FILE, 'PlanDocument'), planSchema, planSchema, 'PlanDocument')
  assert.equal(problems, [], problems.join('\n'))
})

types('the doctor schema describes the DoctorReport type field by field', () => {
  const problems = compare(exportedType(DOCTOR_FILE, 'DoctorReport'), doctorSchema, doctorSchema, 'DoctorReport')
  assert.equal(problems, [], problems.join('\n'))
})

types('the comparison notices a missing field and a missing action', () => {
  const lacking = structuredClone(planSchema)
  const fetch = lacking.$defs.step.oneOf.find((b: Json) => b.properties.action.const === 'fetch')
  delete fetch.properties.resume_from
  lacking.$defs.step.oneOf = lacking.$defs.step.oneOf.filter((b: Json) => b.properties.action.const !== 'clean')
  const problems = compare(exportedType(TYPES_FILE, 'Plan'), lacking, lacking, 'Plan').join('\n')
  assert.match(problems, 'Plan.steps[](fetch).resume_from: in the type, not in the schema')
  assert.match(problems, 'no schema branch has action = "clean"')
})

types.run()
