// upgrade --channel (ARCHITECTURE.md section 8.4) end to end: a real nginx on 127.0.0.1 serves a
// channel and its signature, the manifests and their signatures, and the artifacts, over https
// (a test CA the CLI trusts through NODE_EXTRA_CA_CERTS); hosts trust a real ed25519 key. The
// channel is written by `channel add` and signed by `manifest sign`, as a publisher would.
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import fs from 'node:fs'
import path from 'node:path'
import { startNginx, type Nginx } from './helpers/nginx.js'
import { type Rel, cli as run, currentOf, exits, makeRelease, ok, sha256, stateOf, treeOf } from './helpers/hosts.js'
import { REPO, json } from './helpers/cli.js'
import Ajv2020 from 'ajv/dist/2020.js'
import { tempDir } from './helpers/tmp.js'
import { freePort } from './helpers/stand-in-api.js'

const TRUSTED = 'etc/nullspace/trusted-keys'

// The dry run's document is a plan: it must stay valid against the published plan schema.
const validatePlan = new Ajv2020.default({ strict: true, allErrors: true }).compile(JSON.parse(fs.readFileSync(path.join(REPO, 'schemas/plan.schema.json'), 'utf8')))

let nginx: Nginx
let key: { key: string; pub: string }
/** r1 0.1.0, r2 0.2.0 (barrier), r3 0.3.0 (barrier), r4 0.4.0. */
const rels: Record<string, Rel> = {}
let publisherDir: string

const cli = (args: string[]) => run(args, { env: { NODE_EXTRA_CA_CERTS: nginx.caFile } })
const manifestUrl = (id: string) => nginx.url(`/${id}/manifest.json`)
const digestOf = (id: string) => `sha256:${sha256(fs.readFileSync(rels[id]!.manifest))}`

/** Signs `bytes` with the spec's key through `manifest sign` (which signs any file) and serves both at `/<name>` and `/<name>.sig`. */
async function publishSigned(name: string, bytes: Buffer | string): Promise<string> {
  const file = path.join(tempDir('channel'), path.basename(name))
  fs.writeFileSync(file, bytes)
  ok(await run(['manifest', 'sign', '--manifest', file, '--key', key.key]), `sign ${name}`)
  nginx.put(`/${name}`, fs.readFileSync(file))
  nginx.put(`/${name}.sig`, fs.readFileSync(`${file}.sig`))
  return nginx.url(`/${name}`)
}

interface DocRelease {
  release_id: string
  version: string
  manifest_url: string
  manifest_digest: string
  barrier: boolean
  deadend: boolean
}
const entry = (id: string, o: Partial<DocRelease> = {}): DocRelease => ({
  release_id: id,
  version: rels[id]!.version,
  manifest_url: manifestUrl(id),
  manifest_digest: digestOf(id),
  barrier: false,
  deadend: false,
  ...o,
})
/** A channel document written by hand, for the ones `channel add` would never write (expired, lying). */
const doc = (sequence: number, releases: DocRelease[], o: Record<string, unknown> = {}) =>
  `${JSON.stringify({ format: 'nullspace-channel-v1', channel: 'stable', sequence, generated_at: '2026-01-01T00:00:00Z', expires_at: '2099-01-01T00:00:00Z', releases, ...o }, null, 2)}\n`

/** A root that trusts the spec's key, with r1 installed from its URL. */
async function r1Root(): Promise<string> {
  const root = tempDir('root')
  fs.mkdirSync(path.join(root, TRUSTED), { recursive: true, mode: 0o755 })
  fs.copyFileSync(key.pub, path.join(root, TRUSTED, path.basename(key.pub)))
  ok(await cli(['install', '--root', root, '--manifest', manifestUrl('r1')]), 'install r1 from its URL')
  return root
}

const upgradeArgs = (root: string, url: string, ...extra: string[]) => ['upgrade', '--root', root, '--channel', url, '--skip-ingress-smoke', ...extra]

