// --manifest URL (ARCHITECTURE.md section 8.4, first paragraph) through the real CLI: a real nginx on
// 127.0.0.1 serves manifests, their signatures and artifacts over https (a test CA the CLI
// trusts through NODE_EXTRA_CA_CERTS), a real http server serves the plain-http cases, and
// hosts trust a real ed25519 key. A fetched manifest goes through the same decode, rules and
// signature policy as a file; every refusal is one line naming the URL and changes nothing.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fs from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { startNginx, type Nginx } from './helpers/nginx.js'
import { startServer, type TestServer } from './helpers/server.js'
import { RELEASES, type Rel, cli as run, currentOf, exits, makeRelease, ok, sha256, treeOf } from './helpers/hosts.js'
import { json, type CliResult } from './helpers/cli.js'
import { freePort } from './helpers/stand-in-api.js'
import { noise } from './helpers/artifacts.js'
import { tempDir } from './helpers/tmp.js'

const TRUSTED = 'etc/nullspace/trusted-keys'
const MAX_MANIFEST_BYTES = 16 * 1024 * 1024

let nginx: Nginx
let plain: TestServer
let key: { id: string; key: string; pub: string }
let r1: Rel
let r2: Rel
/** The bytes of r2's manifest and signature, as published. */
let r2Bytes: Buffer
let r2Sig: Buffer

/** The CLI, trusting nginx's test certificate. */
const cli = (args: string[]) => run(args, { env: { NODE_EXTRA_CA_CERTS: nginx.caFile } })

/** Copies everything `manifest build` and `manifest sign` left in the release dir to `/<prefix>/` on nginx. */
function publish(rel: Rel, prefix: string): void {
  for (const file of fs.readdirSync(rel.dir)) nginx.put(`/${prefix}/${file}`, fs.readFileSync(path.join(rel.dir, file)))
}

const manifestUrl = (prefix: string) => nginx.url(`/${prefix}/manifest.json`)

/** A root that trusts the spec's key. */
function trustingRoot(): string {
  const root = tempDir('root')
  fs.mkdirSync(path.join(root, TRUSTED), { recursive: true, mode: 0o755 })
  fs.copyFileSync(key.pub, path.join(root, TRUSTED, path.basename(key.pub)))
  return root
}

/** A trusting root with r1 installed from its URL. */
async function r1Root(): Promise<string> {
  const root = trustingRoot()
  ok(await cli(['install', '--root', root, '--manifest', manifestUrl('r1')]), 'install r1 from its URL')
  return root
}

/** Signs `bytes` with the spec's key (the real `manifest sign`) and returns the signature file's bytes. */
async function signed(bytes: Buffer): Promise<Buffer> {
  const file = path.join(tempDir('sign'), 'manifest.json')
  fs.writeFileSync(file, bytes)
  ok(await cli(['manifest', 'sign', '--manifest', file, '--key', key.key]), 'manifest sign')
  return fs.readFileSync(`${file}.sig`)
}

/** The failure is one line on stderr that names `url`. */
function oneLineNaming(r: CliResult, url: string): string {
  const lines = r.stderr.trim().split('\n')
  assert.is(lines.length, 1, r.stderr)
  assert.ok(lines[0]!.includes(url), `${lines[0]} should name ${url}`)
  return lines[0]!
}

test.before(async () => {
  plain = await startServer()
  nginx = await startNginx({
    // An https URL that moves to plain http: refused whatever --allow-http says.
    locations: `    location = /moved/manifest.json { return 301 ${plain.url('/r2/manifest.json')}; }\n`,
  })
  const dir = tempDir('keys')
  const k = json<{ key_id: string; private_key: string; public_key: string }>(ok(await run(['manifest', 'keygen', '--out', dir, '--json']), 'keygen'))
  key = { id: k.key_id, key: k.private_key, pub: k.public_key }
  r1 = await makeRelease({ id: 'r1', version: '0.1.0', flags: { baseUrl: nginx.url('/r1') } })
  r2 = await makeRelease({ id: 'r2', version: '0.2.0', change: { 'nullspace-api': 'nullspace-api r2\n', 'rootfs.ext4': noise(300_000, 2) }, flags: { baseUrl: nginx.url('/r2') } })
  for (const rel of [r1, r2]) ok(await run(['manifest', 'sign', '--manifest', rel.manifest, '--key', key.key]), `sign ${rel.id}`)
  publish(r1, 'r1')
  publish(r2, 'r2')
  r2Bytes = fs.readFileSync(r2.manifest)
  r2Sig = fs.readFileSync(`${r2.manifest}.sig`)
  plain.setFile('/r2/manifest.json', r2Bytes)
  plain.setFile('/r2/manifest.json.sig', r2Sig)
})

