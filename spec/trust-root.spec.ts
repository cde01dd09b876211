// The trust root (ARCHITECTURE.md section 8.5) through the real CLI: `trust init FILE`, `trust update
// FILE`, `trust show`, threshold signatures by distinct keys on manifests, `.sig` files holding
// an array, `manifest sign` appending, and TUF's rotation failure modes: rollback, a skipped
// version, a new root signed only by its new keys or only by the old ones, a revoked key, the same
// key counted twice, and a refused root that must leave nothing behind (go-tuf GHSA-66x3-6cw3-v5gj,
// tough CVE-2025-2888). Keys are real ed25519 keys (node:crypto, in the files manifest keygen
// writes); every bad input is exit 65 with one line, and the host's files are unchanged after it.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fs from 'node:fs'
import path from 'node:path'
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto'
import { json, runCli, exits, show, type CliResult } from './helpers/cli.js'
import { tempDir } from './helpers/tmp.js'
import { buildRelease, type BuiltRelease } from './helpers/artifacts.js'
import { treeOf } from './helpers/hosts.js'

const TRUST = 'etc/nullspace/trust'
const TRUSTED = 'etc/nullspace/trusted-keys'
const RELEASES = 'opt/nullspace/releases'
const cli = (args: string[]) => runCli(args, { timeoutMs: 60_000 })
const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex')
const FUTURE = '2099-01-01T00:00:00Z'

interface Key {
  readonly id: string
  /** The private key file (PKCS#8 PEM, 0600) and the public one (SPKI PEM), as manifest keygen writes them. */
  readonly key: string
  readonly pub: string
  readonly pem: string
  readonly privateKey: KeyObject
}

const keyDir = tempDir('trust-keys')
function newKey(): Key {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519')
  const id = sha256(publicKey.export({ type: 'spki', format: 'der' })).slice(0, 16)
  const pem = publicKey.export({ type: 'spki', format: 'pem' }) as string
  const key = path.join(keyDir, `${id}.key`)
  const pub = path.join(keyDir, `${id}.pub`)
  fs.writeFileSync(key, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, { mode: 0o600 })
  fs.writeFileSync(pub, pem)
  return { id, key, pub, pem, privateKey }
}
const [A, B, C, D, E2, F] = [newKey(), newKey(), newKey(), newKey(), newKey(), newKey()] as [Key, Key, Key, Key, Key, Key]

interface RootSpec {
  version?: unknown
  threshold?: unknown
  expires_at?: unknown
  keys?: readonly Key[]
  extra?: Record<string, unknown>
}
const rootDoc = (s: RootSpec) => ({
  format: 'nullspace-root-v1',
  version: s.version ?? 1,
  expires_at: s.expires_at ?? FUTURE,
  threshold: s.threshold ?? 2,
  keys: Object.fromEntries((s.keys ?? [A, B, C]).map((k) => [k.id, k.pem])),
  ...s.extra,
})
const sigOf = (bytes: Buffer, k: Key) => ({ key_id: k.id, algorithm: 'ed25519', signature: sign(null, bytes, k.privateKey).toString('base64') })

/** Writes `text` as a root.json in a fresh dir with FILE.sig holding signatures by `signers` (an array, or one object for one signer). */
function rootFile(text: string, signers: readonly Key[]): string {
  const file = path.join(tempDir('root-file'), 'root.json')
  fs.writeFileSync(file, text)
  const sigs = signers.map((k) => sigOf(Buffer.from(text), k))
  fs.writeFileSync(`${file}.sig`, JSON.stringify(sigs.length === 1 ? sigs[0] : sigs, null, 2))
  return file
}
const signedRoot = (s: RootSpec, signers: readonly Key[]) => rootFile(`${JSON.stringify(rootDoc(s), null, 2)}\n`, signers)

/** Exit 65, one line on stderr naming `reason`, no stack trace. */
function refused65(r: CliResult, reason: RegExp, what: string): void {
  exits(r, 65, what)
  const lines = r.stderr.trimEnd().split('\n')
  assert.is(lines.length, 1, `${what}: one line\n${r.stderr}`)
  assert.match(lines[0]!, /^nullspace-host: /, what)
  assert.match(lines[0]!, reason, `${what}: the reason\n${r.stderr}`)
}

/**
 * A host root (nothing installed) with a first root of `keys` (default A, B, C; threshold 2) in
 * place, as trust init leaves it (the files, 0644; trust init itself is judged in its own tests).
 */
