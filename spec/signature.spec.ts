// Signed manifests through the real CLI: `manifest keygen` and `manifest sign` checked with
// node:crypto on their own, and the trusted-keys policy of a host (etc/nullspace/trusted-keys)
// on every command that acts on its releases: a missing, malformed or wrong signature, or a
// manifest changed after signing, is exit 65 with the reason, and nothing under the root changes.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fs from 'node:fs'
import path from 'node:path'
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto'
import { CLI, json, runCli, runProcess, type CliResult, exits } from './helpers/cli.js'
import { tempDir } from './helpers/tmp.js'
import { buildRelease, type BuiltRelease } from './helpers/artifacts.js'
import { KIND_LAYOUT } from '../lib/manifest/kinds.js'
import { RELEASES, sha256, treeOf } from './helpers/hosts.js'

const TRUSTED = 'etc/nullspace/trusted-keys'
const cli = (args: string[]) => runCli(args, { timeoutMs: 60_000 })

/** One `nullspace-host: ...` error, naming `reason`, without a stack trace. */
function refused(r: CliResult, reason: RegExp, what: string): void {
  exits(r, 65, what)
  assert.match(r.stderr, /^nullspace-host: /, what)
  assert.match(r.stderr, reason, `${what}: the reason\n${r.stderr}`)
  assert.match(r.stderr, /untrusted manifest/, what)
  assert.not.match(r.stderr, /^\s+at /m, `${what}: no stack trace`)
}

/** The same artifact bytes for every release, so a second release differs only where a test says. */
/** Every file tagged but the migration bundle, which releases share (the migration guard is backup-guard.spec's business). */
const contents = (tag: string) => Object.fromEntries(KIND_LAYOUT.map((k) => [k.file, k.kind === 'migration_bundle' ? `${k.file}\n` : `${k.file} ${tag}\n`]))

async function keygen(): Promise<{ id: string; key: string; pub: string }> {
  const dir = tempDir('keys')
  const r = exits(await cli(['manifest', 'keygen', '--out', dir, '--json']), 0, 'keygen')
  const j = json<{ key_id: string; private_key: string; public_key: string }>(r)
  return { id: j.key_id, key: j.private_key, pub: j.public_key }
}

const signManifest = async (manifest: string, key: string) => exits(await cli(['manifest', 'sign', '--manifest', manifest, '--key', key]), 0, 'manifest sign')

/** A root that trusts `pub` (and nothing else yet). */
function trustingRoot(pub: string): string {
  const root = tempDir('root')
  fs.mkdirSync(path.join(root, TRUSTED), { recursive: true, mode: 0o755 })
  fs.copyFileSync(pub, path.join(root, TRUSTED, path.basename(pub)))
  return root
}

/** A root that trusts `trusted.pub` and runs a signed release 2026.06.10. */
async function signedHost(trusted: { key: string; pub: string }): Promise<{ root: string; first: BuiltRelease }> {
  const first = await buildRelease({ releaseId: '2026.06.10', contents: contents('a') })
  await signManifest(first.manifest, trusted.key)
  const root = trustingRoot(trusted.pub)
  exits(await cli(['install', '--root', root, '--manifest', first.manifest]), 0, 'install of the signed first release')
  return { root, first }
}

test('keygen writes <id>.key (0600, PKCS#8) and <id>.pub (SPKI); the id is the first 16 hex of sha256 of the SPKI DER', async () => {
  const dir = path.join(tempDir('keys'), 'release-keys')
  const r = exits(await cli(['manifest', 'keygen', '--out', dir]), 0, 'keygen')
  const names = fs.readdirSync(dir).sort()
  assert.is(names.length, 2, names.join(', '))
  const id = names[0]!.replace(/\.(key|pub)$/, '')
  assert.match(id, /^[0-9a-f]{16}$/)
  assert.equal(names, [`${id}.key`, `${id}.pub`])
  assert.match(r.stdout, new RegExp(id))

  const keyFile = path.join(dir, `${id}.key`)
  const pubFile = path.join(dir, `${id}.pub`)
  assert.is((fs.statSync(keyFile).mode & 0o777).toString(8), '600', 'the private key is 0600')
  assert.match(fs.readFileSync(keyFile, 'utf8'), /^-----BEGIN PRIVATE KEY-----\n/)
  assert.match(fs.readFileSync(pubFile, 'utf8'), /^-----BEGIN PUBLIC KEY-----\n/)

  // Independently: the id from the public key's SPKI DER, and the two halves belong together.
  const pub = createPublicKey(fs.readFileSync(pubFile))
  const priv = createPrivateKey(fs.readFileSync(keyFile))
  assert.is(pub.asymmetricKeyType, 'ed25519')
  assert.is(sha256(pub.export({ type: 'spki', format: 'der' })).slice(0, 16), id)
  const msg = Buffer.from('pair check')
  assert.ok(verify(null, msg, pub, sign(null, msg, priv)), 'the .key signs what the .pub verifies')
})