test.after(async () => {
  await nginx?.close()
  await plain?.close()
})

test('upgrade --manifest URL against nginx: install r1 and upgrade to r2 from their URLs; manifest, signature and artifacts fetched, sealed as served', async () => {
  const root = await r1Root()
  assert.is(currentOf(root), 'r1')
  const r = ok(await cli(['upgrade', '--root', root, '--manifest', manifestUrl('r2'), '--skip-ingress-smoke', '--json']), 'upgrade to r2 from its URL')
  const doc = json<{ ok: boolean; from: string; to: string; bytes_transferred: number }>(r)
  assert.equal([doc.ok, doc.from, doc.to], [true, 'r1', 'r2'])
  assert.ok(doc.bytes_transferred >= 300_000, `the changed rootfs came from nginx (${doc.bytes_transferred} bytes)`)
  assert.is(currentOf(root), 'r2')
  const sealed = path.join(root, RELEASES, 'r2')
  assert.ok(fs.readFileSync(path.join(sealed, 'manifest.json')).equals(r2Bytes), 'the sealed manifest is the bytes at the URL')
  assert.ok(fs.readFileSync(path.join(sealed, 'manifest.json.sig')).equals(r2Sig), 'the signature fetched from <url>.sig is sealed with it')
  for (const p of ['/r2/manifest.json', '/r2/manifest.json.sig', '/r2/rootfs.ext4', '/r2/nullspace-api']) assert.ok(nginx.requested().includes(p), `nginx served ${p}`)
  const doctor = json<{ ok: boolean; active: { release_id: string; manifest_digest: string } }>(ok(await cli(['doctor', '--root', root, '--json']), 'doctor'))
  assert.equal(doctor.active.release_id, 'r2')
  assert.is(doctor.active.manifest_digest, `sha256:${sha256(r2Bytes)}`)
})

test('a manifest changed at the URL after it was signed is refused (65), naming the URL; nothing on the host changes', async () => {
  const root = await r1Root()
  nginx.put('/tampered/manifest.json', Buffer.from(r2Bytes.toString('utf8').replace('"deadbeef"', '"deadbeee"')))
  nginx.put('/tampered/manifest.json.sig', r2Sig)
  const before = treeOf(root)
  const r = exits(await cli(['upgrade', '--root', root, '--manifest', manifestUrl('tampered'), '--skip-ingress-smoke']), 65, 'tampered manifest')
  const line = oneLineNaming(r, manifestUrl('tampered'))
  assert.match(line, /untrusted manifest: the signature by key [0-9a-f]{16} does not match the bytes/)
  assert.equal(treeOf(root), before)
})

test('a missing <url>.sig is refused (65) on a host that trusts keys: "no signature at <url>.sig"; a host without keys never asks for it', async () => {
  nginx.put('/unsigned/manifest.json', r2Bytes)
  const root = await r1Root()
  const before = treeOf(root)
  const r = exits(await cli(['upgrade', '--root', root, '--manifest', manifestUrl('unsigned'), '--skip-ingress-smoke']), 65, 'unsigned manifest')
  assert.ok(oneLineNaming(r, manifestUrl('unsigned')).includes(`no signature at ${manifestUrl('unsigned')}.sig`), r.stderr)
  assert.equal(treeOf(root), before)
  const asked = nginx.requested().filter((p) => p === '/unsigned/manifest.json.sig').length
  const open = tempDir('root')
  ok(await cli(['plan', '--root', open, '--manifest', manifestUrl('unsigned')]), 'plan on a host without trusted keys')
  assert.is(nginx.requested().filter((p) => p === '/unsigned/manifest.json.sig').length, asked, 'no signature was fetched for a host that trusts no key')
})

test('an http: URL is refused (65) without --allow-http before any request, as http artifact URLs are; with it, the manifest and its .sig come over http', async () => {
  const url = plain.url('/r2/manifest.json')
  const root = await r1Root()
  const before = treeOf(root)
  const r = exits(await cli(['upgrade', '--root', root, '--manifest', url, '--skip-ingress-smoke']), 65, 'http without --allow-http')
  assert.match(oneLineNaming(r, url), /plain http; refused without --allow-http/)
  assert.is(plain.requests.length, 0, 'nothing was requested')
  assert.equal(treeOf(root), before)
  const p = json<{ manifest: { path: string; digest: string } }>(ok(await cli(['plan', '--root', root, '--manifest', url, '--allow-http', '--json']), 'plan over http with --allow-http'))
  assert.equal(p.manifest, { release_id: 'r2', digest: `sha256:${sha256(r2Bytes)}`, path: url })
  assert.equal(plain.requests.map((q) => q.path), ['/r2/manifest.json', '/r2/manifest.json.sig'])
})