function hostWithRoot(s: RootSpec = {}, signers: readonly Key[] = [A, B]): string {
  const host = tempDir('host')
  const file = signedRoot(s, signers)
  fs.mkdirSync(path.join(host, TRUST), { recursive: true, mode: 0o755 })
  for (const name of ['root.json', 'root.json.sig']) fs.copyFileSync(path.join(path.dirname(file), name), path.join(host, TRUST, name))
  return host
}

let release: BuiltRelease
/** A fresh copy of one built manifest, signed by `signers` (one object for one, else an array), in a dir of its own. */
async function manifestSignedBy(signers: readonly Key[], o: { duplicate?: boolean } = {}): Promise<string> {
  release ??= await buildRelease({ releaseId: '2026.06.10' })
  const file = path.join(tempDir('manifest'), 'manifest.json')
  fs.copyFileSync(release.manifest, file)
  const bytes = fs.readFileSync(file)
  const sigs = signers.map((k) => sigOf(bytes, k))
  if (o.duplicate) sigs.push(sigOf(bytes, signers[0]!))
  if (sigs.length > 0) fs.writeFileSync(`${file}.sig`, JSON.stringify(sigs.length === 1 ? sigs[0] : sigs))
  return file
}
const validate = (host: string, manifest: string) => cli(['manifest', 'validate', '--root', host, '--manifest', manifest])

// --- bad roots: exit 65, one line, nothing changed ------------------------------------------

/** Each bad root as version `v` (1 for trust init, 2 for trust update), with the reason its refusal names. */
const badRoots: Array<[string, (v: number) => string, RegExp]> = [
  ['threshold 0', (v) => signedRoot({ version: v, threshold: 0 }, [A, B]), /threshold: must be an integer of at least 1, got 0/],
  ['threshold above the key count', (v) => signedRoot({ version: v, threshold: 4 }, [A, B, C]), /threshold: 4 is more than the 3 keys listed/],
  ['a key id named twice', (v) => {
    const text = `{"format":"nullspace-root-v1","version":${v},"expires_at":"${FUTURE}","threshold":1,"keys":{${JSON.stringify(A.id)}:${JSON.stringify(A.pem)},${JSON.stringify(A.id)}:${JSON.stringify(B.pem)}}}\n`
    return rootFile(text, [A])
  }, new RegExp(`keys\\.${A.id}: named twice`)],
  ['a key that is not ed25519 (RSA)', (v) => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey
    const id = sha256(rsa.export({ type: 'spki', format: 'der' })).slice(0, 16)
    return rootFile(JSON.stringify({ ...rootDoc({ version: v, threshold: 1 }), keys: { [A.id]: A.pem, [id]: rsa.export({ type: 'spki', format: 'pem' }) } }), [A])
  }, /a rsa key, not ed25519/],
  ['a key listed under an id that is not its own', (v) => rootFile(JSON.stringify({ ...rootDoc({ version: v, threshold: 1 }), keys: { [A.id]: A.pem, [C.id]: B.pem } }), [A]), new RegExp(`keys\\.${C.id}: this key's id is ${B.id}`)],
  ['an unknown field', (v) => signedRoot({ version: v, extra: { consistent_snapshot: true } }, [A, B]), /consistent_snapshot: unknown field \(not part of nullspace-root-v1\)/],
  ['a version that is not an integer (1.5)', (v) => signedRoot({ version: v + 0.5 }, [A, B]), /version: must be an integer of at least 1, got \d\.5/],
  ['a version given as a string', (v) => signedRoot({ version: String(v) }, [A, B]), /version: must be an integer of at least 1, got "\d"/],
  ['expires_at not RFC 3339', (v) => signedRoot({ version: v, expires_at: '2099-01-01 00:00' }, [A, B]), /expires_at: must be an RFC 3339 timestamp/],
  ['another format', (v) => rootFile(JSON.stringify({ ...rootDoc({ version: v }), format: 'tuf-root' }), [A, B]), /format: must be one of "nullspace-root-v1"/],
  ['signatures over other bytes (whitespace changed after signing)', (v) => {
    const file = signedRoot({ version: v }, [A, B])
    fs.writeFileSync(file, JSON.stringify(JSON.parse(fs.readFileSync(file, 'utf8'))))
    return file
  }, /signed by 0 distinct keys among (its own keys|the installed root \(version 1\)), which requires 2.*does not match the bytes/],
  ['a .sig array of 10,000 entries', (v) => {
    const file = signedRoot({ version: v }, [A, B])
    fs.writeFileSync(`${file}.sig`, JSON.stringify(Array.from({ length: 10_000 }, () => 0)))
    return file
  }, /holds 10000 signatures, more than the 64 a signature file may hold/],
  ['a .sig of 16 MiB', (v) => {
    const file = signedRoot({ version: v }, [A, B])
    fs.writeFileSync(`${file}.sig`, Buffer.alloc(16 * 1024 * 1024, 0x20))
    return file
  }, /root\.json\.sig is 16777216 bytes, over the 65536-byte limit/],
]

