// `manifest build` and `manifest validate` through the real CLI, as an operator runs them:
// real artifact directories, real files, the exit codes (README, "Exit codes") and the lines.
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createHash, randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import Ajv2020 from 'ajv/dist/2020.js'
import { json, runCli, type CliResult, show } from './helpers/cli.js'
import { buildArgs, buildRelease, writeArtifacts } from './helpers/artifacts.js'
import { tempDir } from './helpers/tmp.js'
import { KIND_LAYOUT } from '../lib/manifest/kinds.js'
import type { Manifest } from '../lib/manifest/codec.js'
import { EXAMPLE_FILES, SCHEMA_FILE, loadCorpus } from './fixtures/bad-manifests/corpus.js'
import { sha256 } from './helpers/hosts.js'

const MiB = 1024 * 1024
const LIMIT = 16 * MiB
const DAY = 86_400_000

const validateSchema = new Ajv2020.default({ strict: true, allErrors: true }).compile(JSON.parse(fs.readFileSync(SCHEMA_FILE, 'utf8')))
const readManifest = (file: string): Manifest => JSON.parse(fs.readFileSync(file, 'utf8')) as Manifest
const lines = (s: string) => s.split('\n').filter((l) => l.trim() !== '')
/** One line on stderr, `nullspace-host: ...`, and no stack trace. */
function oneLineError(r: CliResult): string {
  assert.is(lines(r.stderr).length, 1, show(r))
  assert.match(r.stderr, /^nullspace-host: /)
  assert.not.match(r.stderr, /^\s+at /m)
  return r.stderr.trim()
}
const validate = (file: string, extra: string[] = []) => runCli(['manifest', 'validate', '--manifest', file, ...extra])

const build = suite('manifest build (CLI)')

build('the product page\'s command writes a manifest that validate and the JSON Schema accept', async () => {
  const dir = path.join(tempDir('release'), 'nullspace-release')
  writeArtifacts(dir, '2026.06.10')
  const output = path.join(dir, 'manifest.json')
  const machine = os.machine()
  const arch = ['x86_64', 'aarch64', 'amd64', 'arm64'].includes(machine) ? machine : 'x86_64'
  // As printed on the product page, with "$(uname -m)" and "$(git rev-parse HEAD)" filled in.
  const r = await runCli([
    'manifest', 'build',
    '--artifact-dir', dir,
    '--output', output,
    '--release-id', '2026.06.10',
    '--version', '0.1.0',
    '--arch', arch,
    '--source-revision', '3f1c2a9be0d44c7e8a51b6f0c2d9e7a4b8c3d2e1',
    '--firecracker-version', 'v1.12.1',
    '--firecracker-commit', 'reviewed-firecracker-build',
    '--snapshot-data-format', 'firecracker-v1.12',
    '--kernel-identity', 'linux-6.1-nullspace',
  ])
  assert.is(r.code, 0, show(r))
  assert.is(r.stderr, '')
  const v = await validate(output)
  assert.is(v.code, 0, show(v))
  const m = readManifest(output)
  assert.ok(validateSchema(m), JSON.stringify(validateSchema.errors))
  const wantArch = arch === 'amd64' ? 'x86_64' : arch === 'arm64' ? 'aarch64' : arch
  assert.is(m.manifest_id, `nullspace-single-host/2026.06.10/${wantArch}`)
  assert.is(m.expires_at, undefined)
  // Every component records the file it was built from, hashed independently here.
  for (const layout of KIND_LAYOUT) {
    const c = m.components.find((x) => x.kind === layout.kind)!
    const bytes = fs.readFileSync(path.join(dir, layout.file))
    assert.is(c.sha256, sha256(bytes), layout.kind)
    assert.is(c.size, bytes.length, layout.kind)
    assert.is(c.install_path, layout.installPath, layout.kind)
    assert.is(c.active_path, layout.activePath, layout.kind)
    assert.is(fileURLToPath(c.url), path.join(dir, layout.file), layout.kind)
  }
  assert.is(m.runtime_compatibility.rootfs_digest, `sha256:${sha256(fs.readFileSync(path.join(dir, 'rootfs.ext4')))}`)
})