test('sign writes M.sig {key_id, algorithm: ed25519, signature} over the manifest bytes', async () => {
  const rel = await buildRelease({ releaseId: '2026.06.10' })
  const k = await keygen()
  const r = await signManifest(rel.manifest, k.key)
  assert.match(r.stdout, /manifest\.json\.sig/)
  const sig = JSON.parse(fs.readFileSync(`${rel.manifest}.sig`, 'utf8'))
  assert.equal(Object.keys(sig).sort(), ['algorithm', 'key_id', 'signature'])
  assert.is(sig.key_id, k.id)
  assert.is(sig.algorithm, 'ed25519')
  const signature = Buffer.from(sig.signature, 'base64')
  assert.is(signature.length, 64)
  const pub = createPublicKey(fs.readFileSync(k.pub))
  assert.ok(verify(null, fs.readFileSync(rel.manifest), pub, signature), 'node:crypto verifies the signature over the manifest bytes')
  assert.not.ok(verify(null, Buffer.concat([fs.readFileSync(rel.manifest), Buffer.from(' ')]), pub, signature), 'and not over other bytes')
})

test('with a trusted key, install of a signed manifest succeeds and the release keeps manifest.json.sig', async () => {
  const k = await keygen()
  const { root, first } = await signedHost(k)
  const dir = path.join(root, RELEASES, first.releaseId)
  assert.is(fs.readlinkSync(path.join(root, RELEASES, 'current')), first.releaseId)
  assert.equal(fs.readFileSync(path.join(dir, 'manifest.json.sig')), fs.readFileSync(`${first.manifest}.sig`), 'the detached signature is sealed with the release')
  const doctor = json(exits(await cli(['doctor', '--root', root, '--json']), 0, 'doctor'))
  assert.is(doctor.active.signed, true, 'doctor reports the active release as signed')
})

test('a missing .sig is exit 65 naming the reason, and nothing under the root changes (fresh host and running host)', async () => {
  const k = await keygen()
  // A fresh host that only trusts the key.
  const rel = await buildRelease({ releaseId: '2026.06.10', contents: contents('a') })
  const fresh = trustingRoot(k.pub)
  const before = treeOf(fresh)
  refused(await cli(['install', '--root', fresh, '--manifest', rel.manifest]), /no signature file .*manifest\.json\.sig/, 'install without .sig on a fresh host')
  // The manifest is refused before the host lock is taken: not even the lock's directory appears.
  assert.equal(treeOf(fresh), before, 'nothing under the fresh root changed')

  // A running host: the next release arrives unsigned.
  const { root } = await signedHost(k)
  const next = await buildRelease({ releaseId: '2026.07.01', version: '0.2.0', contents: contents('b') })
  const running = treeOf(root)
  refused(await cli(['install', '--root', root, '--manifest', next.manifest]), /no signature file/, 'install without .sig')
  refused(await cli(['upgrade', '--root', root, '--manifest', next.manifest]), /no signature file/, 'upgrade without .sig')
  assert.equal(treeOf(root), running, 'nothing under the running root changed')
  assert.is(fs.readlinkSync(path.join(root, RELEASES, 'current')), '2026.06.10')
})

test('a malformed .sig is exit 65', async () => {
  const k = await keygen()
  const { root } = await signedHost(k)
  const next = await buildRelease({ releaseId: '2026.07.01', version: '0.2.0', contents: contents('b') })
  const before = treeOf(root)
  const install = () => cli(['install', '--root', root, '--manifest', next.manifest])
  fs.writeFileSync(`${next.manifest}.sig`, 'not json at all\n')
  refused(await install(), /not valid JSON/, 'a .sig that is not JSON')
  fs.writeFileSync(`${next.manifest}.sig`, JSON.stringify({ key_id: k.id, algorithm: 'rsa', signature: 'AAAA' }))
  refused(await install(), /malformed/, 'a .sig with another algorithm')
  fs.writeFileSync(`${next.manifest}.sig`, JSON.stringify({ key_id: k.id, algorithm: 'ed25519', signature: 'c2hvcnQ=' }))
  refused(await install(), /does not match/, 'a .sig whose signature is not 64 bytes')
  assert.equal(treeOf(root), before, 'nothing under the root changed')
})