/** Runs `jobs` four at a time (each a real CLI process), keeping their order. */
async function inParallel<T>(jobs: Array<() => Promise<T>>): Promise<T[]> {
  const out: T[] = new Array(jobs.length)
  let next = 0
  const worker = async () => {
    while (next < jobs.length) {
      const i = next++
      out[i] = await jobs[i]!()
    }
  }
  await Promise.all([worker(), worker(), worker(), worker()])
  return out
}

test('trust init refuses each bad root: exit 65, one line naming the reason, quickly, nothing created under the root', async () => {
  const host = tempDir('host')
  const results = await inParallel(badRoots.map(([, make]) => async () => {
    const file = make(1)
    const started = Date.now()
    const r = await cli(['trust', 'init', file, '--root', host])
    return { r, ms: Date.now() - started }
  }))
  badRoots.forEach(([what, , reason], i) => {
    refused65(results[i]!.r, reason, what)
    assert.ok(results[i]!.ms < 10_000, `${what}: refused within 10 s (took ${results[i]!.ms} ms)`)
  })
  assert.equal(treeOf(host), {}, 'nothing under the root was created, not even the lock\'s directory')
})

test('trust update refuses the same bad roots (as version 2), and the installed root stays as it was', async () => {
  const host = hostWithRoot()
  const before = treeOf(host)
  const results = await inParallel(badRoots.map(([, make]) => () => cli(['trust', 'update', make(2), '--root', host])))
  badRoots.forEach(([what, , reason], i) => refused65(results[i]!, reason, `update: ${what}`))
  assert.equal(treeOf(host), before, 'nothing changed')
})

test('a manifest .sig array of 10,000 entries or of 16 MiB is refused (65) quickly, one line, with a root and without', async () => {
  const withRoot = hostWithRoot()
  const withKeys = tempDir('host')
  fs.mkdirSync(path.join(withKeys, TRUSTED), { recursive: true })
  fs.copyFileSync(A.pub, path.join(withKeys, TRUSTED, `${A.id}.pub`))
  for (const host of [withRoot, withKeys]) {
    const m = await manifestSignedBy([A, B])
    // 10,000 entries small enough to pass the byte limit: refused by their number, before any is decoded.
    fs.writeFileSync(`${m}.sig`, JSON.stringify(Array.from({ length: 10_000 }, () => 0)))
    let started = Date.now()
    refused65(await validate(host, m), /holds 10000 signatures, more than the 64 a signature file may hold/, 'a .sig array of 10,000 small entries')
    fs.writeFileSync(`${m}.sig`, JSON.stringify(Array.from({ length: 10_000 }, () => sigOf(Buffer.from('x'), A))))
    refused65(await validate(host, m), /manifest\.json\.sig is \d+ bytes, over the 65536-byte limit/, 'a .sig array of 10,000 signatures')
    fs.writeFileSync(`${m}.sig`, Buffer.alloc(16 * 1024 * 1024, 0x5b))
    started = Date.now()
    refused65(await validate(host, m), /is 16777216 bytes, over the 65536-byte limit/, 'a .sig of 16 MiB')
    assert.ok(Date.now() - started < 5_000, `refused within 5 s (took ${Date.now() - started} ms)`)
  }
})

// --- without a root: as before ---------------------------------------------------------------