build('--base-url https://example.test/rel gives https URLs under it', async () => {
  const rel = await buildRelease({ extra: ['--base-url', 'https://example.test/rel'] })
  const m = readManifest(rel.manifest)
  for (const layout of KIND_LAYOUT) assert.is(m.components.find((c) => c.kind === layout.kind)!.url, `https://example.test/rel/${layout.file}`)
  const v = await validate(rel.manifest)
  assert.is(v.code, 0, show(v))
  assert.ok(validateSchema(m), JSON.stringify(validateSchema.errors))
})

build('default file:// URLs are absolute and percent-encoded, even from a relative --artifact-dir', async () => {
  const parent = tempDir('release')
  const name = 'release media #1 100% ü'
  const dir = path.join(parent, name)
  writeArtifacts(dir, '2026.06.10')
  const r = await runCli(buildArgs(name, 'manifest.json', '2026.06.10', '0.1.0'), { cwd: parent })
  assert.is(r.code, 0, show(r))
  const m = readManifest(path.join(parent, 'manifest.json'))
  for (const layout of KIND_LAYOUT) {
    const url = m.components.find((c) => c.kind === layout.kind)!.url
    assert.ok(url.startsWith('file:///'), url)
    assert.not.match(url, / |#|ü/, url)
    assert.ok(url.includes('release%20media%20%231%20100%25%20%C3%BC'), url)
    assert.is(fileURLToPath(url), path.join(dir, layout.file))
  }
  const v = await validate(path.join(parent, 'manifest.json'))
  assert.is(v.code, 0, show(v))
})

build('a missing artifact file: exit 65, one line naming the file, no output file left', async () => {
  const dir = path.join(tempDir('release'), 'r')
  writeArtifacts(dir, '2026.06.10')
  fs.rmSync(path.join(dir, 'vmlinux'))
  const outDir = tempDir('out')
  const r = await runCli(buildArgs(dir, path.join(outDir, 'manifest.json'), '2026.06.10', '0.1.0'))
  assert.is(r.code, 65, show(r))
  assert.ok(oneLineError(r).includes(path.join(dir, 'vmlinux')), r.stderr)
  assert.equal(fs.readdirSync(outDir), [])
})

build('an empty artifact file: exit 65, one line naming the file, no output file left', async () => {
  const dir = path.join(tempDir('release'), 'r')
  writeArtifacts(dir, '2026.06.10', { 'template.ext4': '' })
  const outDir = tempDir('out')
  const r = await runCli(buildArgs(dir, path.join(outDir, 'manifest.json'), '2026.06.10', '0.1.0'))
  assert.is(r.code, 65, show(r))
  const line = oneLineError(r)
  assert.ok(line.includes(path.join(dir, 'template.ext4')), line)
  assert.match(line, /empty/)
  assert.equal(fs.readdirSync(outDir), [])
})

build('--arch sparc: exit 64 naming --arch, no output file', async () => {
  const dir = path.join(tempDir('release'), 'r')
  writeArtifacts(dir, '2026.06.10')
  const outDir = tempDir('out')
  const r = await runCli(buildArgs(dir, path.join(outDir, 'manifest.json'), '2026.06.10', '0.1.0', { arch: 'sparc' }))
  assert.is(r.code, 64, show(r))
  assert.match(oneLineError(r), /--arch/)
  assert.equal(fs.readdirSync(outDir), [])
})

build('--expires-in 30 sets expires_at 30 days after created_at, about now', async () => {
  const before = Date.now()
  const rel = await buildRelease({ extra: ['--expires-in', '30'] })
  const after = Date.now()
  const m = readManifest(rel.manifest)
  assert.ok(m.expires_at !== undefined)
  const expires = Date.parse(m.expires_at!)
  assert.is(expires - Date.parse(m.created_at), 30 * DAY)
  assert.ok(expires >= before - 1000 + 30 * DAY && expires <= after + 30 * DAY, m.expires_at)
  const v = await validate(rel.manifest)
  assert.is(v.code, 0, show(v))
  assert.ok(validateSchema(m))
})

build('--json prints one parseable document whose digest is the sha256 of the written file', async () => {
  const dir = path.join(tempDir('release'), 'r')
  writeArtifacts(dir, '2026.06.10')
  const output = path.join(dir, 'manifest.json')
  const r = await runCli([...buildArgs(dir, output, '2026.06.10', '0.1.0'), '--json'])
  assert.is(r.code, 0, show(r))
  const doc = json(r)
  assert.is(doc.ok, true)
  assert.is(doc.output, output)
  assert.is(doc.manifest_id, 'nullspace-single-host/2026.06.10/x86_64')
  assert.is(doc.digest, `sha256:${sha256(fs.readFileSync(output))}`)
})

build('a directory of ten files with a 1 GiB rootfs.ext4 builds, validates, and records its real sha256', async () => {
  const dir = path.join(tempDir('big-release'), 'r')
  writeArtifacts(dir, '2026.06.10')
  const rootfs = path.join(dir, 'rootfs.ext4')
  // 1 GiB of random-looking bytes: one random MiB, each copy stamped with its index so no
  // two MiB are equal (a hasher that skipped or repeated a block would be caught).
  const block = randomBytes(MiB)
  const hash = createHash('sha256')
  const fd = fs.openSync(rootfs, 'w')
  try {
    for (let i = 0; i < 1024; i++) {
      block.writeUInt32LE(i, 0)
      hash.update(block)
      fs.writeSync(fd, block)
    }
  } finally {
    fs.closeSync(fd)
  }
  const want = hash.digest('hex')
  try {
    const output = path.join(dir, 'manifest.json')
    const r = await runCli(buildArgs(dir, output, '2026.06.10', '0.1.0'), { timeoutMs: 120_000 })
    assert.is(r.code, 0, show(r))
    const m = readManifest(output)
    const c = m.components.find((x) => x.kind === 'rootfs')!
    assert.is(c.size, 1024 * MiB)
    assert.is(c.sha256, want)
    assert.is(m.runtime_compatibility.rootfs_digest, `sha256:${want}`)
    const v = await validate(output)
    assert.is(v.code, 0, show(v))
  } finally {
    fs.rmSync(rootfs, { force: true })
  }
})

build.run()

// ---------------------------------------------------------------------------------------
const check = suite('manifest validate (CLI)')

const corpus = loadCorpus()
const writeCase = (name: string): { file: string; expect: readonly string[] } => {
  const c = corpus.find((x) => x.file.endsWith(`-${name}.json`))!
  const file = path.join(tempDir('bad'), 'manifest.json')
  fs.writeFileSync(file, `${JSON.stringify(c.manifest, null, 2)}\n`)
  return { file, expect: c.expect }
}

check('the checked-in examples validate (exit 0)', async () => {
  for (const file of Object.values(EXAMPLE_FILES)) {
    const r = await validate(file)
    assert.is(r.code, 0, show(r))
    assert.match(r.stdout, /valid manifest nullspace-single-host\/2026\.06\.10\/x86_64 \(sha256:[0-9a-f]{64}\)/)
  }
})

for (const name of ['several-rule-problems', 'several-structural-problems']) {
  check(`an invalid manifest (${name}): exit 65, every problem on its own line with its field path`, async () => {
    const { file, expect } = writeCase(name)
    assert.ok(expect.length >= 2)
    const r = await validate(file)
    assert.is(r.code, 65, show(r))
    const got = lines(r.stderr)
    assert.is(got[0], `nullspace-host: ${file}: invalid manifest (${expect.length} problems)`)
    assert.equal(got.slice(1).map((l) => l.trim()), [...expect])
    for (const l of got.slice(1)) assert.match(l, /^\s+[a-z_]+(\[\d+\])?(\.[a-z0-9_]+(\[\d+\])?)*: /, l)
  })
}

check('invalid JSON names the line and column, on one line', async () => {
  const text = fs.readFileSync(EXAMPLE_FILES.dev, 'utf8')
  const at = (needle: string) => {
    const offset = text.indexOf(needle)
    const before = text.slice(0, offset)
    return { line: before.split('\n').length, column: offset - before.lastIndexOf('\n') }
  }
  const cases = [
    // A missing comma: reported where the next property starts.
    { broken: text.replace('"size": 48213872,', '"size": 48213872'), where: at('"architecture": "x86_64",\n      "version": "0.1.0",\n      "compatibility_class": "api-v0"') },
    // A bare word where a value belongs: reported at the word.
    { broken: text.replace('"required": true', '"required": yes'), where: at('"required": true') },
  ]
  cases[1].where.column += '"required": '.length
  for (const { broken, where } of cases) {
    const file = path.join(tempDir('bad-json'), 'manifest.json')
    fs.writeFileSync(file, broken)
    const r = await validate(file)
    assert.is(r.code, 65, show(r))
    const line = oneLineError(r)
    assert.ok(line.includes(`${file}: invalid JSON at line ${where.line}, column ${where.column}`), line)
  }
})

check('a manifest file over 16 MiB is refused before parsing; exactly 16 MiB is read', async () => {
  const text = fs.readFileSync(EXAMPLE_FILES.dev, 'utf8')
  const dir = tempDir('big-manifest')
  // A valid manifest padded with whitespace: were it parsed, it would pass.
  const over = path.join(dir, 'over.json')
  fs.writeFileSync(over, text + ' '.repeat(LIMIT + 1 - Buffer.byteLength(text)))
  const r = await validate(over)
  assert.is(r.code, 65, show(r))
  const line = oneLineError(r)
  assert.match(line, /16777216-byte manifest limit/)
  assert.not.match(line, /JSON/)
  const exact = path.join(dir, 'exact.json')
  fs.writeFileSync(exact, text + ' '.repeat(LIMIT - Buffer.byteLength(text)))
  const ok = await validate(exact)
  assert.is(ok.code, 0, show(ok))
})

check('JSON nested 100000 levels deep is a clear one-line error, not a crash', async () => {
  const dir = tempDir('deep')
  for (const [name, text] of [
    ['arrays.json', '['.repeat(100_000) + ']'.repeat(100_000)],
    ['objects.json', '{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000)],
  ] as const) {
    const file = path.join(dir, name)
    fs.writeFileSync(file, text)
    const r = await validate(file)
    assert.is(r.code, 65, show(r))
    assert.match(oneLineError(r), /nested deeper than \d+ levels/)
  }
})

check('--json prints one parseable document, valid or not', async () => {
  const good = await validate(EXAMPLE_FILES.release, ['--json'])
  assert.is(good.code, 0, show(good))
  const g = json(good)
  assert.is(g.ok, true)
  assert.is(g.manifest_id, 'nullspace-single-host/2026.06.10/x86_64')
  assert.is(g.digest, `sha256:${sha256(fs.readFileSync(EXAMPLE_FILES.release))}`)
  assert.equal(g.problems, [])

  const { file, expect } = writeCase('several-rule-problems')
  const bad = await validate(file, ['--json'])
  assert.is(bad.code, 65, show(bad))
  const b = json(bad)
  assert.is(b.ok, false)
  for (const p of expect) assert.ok(b.problems.includes(p), `${p} not in ${JSON.stringify(b.problems)}`)
})

check.run()
