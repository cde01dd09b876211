// Paths the filesystem can hold (NAME_MAX 255 bytes a segment, PATH_MAX 4096 a path): the rules
// refuse a manifest path that no syscall would accept (bad-manifest cases 127-129, hostile cases
// 07 and 123-125), the longest accepted paths really install (temp names beside them included),
// and a host whose active release already names such a path (sealed by an older tool) is
// reported by doctor as a problem, not a crash.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fs from 'node:fs'
import path from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import { validateManifest } from '../lib/manifest/load.js'
import { formatProblem } from '../lib/manifest/problems.js'
import { MAX_SEGMENT_BYTES } from '../lib/layout.js'
import { RELEASES, cli, sha256, exits, installedRoot, makeRelease, ok, upgrade, within, type Rel } from './helpers/hosts.js'
import { tempDir } from './helpers/tmp.js'
import { DEFAULT_OPTIONS, applyPatch, loadExample } from './fixtures/bad-manifests/corpus.js'

const T = 60_000

/** `rel`'s manifest with `edit` applied, written beside it (its file:// URLs stay valid). */
function patched(rel: Rel, name: string, edit: (doc: { components: { kind: string; install_path: string; active_path?: string }[] }) => void): string {
  const doc = JSON.parse(fs.readFileSync(rel.manifest, 'utf8'))
  edit(doc)
  const file = path.join(rel.dir, name)
  fs.writeFileSync(file, `${JSON.stringify(doc, null, 2)}\n`)
  return file
}
const kind = (doc: { components: { kind: string; install_path: string; active_path?: string }[] }, k: string) => doc.components.find((c) => c.kind === k)!

test(`the longest segment accepted (${MAX_SEGMENT_BYTES} bytes) installs, as a file and as a link, and doctor is content`, () =>
  within(T, 'longest segment', (async () => {
    const rel = await makeRelease({ id: 'r1', version: '0.1.0' })
    const file = 'f'.repeat(MAX_SEGMENT_BYTES)
    const link = 'l'.repeat(MAX_SEGMENT_BYTES)
    const manifest = patched(rel, 'long.json', (doc) => {
      kind(doc, 'console').install_path = `console/${file}`
      kind(doc, 'rootfs').active_path = `/opt/nullspace/artifacts/${link}`
    })
    ok(await cli(['manifest', 'validate', '--manifest', manifest]), 'validate')
    const root = tempDir('long-root')
    ok(await cli(['install', '--root', root, '--manifest', manifest]), 'install')
    assert.ok(fs.statSync(path.join(root, RELEASES, 'r1/console', file)).isFile())
    assert.ok(fs.lstatSync(path.join(root, 'opt/nullspace/artifacts', link)).isSymbolicLink())
    // A second switch renames a temp link (the longest name) over the link.
    ok(await cli(['install', '--root', root, '--manifest', manifest]), 'install again')
    ok(await cli(['doctor', '--root', root]), 'doctor')
  })()))

test('one byte more is refused, and a link that would need more than PATH_MAX bytes is too', () => {
  const over = applyPatch(loadExample('dev'), [{ op: 'replace', path: '/components/1/install_path', value: `console/${'f'.repeat(MAX_SEGMENT_BYTES + 1)}` }])
  const r = validateManifest(over, DEFAULT_OPTIONS)
  assert.ok(E.isLeft(r) && r.left.map(formatProblem).some((l) => l.startsWith(`components[1].install_path: has a segment of ${MAX_SEGMENT_BYTES + 1} bytes`)))
  // 1400 levels of "a/": the path is 2815 bytes, but its link climbs back with 1400 "../".
  const deep = applyPatch(loadExample('dev'), [{ op: 'replace', path: '/components/3/active_path', value: `/opt/nullspace/${'a/'.repeat(1400)}rootfs.ext4` }])
  const d = validateManifest(deep, DEFAULT_OPTIONS)
  assert.ok(E.isLeft(d), 'accepted')
  assert.match(E.isLeft(d) ? d.left.map(formatProblem).join('\n') : '', /^components\[3\]\.active_path: needs a link of \d+ bytes to reach install_path through current; a link may hold at most 4095 bytes/m)
})

test('an active release that names a path over NAME_MAX (sealed by an older tool): doctor reports it, does not crash; upgrade leaves it', () =>
  within(T, 'too long on disk', (async () => {
    const r1 = await makeRelease({ id: 'r1', version: '0.1.0' })
    const r2 = await makeRelease({ id: 'r2', version: '0.2.0' })
    const root = await installedRoot(r1)
    // What an older tool, which did not measure paths, would have sealed.
    const longLink = `/opt/nullspace/artifacts/${'r'.repeat(300)}`
    const sealedManifest = path.join(root, RELEASES, 'r1/manifest.json')
    const doc = JSON.parse(fs.readFileSync(sealedManifest, 'utf8'))
    kind(doc, 'rootfs').active_path = longLink
    fs.chmodSync(sealedManifest, 0o644)
    fs.writeFileSync(sealedManifest, `${JSON.stringify(doc, null, 2)}\n`)
    // ... and sealed with it: the seal records that manifest's digest (a manifest changed after its seal is not trusted).
    const sealFile = path.join(root, RELEASES, 'r1/.nullspace-release.json')
    const seal = JSON.parse(fs.readFileSync(sealFile, 'utf8'))
    seal.manifest_digest = `sha256:${sha256(fs.readFileSync(sealedManifest))}`
    fs.chmodSync(sealFile, 0o644)
    fs.writeFileSync(sealFile, `${JSON.stringify(seal, null, 2)}\n`)

    const r = exits(await cli(['doctor', '--json', '--root', root]), 1, 'doctor')
    assert.not.match(r.stderr, /^\s+at .+:\d+:\d+\)?$/m, 'no stack trace')
    const report = JSON.parse(r.stdout) as { ok: boolean; problems: string[] }
    assert.is(report.ok, false)
    const line = report.problems.find((p) => p.includes(longLink))
    assert.ok(line, `no problem names the path:\n${report.problems.join('\n')}`)
    assert.match(line!, /too long/)

    ok(await upgrade(root, r2, '--skip-ingress-smoke'), 'upgrade to a release with sound paths')
    ok(await cli(['doctor', '--root', root]), 'doctor after the upgrade')
  })()))

test('a component name is a file name: with a chunk index, "../" in it would place the index outside the release', () =>
  within(T, 'name traversal', (async () => {
    const rel = await makeRelease({ id: 'r1', version: '0.1.0' })
    const manifest = patched(rel, 'name.json', (doc) => {
      const rootfs = kind(doc, 'rootfs') as unknown as { name: string; url: string; sha256: string; size: number; chunks?: unknown }
      rootfs.name = '../../../../../../etc/evil'
      // Any verified bytes do as the index: it is fetched like an artifact and read only for deltas.
      rootfs.chunks = { url: rootfs.url, sha256: rootfs.sha256, size: rootfs.size, chunk_size: 4096 }
    })
    const root = tempDir('name-root')
    const r = exits(await cli(['install', '--root', root, '--manifest', manifest]), 65, 'install')
    assert.match(r.stderr, /components\[3\]\.name: must be a file name/)
    assert.not.ok(fs.existsSync(path.join(root, 'etc/evil.chunks')), 'the index was written outside the release')
    assert.not.ok(fs.existsSync(path.join(root, 'opt/nullspace/releases/current')), 'nothing was installed')
  })()))

test.run()