test('without a root, trusted-keys/*.pub decide as before: one trusted signature suffices, an array with one is enough, none is refused', async () => {
  const host = tempDir('host')
  fs.mkdirSync(path.join(host, TRUSTED), { recursive: true })
  fs.copyFileSync(A.pub, path.join(host, TRUSTED, `${A.id}.pub`))
  exits(await validate(host, await manifestSignedBy([A])), 0, 'one signature object by the trusted key')
  exits(await validate(host, await manifestSignedBy([D, A])), 0, 'an array in which the trusted key signed')
  const stranger = await validate(host, await manifestSignedBy([D]))
  refused65(stranger, new RegExp(`signed by key ${D.id}, which is not among the trusted keys \\(${A.id}\\); this host requires a signature by one of .*trusted-keys/\\*\\.pub`), 'a single signature by a stranger: the message of before')
  refused65(await validate(host, await manifestSignedBy([D, E2])), new RegExp(`none of the 2 signatures .* is a valid one by a trusted key \\(${A.id}\\)`), 'an array without a trusted signature')
  refused65(await validate(host, await manifestSignedBy([])), /no signature file .*manifest\.json\.sig/, 'no signature at all')
  // No root and no trusted key: no signature needed, as before.
  exits(await validate(tempDir('host'), await manifestSignedBy([])), 0, 'a host that trusts no key needs no signature')
  const shown = json(exits(await cli(['trust', 'show', '--json', '--root', host]), 0, 'trust show'))
  assert.is(shown.root, null)
  assert.equal(shown.trusted_keys.key_ids, [A.id])
  assert.is(shown.trusted_keys.used, true)
})

// --- thresholds on manifests -----------------------------------------------------------------

test('with a root of 3 keys and threshold 2, a manifest needs 2 distinct root keys; a stranger, a bad signature and a repeat count zero', async () => {
  const host = hostWithRoot()
  exits(await validate(host, await manifestSignedBy([A, B])), 0, 'signed by A and B')
  exits(await validate(host, await manifestSignedBy([C, A])), 0, 'signed by C and A')
  refused65(await validate(host, await manifestSignedBy([A])), new RegExp(`untrusted manifest: signed by 1 distinct key of the trust root \\(${A.id}\\), which requires 2`), 'signed by A alone')
  refused65(await validate(host, await manifestSignedBy([A], { duplicate: true })), new RegExp(`signed by 1 distinct key .*which requires 2; counted zero: key ${A.id} signed more than once and counts once`), 'A twice counts once')
  refused65(await validate(host, await manifestSignedBy([A, D])), new RegExp(`signed by 1 distinct key.*counted zero: key ${D.id} is not one of them`), 'A and a key outside the root')
  // An invalid signature counts zero (as in TUF) and does not spoil the valid ones.
  const m = await manifestSignedBy([A, B])
  const sigs = JSON.parse(fs.readFileSync(`${m}.sig`, 'utf8'))
  sigs.unshift({ ...sigOf(Buffer.from('other bytes'), C) })
  fs.writeFileSync(`${m}.sig`, JSON.stringify(sigs))
  exits(await validate(host, m), 0, 'A and B valid beside an invalid signature by C')
  fs.writeFileSync(`${m}.sig`, JSON.stringify([sigs[0], sigs[1]]))
  refused65(await validate(host, m), new RegExp(`signed by 1 distinct key.*the signature by key ${C.id} does not match the bytes`), 'A valid and C invalid')
  // Whitespace changed after signing: no signature matches.
  const changed = await manifestSignedBy([A, B])
  fs.appendFileSync(changed, ' ')
  refused65(await validate(host, changed), /signed by 0 distinct keys of the trust root, which requires 2/, 'a manifest changed after signing')
})

test('with a root, the trusted-keys directory is not consulted: a key there but not in the root counts zero', async () => {
  const host = hostWithRoot()
  fs.mkdirSync(path.join(host, TRUSTED), { recursive: true })
  fs.copyFileSync(D.pub, path.join(host, TRUSTED, `${D.id}.pub`))
  refused65(await validate(host, await manifestSignedBy([D])), /signed by 0 distinct keys of the trust root/, 'signed by a trusted-keys key only')
  const shown = json(exits(await cli(['trust', 'show', '--json', '--root', host]), 0, 'trust show'))
  assert.is(shown.trusted_keys.used, false)
})

test('install with a root: two signatures install and are kept with the release; one is refused and nothing changes', async () => {
  const host = hostWithRoot()
  const one = await manifestSignedBy([B])
  const before = treeOf(host)
  refused65(await cli(['install', '--root', host, '--manifest', one]), /untrusted manifest: signed by 1 distinct key of the trust root/, 'install signed by one key')
  assert.equal(treeOf(host), before, 'nothing under the root changed')
  const two = await manifestSignedBy([B, C])
  exits(await cli(['install', '--root', host, '--manifest', two]), 0, 'install signed by two keys')
  assert.equal(fs.readFileSync(path.join(host, RELEASES, '2026.06.10', 'manifest.json.sig')), fs.readFileSync(`${two}.sig`), 'the signatures are sealed with the release')
})