/** Exit 65, one line on stderr that says `why`, and the root exactly as it was. */
async function refused(root: string, args: string[], why: RegExp): Promise<string> {
  const before = treeOf(root)
  const r = exits(await cli(args), 65, args.join(' '))
  const lines = r.stderr.trim().split('\n')
  assert.is(lines.length, 1, r.stderr)
  assert.match(lines[0]!, why)
  assert.match(lines[0]!, /Nothing was changed/, lines[0])
  assert.equal(treeOf(root), before, 'the refusal changed the root')
  return lines[0]!
}

const e2e = suite('upgrade --channel against nginx')

e2e.before(async () => {
  nginx = await startNginx()
  const dir = tempDir('keys')
  const k = json<{ private_key: string; public_key: string }>(ok(await run(['manifest', 'keygen', '--out', dir, '--json']), 'keygen'))
  key = { key: k.private_key, pub: k.public_key }
  const versions: Array<[string, string]> = [['r1', '0.1.0'], ['r2', '0.2.0'], ['r3', '0.3.0'], ['r4', '0.4.0']]
  await Promise.all(
    versions.map(async ([id, version]) => {
      rels[id] = await makeRelease({ id, version, change: { 'nullspace-api': `nullspace-api ${id}\n` }, flags: { baseUrl: nginx.url(`/${id}`) } })
    }),
  )
  for (const rel of Object.values(rels)) {
    ok(await run(['manifest', 'sign', '--manifest', rel.manifest, '--key', key.key]), `sign ${rel.id}`)
    for (const file of fs.readdirSync(rel.dir)) nginx.put(`/${rel.id}/${file}`, fs.readFileSync(path.join(rel.dir, file)))
  }
  // The publisher's channel: built with channel add, signed with manifest sign, uploaded.
  publisherDir = tempDir('publisher')
  const channelFile = path.join(publisherDir, 'stable.json')
  for (const [id, barrier] of [['r1', false], ['r2', true], ['r3', true], ['r4', false]] as const) {
    const args = ['channel', 'add', '--channel-file', channelFile, '--manifest', rels[id]!.manifest, '--manifest-url', manifestUrl(id)]
    if (id === 'r1') args.push('--channel-name', 'stable')
    if (barrier) args.push('--barrier')
    ok(await run(args), `channel add ${id}`)
  }
  await publishSigned('stable.json', fs.readFileSync(channelFile))
})

e2e.after(async () => {
  await nginx?.close()
})

e2e('--check exits 2 and names the barrier, changing nothing; a host two barriers behind reaches the newest in three upgrades; then --check exits 0', async () => {
  const root = await r1Root()
  const url = nginx.url('/stable.json')
  const before = treeOf(root)
  const check = json<{ ok: boolean; changed: boolean; upgrade_available: boolean; target: { release_id: string }; why: string; sequence: number; skipped: { release_id: string; reason: string }[] }>(
    exits(await cli(upgradeArgs(root, url, '--check', '--json')), 2, '--check with an upgrade available'),
  )
  assert.equal([check.ok, check.changed, check.upgrade_available, check.target.release_id, check.why, check.sequence], [true, false, true, 'r2', 'barrier', 4])
  assert.equal(check.skipped.map((s) => `${s.release_id}:${s.reason}`), ['r1:not-above-active', 'r3:past-barrier', 'r4:past-barrier'])
  assert.equal(treeOf(root), before, '--check changed the root (no host id is kept by a check either)')
  const human = exits(await cli(upgradeArgs(root, url, '--check')), 2, '--check, human')
  assert.match(human.stdout, /upgrade available: r2 \(version 0\.2\.0\)/)
  assert.match(human.stdout, /why: barrier r2/)

  const path3: string[] = []
  for (let i = 0; i < 3; i++) {
    const r = json<{ ok: boolean; from: string; to: string; channel: { why: string; sequence: number } }>(ok(await cli(upgradeArgs(root, url, '--json')), `upgrade ${i + 1}`))
    path3.push(`${r.from}->${r.to} (${r.channel.why})`)
    assert.is(currentOf(root), r.to)
  }
  assert.equal(path3, ['r1->r2 (barrier)', 'r2->r3 (barrier)', 'r3->r4 (newest)'])
  assert.is((stateOf(root) as unknown as { channel: { sequence: number; channel: string } }).channel.sequence, 4)
  // No etc/machine-id under this root: the first real run kept a random host id.
  assert.match(fs.readFileSync(path.join(root, 'var/lib/nullspace/host-id'), 'utf8'), /^[0-9a-f]{32}\n$/)

  const upToDate = exits(await cli(upgradeArgs(root, url, '--check')), 0, '--check when up to date')
  assert.match(upToDate.stdout, /up to date/)
  const again = exits(await cli(upgradeArgs(root, url, '--json')), 0, 'upgrade when up to date')
  assert.equal(json<{ changed: boolean; to: string }>(again).changed, false)
  assert.is(currentOf(root), 'r4')
})

