// The codec and the rules (validateManifest) against the bad-manifest corpus and the two
// checked-in examples. Each case must be refused with exactly the problem lines it lists,
// every one naming its field, at a fixed clock.
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import * as E from 'fp-ts/lib/Either.js'
import { validateManifest } from '../lib/manifest/load.js'
import { formatProblem, type Problem } from '../lib/manifest/problems.js'
import { KIND_LAYOUT } from '../lib/manifest/kinds.js'
import type { Manifest } from '../lib/manifest/codec.js'
import { DEFAULT_OPTIONS, FIXED_NOW, applyPatch, loadCorpus, loadExample, type BadManifestCase } from './fixtures/bad-manifests/corpus.js'

const corpus = loadCorpus()
const byName = (name: string): BadManifestCase => {
  const c = corpus.find((x) => x.file === `${name}.json` || x.file.replace(/^\d+-/, '') === `${name}.json`)
  if (!c) throw new Error(`no corpus case ${name}`)
  return c
}
const problems = (r: E.Either<Problem[], Manifest>): Problem[] => (E.isLeft(r) ? r.left : [])

const examples = suite('manifest examples')

for (const which of ['dev', 'release'] as const) {
  examples(`the ${which} example is accepted by the codec and every rule`, () => {
    const r = validateManifest(loadExample(which), DEFAULT_OPTIONS)
    assert.equal(problems(r).map(formatProblem), [])
    assert.ok(E.isRight(r))
  })

  examples(`the ${which} example is still accepted at today's clock (the CLI judges with Date.now())`, () => {
    assert.equal(problems(validateManifest(loadExample(which), { ...DEFAULT_OPTIONS, now: Date.now() })).map(formatProblem), [])
  })

  examples(`the ${which} example puts every kind at the install and active paths of ARCHITECTURE.md section 7`, () => {
    const m = loadExample(which) as Manifest
    assert.equal(
      m.components.map((c) => [c.kind, c.install_path, c.active_path]),
      KIND_LAYOUT.map((l) => [l.kind, l.installPath, l.activePath]),
    )
  })
}

examples('the dev example uses absolute file:// URLs, the release example https:// URLs', () => {
  const dev = loadExample('dev') as Manifest
  const rel = loadExample('release') as Manifest
  for (const c of dev.components) {
    const u = new URL(c.url)
    assert.is(u.protocol, 'file:', c.url)
    assert.ok(u.pathname.startsWith('/'), c.url)
    assert.ok(u.pathname.endsWith(`/${KIND_LAYOUT.find((l) => l.kind === c.kind)!.file}`), c.url)
  }
  for (const c of rel.components) assert.is(new URL(c.url).protocol, 'https:', c.url)
})

examples('the two examples describe the same release: they differ in URLs only', () => {
  const strip = (m: Manifest) => ({ ...m, components: m.components.map(({ url: _url, ...rest }) => rest) })
  assert.equal(strip(loadExample('release') as Manifest), strip(loadExample('dev') as Manifest))
})

examples.run()

const rules = suite('bad-manifest corpus: codec + rules')

rules('the corpus has at least 30 cases, of both layers', () => {
  assert.ok(corpus.length >= 30, `${corpus.length} cases`)
  assert.ok(corpus.filter((c) => c.structural).length >= 10)
  assert.ok(corpus.filter((c) => !c.structural).length >= 10)
})

rules('the corpus covers what ARCHITECTURE.md section 7 says a manifest must pass', () => {
  const names = corpus.map((c) => c.file.replace(/^\d+-|\.json$/g, ''))
  for (const want of [
    'top-level-array', 'size-is-string', 'kind-missing', 'kind-duplicate', 'install-path-dotdot', 'install-path-absolute',
    'install-path-dot', 'install-path-trailing-slash', 'active-path-outside-opt-nullspace', 'active-path-under-releases',
    'install-path-duplicate', 'active-path-duplicate', 'sha256-short', 'sha256-uppercase', 'size-negative', 'size-fractional',
    'rootfs-digest-mismatch', 'template-digest-mismatch', 'jailer-version-mismatch', 'url-http', 'url-ftp', 'url-data',
    'url-javascript', 'url-credentials', 'release-id-slash', 'release-id-current', 'release-id-staging',
    'schema-version-unknown', 'expires-at-past', 'manifest-id-mismatch', 'unknown-top-level-field',
    'runtime-compatibility-field-missing', 'component-architecture-mismatch', 'version-not-semver',
  ])
    assert.ok(names.includes(want), `missing case ${want}`)
})

for (const c of corpus) {
  rules(`${c.file}: ${c.description}`, () => {
    const r = validateManifest(c.manifest, c.options)
    assert.ok(E.isLeft(r), 'accepted, but must be refused')
    const found = problems(r)
    assert.equal(found.map(formatProblem), [...c.expect])
    // One line per problem, each naming its field (only a document that is not an object has none).
    const isObject = typeof c.manifest === 'object' && c.manifest !== null && !Array.isArray(c.manifest)
    for (const p of found) {
      assert.not.match(formatProblem(p), /\n/)
      if (isObject) assert.ok(p.path !== '', `no field named in ${JSON.stringify(p)}`)
    }
  })
}

rules('the verdict is a function of the inputs: validating twice gives the same problems', () => {
  for (const c of corpus) assert.equal(problems(validateManifest(c.manifest, c.options)), problems(validateManifest(c.manifest, c.options)), c.file)
})

rules('an expired manifest is accepted with allowExpired, and before its expires_at', () => {
  const c = byName('expires-at-past')
  assert.ok(E.isRight(validateManifest(c.manifest, { ...c.options, allowExpired: true })))
  assert.ok(E.isRight(validateManifest(c.manifest, { ...c.options, now: Date.parse('2026-05-31T23:59:59Z') })))
  // The instant itself is already expired.
  assert.ok(E.isLeft(validateManifest(c.manifest, { ...c.options, now: Date.parse('2026-06-01T00:00:00Z') })))
})

rules('an expires_at far in the future is accepted', () => {
  const m = applyPatch(loadExample('dev'), [{ op: 'add', path: '/expires_at', value: '2099-12-31T23:59:59Z' }])
  assert.ok(E.isRight(validateManifest(m, { ...DEFAULT_OPTIONS, now: Date.now() })))
})

rules('an http: URL is accepted with allowHttp, and only then', () => {
  for (const name of ['url-http', 'chunks-url-http']) {
    const c = byName(name)
    assert.ok(E.isLeft(validateManifest(c.manifest, c.options)), name)
    assert.equal(problems(validateManifest(c.manifest, { ...c.options, allowHttp: true })).map(formatProblem), [], name)
  }
})

rules('a problem line never repeats a URL password', () => {
  const c = byName('url-credentials')
  assert.not.match(problems(validateManifest(c.manifest, c.options)).map(formatProblem).join('\n'), /s3cret|deploy/)
})

rules('the fixed clock of the corpus is the examples\' release day', () => {
  assert.is(new Date(FIXED_NOW).toISOString(), '2026-06-10T12:00:00.000Z')
})

rules.run()