test('an expired root refuses every manifest (65) and says to install a new one with trust update FILE', async () => {
  const host = hostWithRoot()
  // Time passes: the installed root's expires_at is now behind us (written as an operator's clock would find it).
  const file = path.join(host, TRUST, 'root.json')
  fs.writeFileSync(file, `${JSON.stringify(rootDoc({ expires_at: '2020-01-01T00:00:00Z' }), null, 2)}\n`)
  refused65(await validate(host, await manifestSignedBy([A, B, C])), /trust root .*root\.json \(version 1\) expired at 2020-01-01T00:00:00Z.*install a newer root signed by its keys with: nullspace-host trust update FILE/, 'a manifest signed by all three keys')
  refused65(await cli(['install', '--root', host, '--manifest', await manifestSignedBy([A, B])]), /expired at 2020-01-01T00:00:00Z/, 'install under an expired root')
  refused65(await cli(['install', '--root', host, '--allow-expired', '--manifest', await manifestSignedBy([A, B])]), /expired/, '--allow-expired is about manifests, not the root')
  const shown = json(exits(await cli(['trust', 'show', '--json', '--root', host]), 0, 'trust show'))
  assert.is(shown.root.expired, true)
  const doctor = json(exits(await cli(['doctor', '--json', '--root', host]), 1, 'doctor'))
  assert.ok(doctor.problems.some((p: string) => /trust root .*expired at 2020-01-01T00:00:00Z: every manifest is refused; install a newer root with trust update FILE/.test(p)), doctor.problems.join('\n'))
  // Recovery: trust update from an expired root to version 2, signed by its keys and the new root's.
  exits(await cli(['trust', 'update', signedRoot({ version: 2 }, [A, B]), '--root', host]), 0, 'trust update away from an expired root')
  exits(await validate(host, await manifestSignedBy([A, B])), 0, 'manifests are trusted again')
})