e2e('--dry-run with --channel shows the plan to the chosen target and changes nothing; etc/nullspace/channel.url stands in for --channel', async () => {
  const root = await r1Root()
  const url = nginx.url('/stable.json')
  const before = treeOf(root)
  const plan = json<{ target_release_id: string; current_release_id: string; steps: unknown[]; channel: { why: string } }>(ok(await cli(upgradeArgs(root, url, '--dry-run', '--json')), 'dry run'))
  assert.equal([plan.current_release_id, plan.target_release_id, plan.channel.why], ['r1', 'r2', 'barrier'])
  assert.ok(validatePlan(plan), `the dry run's plan does not match schemas/plan.schema.json: ${JSON.stringify(validatePlan.errors)}`)
  assert.ok(plan.steps.length > 0)
  assert.equal(treeOf(root), before, '--dry-run changed the root')
  fs.writeFileSync(path.join(root, 'etc/nullspace/channel.url'), `${url}\n`)
  const r = exits(await cli(['upgrade', '--root', root, '--check']), 2, '--check with channel.url')
  assert.match(r.stdout, /upgrade available: r2/)
})

e2e('every refusal is exit 65, one line naming the reason, and nothing changed', async () => {
  const root = await r1Root()
  // The host accepts sequence 5 (it is up to date there: a real run records the sequence).
  const accepted = await publishSigned('accepted.json', doc(5, [entry('r1')]))
  ok(await cli(upgradeArgs(root, accepted)), 'accept sequence 5')
  assert.is((stateOf(root) as unknown as { channel: { sequence: number } }).channel.sequence, 5)

  const replay = await publishSigned('replay.json', doc(3, [entry('r1'), entry('r2')]))
  await refused(root, upgradeArgs(root, replay), /sequence 3 is lower than 5, the highest this host has accepted/)
  await refused(root, upgradeArgs(root, replay, '--check'), /sequence 3 is lower than 5/)

  const expired = await publishSigned('expired.json', doc(9, [entry('r1'), entry('r2')], { generated_at: '2026-01-01T00:00:00Z', expires_at: '2026-01-02T00:00:00Z' }))
  await refused(root, upgradeArgs(root, expired), /refused channel: expires_at: the channel expired at 2026-01-02T00:00:00Z/)
  exits(await cli(upgradeArgs(root, expired, '--check', '--allow-expired')), 2, '--allow-expired')

  const good = doc(9, [entry('r1'), entry('r2')])
  const tampered = await publishSigned('tampered.json', good)
  nginx.put('/tampered.json', good.replace('"stable"', '"stabIe"'))
  await refused(root, upgradeArgs(root, tampered), /untrusted channel: the signature by key [0-9a-f]{16} does not match the bytes/)
  nginx.put('/unsigned.json', good)
  await refused(root, upgradeArgs(root, nginx.url('/unsigned.json')), /untrusted channel: no signature at https:\/\/127\.0\.0\.1:\d+\/unsigned\.json\.sig/)

  const lying = await publishSigned('lying.json', doc(9, [entry('r1'), entry('r2', { manifest_digest: digestOf('r3') })]))
  await refused(root, upgradeArgs(root, lying), /manifest_digest mismatch: the channel lists sha256:[0-9a-f]{64} for release r2, the fetched manifest is sha256:[0-9a-f]{64}/)

  // Refused by its size, before its signature is asked for (manifest sign would not sign it either).
  nginx.put('/big.json', Buffer.alloc(16 * 1024 * 1024 + 1, 0x20))
  await refused(root, upgradeArgs(root, nginx.url('/big.json')), /big\.json is over the 16777216-byte limit for a channel/)
  assert.not.ok(nginx.requested().includes('/big.json.sig'))
  const notJson = await publishSigned('not-json.json', 'stable: r2\n')
  await refused(root, upgradeArgs(root, notJson), /not a nullspace-channel-v1 channel: invalid JSON at line 1/)
  const otherFormat = await publishSigned('other-format.json', doc(9, [entry('r2')], { format: 'nullspace-channel-v2' }))
  await refused(root, upgradeArgs(root, otherFormat), /not a valid nullspace-channel-v1 channel: format: must be "nullspace-channel-v1"/)
  assert.is(currentOf(root), 'r1')
})