test('a manifest signed by a key the host does not trust is exit 65', async () => {
  const trusted = await keygen()
  const stranger = await keygen()
  const { root } = await signedHost(trusted)
  const next = await buildRelease({ releaseId: '2026.07.01', version: '0.2.0', contents: contents('b') })
  await signManifest(next.manifest, stranger.key)
  const before = treeOf(root)
  refused(await cli(['upgrade', '--root', root, '--manifest', next.manifest]), new RegExp(`key ${stranger.id}, which is not among the trusted keys \\(${trusted.id}\\)`), 'upgrade signed by a stranger')

  // A forged .sig that names the trusted key id but was made with another key.
  const { privateKey } = generateKeyPairSync('ed25519')
  const forged = { key_id: trusted.id, algorithm: 'ed25519', signature: sign(null, fs.readFileSync(next.manifest), privateKey).toString('base64') }
  fs.writeFileSync(`${next.manifest}.sig`, JSON.stringify(forged))
  refused(await cli(['upgrade', '--root', root, '--manifest', next.manifest]), /does not match the bytes/, 'upgrade with a forged signature')
  assert.equal(treeOf(root), before, 'nothing under the root changed')
})

test('a manifest changed after signing (one space appended) is exit 65', async () => {
  const k = await keygen()
  const { root } = await signedHost(k)
  const next = await buildRelease({ releaseId: '2026.07.01', version: '0.2.0', contents: contents('b') })
  await signManifest(next.manifest, k.key)
  // Signed and accepted as it is...
  exits(await cli(['manifest', 'validate', '--root', root, '--manifest', next.manifest]), 0, 'validate of the signed manifest')
  // ...then one space appended: still valid JSON and still a valid manifest, but not what was signed.
  fs.appendFileSync(next.manifest, ' ')
  exits(await cli(['manifest', 'validate', '--manifest', next.manifest]), 0, 'the changed manifest is still a valid manifest')
  const before = treeOf(root)
  refused(await cli(['upgrade', '--root', root, '--manifest', next.manifest]), /does not match the bytes \(changed after signing/, 'upgrade of a changed manifest')
  refused(await cli(['install', '--root', root, '--manifest', next.manifest]), /changed after signing/, 'install of a changed manifest')
  assert.equal(treeOf(root), before, 'nothing under the root changed')
})

test('manifest validate applies the signature policy with --root, and not without it', async () => {
  const k = await keygen()
  const rel = await buildRelease({ releaseId: '2026.06.10' })
  const root = trustingRoot(k.pub)
  exits(await cli(['manifest', 'validate', '--manifest', rel.manifest]), 0, 'validate without --root ignores signatures')
  refused(await cli(['manifest', 'validate', '--root', root, '--manifest', rel.manifest]), /no signature file/, 'validate --root of an unsigned manifest')
  refused(await runCli(['manifest', 'validate', '--manifest', rel.manifest], { env: { NULLSPACE_ROOT: root }, timeoutMs: 60_000 }), /no signature file/, 'validate with NULLSPACE_ROOT')
  await signManifest(rel.manifest, k.key)
  exits(await cli(['manifest', 'validate', '--root', root, '--manifest', rel.manifest]), 0, 'validate --root of the signed manifest')
  // A root without trusted keys requires nothing.
  fs.rmSync(`${rel.manifest}.sig`)
  exits(await cli(['manifest', 'validate', '--root', tempDir('root'), '--manifest', rel.manifest]), 0, 'validate --root on a host without trusted keys')
})

test('plan, artifacts fetch and upgrade refuse an unsigned manifest too; sign does not need a trusted key', async () => {
  const k = await keygen()
  const { root } = await signedHost(k)
  const next = await buildRelease({ releaseId: '2026.07.01', version: '0.2.0', contents: contents('b') })
  const before = treeOf(root)
  refused(await cli(['plan', '--root', root, '--manifest', next.manifest]), /no signature file/, 'plan')
  refused(await cli(['plan', '--root', root, '--manifest', next.manifest, '--json']), /no signature file/, 'plan --json')
  refused(await cli(['artifacts', 'fetch', '--root', root, '--manifest', next.manifest]), /no signature file/, 'artifacts fetch')
  refused(await cli(['upgrade', '--root', root, '--manifest', next.manifest, '--dry-run']), /no signature file/, 'upgrade --dry-run')
  refused(await cli(['upgrade', '--root', root, '--manifest', next.manifest]), /no signature file/, 'upgrade')
  assert.equal(treeOf(root), before, 'nothing under the root changed')
  assert.not.ok(fs.existsSync(path.join(root, RELEASES, next.releaseId)), 'the unsigned release was not fetched')

  // Signed, the same commands go through.
  await signManifest(next.manifest, k.key)
  exits(await cli(['plan', '--root', root, '--manifest', next.manifest]), 0, 'plan of the signed manifest')
  exits(await cli(['artifacts', 'fetch', '--root', root, '--manifest', next.manifest]), 0, 'artifacts fetch of the signed manifest')
  assert.ok(fs.existsSync(path.join(root, RELEASES, next.releaseId, 'manifest.json.sig')), 'the fetched release keeps its signature')
  exits(await cli(['upgrade', '--root', root, '--manifest', next.manifest, '--skip-ingress-smoke']), 0, 'upgrade of the signed manifest')
  assert.is(fs.readlinkSync(path.join(root, RELEASES, 'current')), next.releaseId)
})

// ---- trust material: who may write the keys ----------------------------------------------

test('unsafe trust material refuses every manifest (65), even one its key signed, and doctor names it with the fix', async () => {
  assert.is(process.getuid?.(), 0, 'this case needs root to chown a key to another user (CI runs as root)')
  const k = await keygen()
  const { root } = await signedHost(k)
  const next = await buildRelease({ releaseId: '2026.07.01', version: '0.2.0', contents: contents('b') })
  await signManifest(next.manifest, k.key)
  const keysDir = path.join(root, TRUSTED)
  const keyFile = path.join(keysDir, path.basename(k.pub))
  const etcNullspace = path.join(root, 'etc/nullspace')
  const validate = () => cli(['manifest', 'validate', '--root', root, '--manifest', next.manifest])
  exits(await validate(), 0, 'a signed manifest, safe trust material')
  const attacks: { what: string; make: () => void; undo: () => void; reason: RegExp }[] = [
    { what: 'a world-writable keys dir', make: () => fs.chmodSync(keysDir, 0o777), undo: () => fs.chmodSync(keysDir, 0o755), reason: /trusted-keys is writable by group and others \(mode 0777\).*: chmod go-w .*trusted-keys/ },
    { what: 'a group-writable key file', make: () => fs.chmodSync(keyFile, 0o664), undo: () => fs.chmodSync(keyFile, 0o644), reason: /\.pub is writable by group \(mode 0664\).*: chmod go-w .*\.pub/ },
    { what: 'a key file owned by uid 65534', make: () => fs.chownSync(keyFile, 65534, 65534), undo: () => fs.chownSync(keyFile, 0, 0), reason: /\.pub is owned by uid 65534, not root.*: chown root .*\.pub/ },
    { what: 'a group-writable etc/nullspace', make: () => fs.chmodSync(etcNullspace, 0o775), undo: () => fs.chmodSync(etcNullspace, 0o755), reason: /etc\/nullspace is writable by group \(mode 0775\)/ },
  ]
  for (const a of attacks) {
    a.make()
    const before = treeOf(root)
    const r = await validate()
    refused(r, a.reason, `validate with ${a.what}`)
    assert.match(r.stderr, /every manifest is refused until it is fixed/, a.what)
    refused(await cli(['upgrade', '--root', root, '--manifest', next.manifest]), a.reason, `upgrade with ${a.what}`)
    assert.equal(treeOf(root), before, `${a.what}: nothing under the root changed`)
    const doctor = json(exits(await cli(['doctor', '--root', root, '--json']), 1, `doctor with ${a.what}`))
    assert.ok(doctor.problems.some((p: string) => a.reason.test(p)), `${a.what}: doctor names it\n${doctor.problems.join('\n')}`)
    a.undo()
  }
  exits(await validate(), 0, 'safe again: the signed manifest is trusted again')
  exits(await cli(['doctor', '--root', root]), 0, 'and doctor is content')
})

test('a keys dir that yields no key is refused, never read as "no signature needed"; an empty real dir requires none', async () => {
  const k = await keygen()
  const rel = await buildRelease({ releaseId: '2026.06.10' })
  const validate = (root: string) => cli(['manifest', 'validate', '--root', root, '--manifest', rel.manifest])
  const withKeysDir = (make: (dir: string) => void) => {
    const root = tempDir('root')
    fs.mkdirSync(path.join(root, 'etc/nullspace'), { recursive: true, mode: 0o755 })
    make(path.join(root, TRUSTED))
    return root
  }
  // The unsigned manifest, against keys dirs that used to yield no key.
  refused(await validate(withKeysDir((d) => fs.symlinkSync(path.join(tempDir('gone'), 'keys'), d))), /trusted-keys is a symlink \(-> .*gone-.*\/keys\)/, 'a dangling symlink keys dir')
  refused(await validate(withKeysDir((d) => {
    fs.mkdirSync(d, { mode: 0o755 })
    fs.copyFileSync(k.pub, path.join(d, 'release.PUB'))
  })), /release\.PUB is not a key file: .* named \*\.pub/, 'a keys dir holding only release.PUB')
  refused(await validate(withKeysDir((d) => fs.writeFileSync(d, 'a file, not a dir\n'))), /trusted-keys is not a directory/, 'a keys "dir" that is a file')
  // A link to a good dir is refused too: the rule judges the path an attacker would have to write.
  const outside = tempDir('keys-elsewhere')
  fs.copyFileSync(k.pub, path.join(outside, path.basename(k.pub)))
  await signManifest(rel.manifest, k.key)
  refused(await validate(withKeysDir((d) => fs.symlinkSync(outside, d))), /trusted-keys is a symlink/, 'a keys dir that links to a good dir')
  refused(await validate(withKeysDir((d) => {
    fs.mkdirSync(d, { mode: 0o755 })
    fs.symlinkSync(path.join(outside, path.basename(k.pub)), path.join(d, path.basename(k.pub)))
  })), /\.pub is a symlink/, 'a key file that is a symlink')
  fs.rmSync(`${rel.manifest}.sig`)
  // An existing, empty, safe dir trusts nothing: as with no dir, no signature is required
  // (README, "Signed manifests": required when any key exists). Emptying it takes write access, which the rule refuses.
  exits(await validate(withKeysDir((d) => fs.mkdirSync(d, { mode: 0o755 }))), 0, 'an empty keys dir')
})

test('trust material owned by the user running the tool is trusted; owned by another user, refused (as uid 65534)', async () => {
  assert.is(process.getuid?.(), 0, 'this case needs root to hand the keys to uid 65534 (CI runs as root)')
  const k = await keygen()
  const rel = await buildRelease({ releaseId: '2026.06.10' })
  await signManifest(rel.manifest, k.key)
  const root = trustingRoot(k.pub)
  const keyFile = path.join(root, TRUSTED, path.basename(k.pub))
  for (const p of ['etc', 'etc/nullspace', TRUSTED, path.join(TRUSTED, path.basename(k.pub))]) fs.chownSync(path.join(root, p), 65534, 65534)
  const asNobody = () => runProcess('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, CLI, 'manifest', 'validate', '--root', root, '--manifest', rel.manifest], { timeoutMs: 60_000 })
  exits(await asNobody(), 0, 'keys owned by the invoking uid 65534')
  fs.chownSync(keyFile, 0, 0)
  exits(await asNobody(), 0, 'a key owned by root')
  fs.chownSync(keyFile, 1234, 1234)
  refused(await asNobody(), /\.pub is owned by uid 1234, not root or uid 65534/, 'a key owned by uid 1234')
  // A keys dir this user cannot read: what it holds cannot be known, so nothing is trusted.
  fs.chownSync(keyFile, 0, 0)
  fs.chownSync(path.join(root, TRUSTED), 0, 0)
  fs.chmodSync(path.join(root, TRUSTED), 0o700)
  refused(await asNobody(), /trusted-keys: cannot read the trusted keys \(EACCES\)/, 'a keys dir uid 65534 cannot read')
})

test.run()