test('an unsafe root.json (group-writable, or a symlink) refuses every manifest, never falls back to the trusted keys', async () => {
  const host = hostWithRoot()
  fs.mkdirSync(path.join(host, TRUSTED), { recursive: true })
  fs.copyFileSync(A.pub, path.join(host, TRUSTED, `${A.id}.pub`))
  const file = path.join(host, TRUST, 'root.json')
  fs.chmodSync(file, 0o664)
  refused65(await validate(host, await manifestSignedBy([A, B])), /the host's trust root cannot be used: .*root\.json is writable by group .*chmod go-w/, 'group-writable root.json')
  const doctor = json(exits(await cli(['doctor', '--json', '--root', host]), 1, 'doctor'))
  assert.ok(doctor.problems.some((p: string) => /trust root unusable, every manifest is refused: .*root\.json is writable by group/.test(p)), doctor.problems.join('\n'))
  fs.chmodSync(file, 0o644)
  fs.renameSync(file, path.join(host, TRUST, 'real.json'))
  fs.symlinkSync('real.json', file)
  refused65(await validate(host, await manifestSignedBy([A, B])), /root\.json is a symlink/, 'root.json a symlink')
})

// --- manifest sign appends -------------------------------------------------------------------

test('manifest sign appends to an existing .sig (object, then array); the same key again replaces its own entry', async () => {
  const m = await manifestSignedBy([])
  exits(await cli(['manifest', 'sign', '--manifest', m, '--key', A.key]), 0, 'sign with A')
  const one = JSON.parse(fs.readFileSync(`${m}.sig`, 'utf8'))
  assert.ok(!Array.isArray(one) && one.key_id === A.id, 'one signature is written as one object, as before')
  const r = json(exits(await cli(['manifest', 'sign', '--manifest', m, '--key', B.key, '--json']), 0, 'sign with B'))
  assert.is(r.signatures, 2)
  const two = JSON.parse(fs.readFileSync(`${m}.sig`, 'utf8'))
  assert.equal(two.map((s: { key_id: string }) => s.key_id), [A.id, B.id])
  // Re-signing with A (after a change to the manifest, say) replaces A's entry, never adds a second.
  fs.appendFileSync(m, ' ')
  exits(await cli(['manifest', 'sign', '--manifest', m, '--key', A.key]), 0, 'sign with A again')
  const again = JSON.parse(fs.readFileSync(`${m}.sig`, 'utf8'))
  assert.equal(again.map((s: { key_id: string }) => s.key_id), [A.id, B.id])
  assert.is.not(again[0].signature, two[0].signature, 'A\'s entry is the new signature')
  // Under a root of threshold 2: A's fresh signature counts, B's (over the old bytes) counts zero.
  const host = hostWithRoot()
  refused65(await validate(host, m), new RegExp(`signed by 1 distinct key.*the signature by key ${B.id} does not match`), 'B signed other bytes')
  exits(await cli(['manifest', 'sign', '--manifest', m, '--key', B.key]), 0, 'sign with B again')
  exits(await validate(host, m), 0, 'A and B over the same bytes')
  // A .sig that is not a signature file is refused, and left as it is.
  fs.writeFileSync(`${m}.sig`, 'not json\n')
  refused65(await cli(['manifest', 'sign', '--manifest', m, '--key', A.key]), /manifest\.json\.sig is not valid JSON; it was left as it is/, 'sign over a broken .sig')
  assert.is(fs.readFileSync(`${m}.sig`, 'utf8'), 'not json\n')
})

// --- trust init ------------------------------------------------------------------------------

test('trust init installs root.json and root.json.sig (0644) when a threshold of the root\'s own keys signed it; refuses fewer, and a second init', async () => {
  const host = tempDir('host')
  const under = signedRoot({}, [A])
  refused65(await cli(['trust', 'init', under, '--root', host]), new RegExp(`signed by 1 distinct key among its own keys, which requires 2 \\(signed: ${A.id}\\)`), 'one of two signatures')
  refused65(await cli(['trust', 'init', signedRoot({}, [A, D]), '--root', host]), new RegExp(`counted zero: key ${D.id} is not one of them`), 'a signature by a key outside the root')
  fs.rmSync(`${under}.sig`)
  refused65(await cli(['trust', 'init', under, '--root', host]), /no signature file .*root\.json\.sig: sign .* with a threshold of its keys/, 'no .sig')
  refused65(await cli(['trust', 'init', signedRoot({ expires_at: '2020-01-01T00:00:00Z' }, [A, B]), '--root', host]), /expired at 2020-01-01T00:00:00Z/, 'an expired root')
  assert.equal(treeOf(host), {}, 'nothing was installed')

  const file = signedRoot({}, [A, B])
  const r = json(exits(await cli(['trust', 'init', file, '--root', host, '--json']), 0, 'trust init'))
  assert.is(r.version, 1)
  assert.equal(r.key_ids, [A.id, B.id, C.id])
  for (const name of ['root.json', 'root.json.sig']) {
    const p = path.join(host, TRUST, name)
    assert.equal(fs.readFileSync(p), fs.readFileSync(path.join(path.dirname(file), name)), `${name}: the bytes given`)
    assert.is((fs.statSync(p).mode & 0o777).toString(8), '644', `${name} is 0644`)
  }
  const again = await cli(['trust', 'init', signedRoot({}, [A, B, C]), '--root', host, '--json'])
  exits(again, 1, 'a second trust init')
  const doc = json(again)
  assert.is(doc.ok, false)
  assert.is(doc.error.code, 'refused')
  assert.match(doc.error.message, /a trust root is already installed .*version 1.*trust update FILE/)
})

test('trust init refuses to write into an unsafe etc/nullspace (group-writable): exit 65, nothing installed', async () => {
  const host = tempDir('host')
  fs.mkdirSync(path.join(host, 'etc/nullspace'), { recursive: true })
  fs.chmodSync(path.join(host, 'etc/nullspace'), 0o775)
  refused65(await cli(['trust', 'init', signedRoot({}, [A, B]), '--root', host]), /etc\/nullspace is writable by group .*chmod go-w/, 'group-writable etc/nullspace')
  assert.not.ok(fs.existsSync(path.join(host, TRUST, 'root.json')), 'no root.json')
})

test('trust init --json failure is one document {ok:false, error:{code, message, exit}}', async () => {
  const r = await cli(['trust', 'init', signedRoot({ threshold: 0 }, [A]), '--root', tempDir('host'), '--json'])
  exits(r, 65, 'trust init of a bad root')
  const doc = json(r)
  assert.is(doc.ok, false)
  assert.equal({ code: doc.error.code, exit: doc.error.exit }, { code: 'bad_manifest', exit: 65 })
  assert.match(doc.error.message, /threshold/)
})

// --- rotation: TUF's failure modes -----------------------------------------------------------

test('trust update accepts version N+1 signed by a threshold of the installed root and of its own keys', async () => {
  const host = hostWithRoot()
  // v2 rotates C out and D in; signed by A, B (old threshold) and A, D (new threshold 2 of A, B, D).
  const r = json(exits(await cli(['trust', 'update', signedRoot({ version: 2, keys: [A, B, D] }, [A, B, D]), '--root', host, '--json']), 0, 'update to v2'))
  assert.equal({ version: r.version, previous: r.previous_version }, { version: 2, previous: 1 })
  const shown = json(exits(await cli(['trust', 'show', '--json', '--root', host]), 0, 'trust show'))
  assert.is(shown.root.version, 2)
  assert.equal(shown.root.key_ids, [A.id, B.id, D.id])
  assert.equal(shown.root.signature.signed_by, [A.id, B.id, D.id])
  assert.is(shown.root.signature.problem, null)
})

test('rollback: an older root, validly signed, is refused after an update (the version is compared with the installed one, GHSA-66x3-6cw3-v5gj)', async () => {
  const host = hostWithRoot()
  const v1 = signedRoot({ version: 1 }, [A, B, C])
  exits(await cli(['trust', 'update', signedRoot({ version: 2 }, [A, B]), '--root', host]), 0, 'update to v2')
  const before = treeOf(host)
  refused65(await cli(['trust', 'update', v1, '--root', host]), /is version 1, older than the installed root \(version 2\): a rollback to an older root is refused; only version 3 is accepted/, 'back to v1')
  refused65(await cli(['trust', 'update', signedRoot({ version: 2, threshold: 1 }, [A, B]), '--root', host]), /is version 2, the version already installed; only version 3/, 'the same version again')
  assert.equal(treeOf(host), before, 'nothing changed')
})

test('a skipped version (N+2) is refused; versions are installed in turn', async () => {
  const host = hostWithRoot()
  const before = treeOf(host)
  const v3 = signedRoot({ version: 3 }, [A, B])
  refused65(await cli(['trust', 'update', v3, '--root', host]), /is version 3, which skips version 2; install each version in turn, 2 first/, 'v3 over v1')
  assert.equal(treeOf(host), before, 'nothing changed')
  exits(await cli(['trust', 'update', signedRoot({ version: 2 }, [A, B]), '--root', host]), 0, 'v2')
  exits(await cli(['trust', 'update', v3, '--root', host]), 0, 'then v3')
})

test('a new root signed only by its new keys is refused: the installed root\'s keys must sign it', async () => {
  const host = hostWithRoot()
  const before = treeOf(host)
  const takeover = signedRoot({ version: 2, keys: [D, E2, F] }, [D, E2, F])
  refused65(await cli(['trust', 'update', takeover, '--root', host]), /signed by 0 distinct keys among the installed root \(version 1\), which requires 2.*a new root must be signed by a threshold of the keys this host trusts now/, 'new keys only')
  // One old key is not enough either.
  refused65(await cli(['trust', 'update', signedRoot({ version: 2, keys: [A, E2, F] }, [A, E2, F]), '--root', host]), /signed by 1 distinct key among the installed root/, 'one old key and the new ones')
  assert.equal(treeOf(host), before, 'nothing changed')
})

test('a new root signed by the old keys only (not a threshold of its own) is refused', async () => {
  const host = hostWithRoot()
  const before = treeOf(host)
  // v2 = {A, E, F} threshold 2, signed by A, B, C: the old threshold is met, its own only by A.
  refused65(await cli(['trust', 'update', signedRoot({ version: 2, keys: [A, E2, F] }, [A, B, C]), '--root', host]), /signed by 1 distinct key among its own keys, which requires 2.*must also be signed by a threshold of its own keys/, 'old keys only')
  assert.equal(treeOf(host), before, 'nothing changed')
})

test('the same key twice counts once towards a root\'s threshold, old or new', async () => {
  const host = hostWithRoot()
  const file = signedRoot({ version: 2 }, [A])
  const bytes = fs.readFileSync(file)
  fs.writeFileSync(`${file}.sig`, JSON.stringify([sigOf(bytes, A), sigOf(bytes, A), sigOf(bytes, A)]))
  refused65(await cli(['trust', 'update', file, '--root', host]), new RegExp(`signed by 1 distinct key among the installed root.*key ${A.id} signed more than once and counts once`), 'A three times')
})

test('a key revoked by the new root counts zero on manifests from then on', async () => {
  const host = hostWithRoot()
  const byAC = await manifestSignedBy([A, C])
  exits(await validate(host, byAC), 0, 'A and C, before the rotation')
  // C is compromised: v2 lists A, B, D, signed by A, B (the old root's threshold) and A, B (its own).
  exits(await cli(['trust', 'update', signedRoot({ version: 2, keys: [A, B, D] }, [A, B]), '--root', host]), 0, 'rotate C out')
  refused65(await validate(host, byAC), new RegExp(`signed by 1 distinct key.*counted zero: key ${C.id} is not one of them`), 'A and C, after C was revoked')
  exits(await validate(host, await manifestSignedBy([B, D])), 0, 'B and the new key D')
  // C cannot sign the next root either.
  refused65(await cli(['trust', 'update', signedRoot({ version: 3, keys: [A, B, D] }, [A, C]), '--root', host]), /signed by 1 distinct key among the installed root \(version 2\)/, 'C signing v3')
})

test('an expired new root is refused', async () => {
  const host = hostWithRoot()
  refused65(await cli(['trust', 'update', signedRoot({ version: 2, expires_at: '2020-01-01T00:00:00Z' }, [A, B]), '--root', host]), /version 2\) expired at 2020-01-01T00:00:00Z; sign a root with a later expires_at/, 'expired v2')
})