test('a redirect from the https manifest URL to http is refused (65) even with --allow-http; the http URL is never requested', async () => {
  const asked = plain.requests.length
  const r = exits(await cli(['plan', '--root', tempDir('root'), '--manifest', manifestUrl('moved'), '--allow-http']), 65, 'redirect to http')
  assert.match(oneLineNaming(r, manifestUrl('moved')), /redirects from https to http:\/\/127\.0\.0\.1:\d+\/r2\/manifest\.json; refused/)
  assert.is(plain.requests.length, asked)
})

test(`a manifest at the URL over ${MAX_MANIFEST_BYTES} bytes is refused (65) from its Content-Length, before parsing`, async () => {
  nginx.put('/huge/manifest.json', Buffer.alloc(MAX_MANIFEST_BYTES + 1, 0x20))
  const r = exits(await cli(['manifest', 'validate', '--manifest', manifestUrl('huge')]), 65, 'huge manifest')
  assert.match(oneLineNaming(r, manifestUrl('huge')), new RegExp(`over the ${MAX_MANIFEST_BYTES}-byte limit for a manifest \\(it announces ${MAX_MANIFEST_BYTES + 1} bytes\\)`))
})

test('a 404 at the URL is exit 65 (as a missing manifest file is); a server that cannot be reached is exit 1; each one line naming the URL, one --json document', async () => {
  const r = exits(await cli(['upgrade', '--root', tempDir('root'), '--manifest', manifestUrl('nope'), '--json']), 65, '404')
  assert.match(oneLineNaming(r, manifestUrl('nope')), /HTTP 404 Not Found: no manifest at that URL; check the --manifest URL/)
  assert.equal(json<{ ok: boolean; error: { code: string; exit: number } }>(r).error.exit, 65)
  const down = `https://127.0.0.1:${await freePort()}/r2/manifest.json`
  const u = exits(await cli(['plan', '--root', tempDir('root'), '--manifest', down, '--json']), 1, 'unreachable')
  assert.match(oneLineNaming(u, down), /ECONNREFUSED.*gave up after 3 attempts.*the manifest could not be fetched, nothing was changed/)
  const doc = json<{ ok: boolean; error: { code: string; message: string; exit: number } }>(u)
  assert.equal([doc.ok, doc.error.code, doc.error.exit], [false, 'failed', 1])
})

test('plan --out records the manifest URL; apply PLAN fetches it again: refused as stale while the bytes at the URL differ, applied once they are the planned ones', async () => {
  const root = await r1Root()
  nginx.put('/moving/manifest.json', r2Bytes)
  nginx.put('/moving/manifest.json.sig', r2Sig)
  const planFile = path.join(tempDir('plan'), 'plan.json')
  ok(await cli(['plan', '--root', root, '--manifest', manifestUrl('moving'), '--out', planFile]), 'plan --out')
  assert.is(JSON.parse(fs.readFileSync(planFile, 'utf8')).manifest.path, manifestUrl('moving'))
  // Republished: the same release, other bytes, validly signed.
  const changed = Buffer.concat([r2Bytes, Buffer.from('\n')])
  nginx.put('/moving/manifest.json', changed)
  nginx.put('/moving/manifest.json.sig', await signed(changed))
  const before = treeOf(root)
  const stale = exits(await cli(['apply', planFile, '--root', root, '--json']), 1, 'apply after the manifest at the URL changed')
  assert.match(oneLineNaming(stale, manifestUrl('moving')), /^nullspace-host: plan is stale: the manifest https:\/\/\S+ changed since the plan was made \(sha256:[0-9a-f]{64} -> sha256:[0-9a-f]{64}\); run plan again$/)
  assert.is(json<{ error: { code: string } }>(stale).error.code, 'stale_plan')
  assert.equal(treeOf(root), before)
  nginx.put('/moving/manifest.json', r2Bytes)
  nginx.put('/moving/manifest.json.sig', r2Sig)
  ok(await cli(['apply', planFile, '--root', root]), 'apply once the URL serves the planned bytes again')
  assert.is(currentOf(root), 'r2')
})