e2e('a channel server that cannot be reached fails the command (exit 1, run it again later) and changes nothing', async () => {
  const root = await r1Root()
  const before = treeOf(root)
  const url = `https://127.0.0.1:${await freePort()}/stable.json`
  const r = exits(await cli(upgradeArgs(root, url, '--check')), 1, 'unreachable channel')
  assert.match(r.stderr, /the channel could not be fetched, nothing was changed; run the same command again once the server answers/)
  assert.is(r.stderr.trim().split('\n').length, 1, r.stderr)
  assert.equal(treeOf(root), before)
})


e2e('under a trust root of threshold 2, a channel needs signatures by two distinct keys of the root: one is refused (65), two are followed', async () => {
  const root = await r1Root()
  const second = json<{ private_key: string; public_key: string }>(ok(await run(['manifest', 'keygen', '--out', tempDir('keys'), '--json']), 'keygen'))
  const idOf = (pub: string) => path.basename(pub, '.pub')
  const rootFile = path.join(tempDir('trust-root'), 'root.json')
  const keys = Object.fromEntries([key.pub, second.public_key].map((p) => [idOf(p), fs.readFileSync(p, 'utf8')]))
  fs.writeFileSync(rootFile, `${JSON.stringify({ format: 'nullspace-root-v1', version: 1, expires_at: '2099-01-01T00:00:00Z', threshold: 2, keys }, null, 2)}\n`)
  for (const k of [key.key, second.private_key]) ok(await run(['manifest', 'sign', '--manifest', rootFile, '--key', k]), 'sign the root')
  ok(await cli(['trust', 'init', rootFile, '--root', root]), 'trust init')

  // The published channel carries one signature (the spec's key): a threshold of 2 refuses it.
  const line = await refused(root, upgradeArgs(root, nginx.url('/stable.json'), '--check'), /untrusted channel: signed by 1 distinct key of the trust root .*which requires 2/)
  assert.match(line, /stable\.json/)

  // The same channel signed by both keys of the root (manifest sign appends) is followed.
  const file = path.join(tempDir('channel'), 'stable.json')
  fs.copyFileSync(path.join(publisherDir, 'stable.json'), file)
  for (const k of [key.key, second.private_key]) ok(await run(['manifest', 'sign', '--manifest', file, '--key', k]), 'sign the channel')
  nginx.put('/stable-2of2.json', fs.readFileSync(file))
  nginx.put('/stable-2of2.json.sig', fs.readFileSync(`${file}.sig`))
  const r = exits(await cli(upgradeArgs(root, nginx.url('/stable-2of2.json'), '--check')), 2, '--check of a channel with two signatures')
  assert.match(r.stdout, /upgrade available: r2/)
})
e2e.run()