test('a refused root leaves nothing behind (tough CVE-2025-2888): the installed files are byte-identical and the right N+1 still installs', async () => {
  const host = hostWithRoot()
  const before = treeOf(host)
  for (const bad of [signedRoot({ version: 2, keys: [D, E2, F] }, [D, E2, F]), signedRoot({ version: 5 }, [A, B]), signedRoot({ version: 2, keys: [A, E2, F] }, [A, B])])
    exits(await cli(['trust', 'update', bad, '--root', host]), 65, 'a refused root')
  assert.equal(treeOf(host), before, 'root.json and root.json.sig are as they were, and no temp file is left')
  exits(await cli(['trust', 'update', signedRoot({ version: 2 }, [A, B]), '--root', host]), 0, 'the next valid root still installs')
})

test('trust update without an installed root is refused (exit 1) and says to use trust init', async () => {
  const host = tempDir('host')
  const r = await cli(['trust', 'update', signedRoot({ version: 2 }, [A, B]), '--root', host])
  exits(r, 1, 'update with no root')
  assert.match(r.stderr, /no trust root is installed .*trust init FILE/)
  assert.equal(treeOf(host), {}, 'nothing written')
})

// --- trust show ------------------------------------------------------------------------------

test('trust show lists version, expiry, threshold and key ids, and the evidence key beside the root', async () => {
  const host = hostWithRoot({ expires_at: '2098-05-06T07:08:09Z' })
  const evidence = path.join(host, 'etc/nullspace/evidence-key')
  fs.copyFileSync(E2.key, evidence)
  fs.chmodSync(evidence, 0o600)
  const doc = json(exits(await cli(['trust', 'show', '--json', '--root', host]), 0, 'trust show --json'))
  assert.equal(
    { version: doc.root.version, expires_at: doc.root.expires_at, expired: doc.root.expired, threshold: doc.root.threshold, key_ids: doc.root.key_ids },
    { version: 1, expires_at: '2098-05-06T07:08:09Z', expired: false, threshold: 2, key_ids: [A.id, B.id, C.id] },
  )
  assert.equal(doc.evidence_key, { file: evidence, key_id: E2.id, problem: null })
  const text = exits(await cli(['trust', 'show', '--root', host]), 0, 'trust show').stdout
  for (const want of ['version 1', 'expires 2098-05-06T07:08:09Z', `threshold: 2 of 3 keys: ${A.id}, ${B.id}, ${C.id}`, `key ${E2.id}`, 'not part of the root']) assert.ok(text.includes(want), `${want}\n${show({ code: 0, signal: null, stdout: text, stderr: '' })}`)
})

test.run()