test('every command that takes --manifest takes a URL: artifacts fetch, apply --manifest, manifest validate (--root: the host policy), launch-gate', async () => {
  const root = trustingRoot()
  ok(await cli(['artifacts', 'fetch', '--root', root, '--manifest', manifestUrl('r1')]), 'artifacts fetch')
  assert.ok(fs.existsSync(path.join(root, RELEASES, 'r1/manifest.json')))
  assert.is(currentOf(root), null)
  ok(await cli(['apply', '--root', root, '--manifest', manifestUrl('r1')]), 'apply --manifest URL')
  assert.is(currentOf(root), 'r1')
  const v = json<{ ok: boolean; manifest: string; digest: string }>(ok(await cli(['manifest', 'validate', '--manifest', manifestUrl('r2'), '--root', root, '--json']), 'validate'))
  assert.equal([v.ok, v.manifest, v.digest], [true, manifestUrl('r2'), `sha256:${sha256(r2Bytes)}`])
  nginx.put('/unsigned-v/manifest.json', r2Bytes)
  ok(await cli(['manifest', 'validate', '--manifest', manifestUrl('unsigned-v')]), 'validate without --root: no signature policy')
  exits(await cli(['manifest', 'validate', '--manifest', manifestUrl('unsigned-v'), '--root', root]), 65, 'validate against a host that trusts keys')
  const evidence = tempDir('evidence')
  const g = await cli(['launch-gate', '--root', root, '--mode', 'localhost', '--manifest', manifestUrl('r1'), '--console-url', plain.url('/console/'),
    '--ingress-url', plain.url('/'), '--smoke-timeout', '1', '--evidence-dir', evidence, '--confirm', 'run nullspace launch gate', '--json'])
  assert.ok(g.code === 0 || g.code === 1, `launch-gate judged the host (exit ${g.code}): ${g.stderr}`)
  const gate = json<{ manifest: { release_id: string; digest: string; signed_by: string | null }; checks: { name: string; status: string; detail: string }[] }>(g)
  assert.equal([gate.manifest.release_id, gate.manifest.digest, gate.manifest.signed_by], ['r1', `sha256:${sha256(fs.readFileSync(r1.manifest))}`, key.id])
  const trusted = gate.checks.find((c) => c.name === 'manifest.trusted')
  assert.is(trusted?.status, 'pass', trusted?.detail)
})

test('a file: URL is the path it names (its .sig beside it); file:// artifacts of a fetched manifest are not looked for "beside" it', async () => {
  const root = trustingRoot()
  ok(await cli(['manifest', 'validate', '--manifest', pathToFileURL(r1.manifest).href, '--root', root]), 'validate a signed manifest by file: URL')
  // Built without --base-url: file:// artifact URLs into a directory this host lacks.
  const offline = await makeRelease({ id: 'offline', version: '0.1.0' })
  const gone = path.join(offline.dir, 'vmlinux')
  fs.rmSync(gone)
  nginx.put('/offline/manifest.json', fs.readFileSync(offline.manifest))
  nginx.put('/offline/vmlinux', offline.files['vmlinux']!)
  const r = exits(await cli(['install', '--root', tempDir('root'), '--manifest', manifestUrl('offline')]), 1, 'install of a fetched manifest whose file:// artifact is missing')
  assert.match(r.stderr, new RegExp(`artifact file not found at ${gone.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`))
  assert.not.match(r.stderr, /beside the manifest/)
})

test('a <url>.sig the server refuses (403) is untrusted (65), naming it; one whose connection keeps breaking is exit 1 after the retries', async () => {
  const root = await r1Root()
  const before = treeOf(root)
  const url = plain.url('/sig403/manifest.json')
  plain.setFile('/sig403/manifest.json', r2Bytes)
  plain.setFault('/sig403/manifest.json.sig', 'status', { status: 403 })
  const r = exits(await cli(['plan', '--root', root, '--manifest', url, '--allow-http']), 65, 'signature answered 403')
  assert.ok(oneLineNaming(r, url).includes(`untrusted manifest: ${url}.sig could not be fetched (GET ${url}.sig: HTTP 403 Forbidden)`), r.stderr)
  const broken = plain.url('/sigreset/manifest.json')
  plain.setFile('/sigreset/manifest.json', r2Bytes)
  plain.setFile('/sigreset/manifest.json.sig', r2Sig)
  plain.setFault('/sigreset/manifest.json.sig', 'reset')
  const b = exits(await cli(['upgrade', '--root', root, '--manifest', broken, '--allow-http', '--skip-ingress-smoke']), 1, 'signature connection reset')
  assert.match(oneLineNaming(b, `${broken}.sig`), /gave up after 3 attempts\); the manifest's signature could not be fetched, nothing was changed/)
  assert.is(plain.requests.filter((q) => q.path === '/sigreset/manifest.json.sig').length, 3)
  assert.equal(treeOf(root), before)
})

test.run()
