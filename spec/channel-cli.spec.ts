// The publisher's side of a channel through the real CLI: channel add, channel deadend and
// manifest sign on a channel file; and the host id an upgrade --channel keeps (state/host-id.ts).
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import fs from 'node:fs'
import path from 'node:path'
import { createPublicKey, verify } from 'node:crypto'
import { type Rel, cli, exits, makeRelease, ok, sha256 } from './helpers/hosts.js'
import { json } from './helpers/cli.js'
import { tempDir } from './helpers/tmp.js'
import { NUMBER_BOUNDS } from '../cmd/bounds.js'
import { MAX_ROLLOUT_MINUTES } from '../lib/channel/codec.js'
import { layout } from '../lib/layout.js'
import { keepHostId, newHostId, readHostId } from '../state/host-id.js'

interface ChannelJson {
  format: string
  channel: string
  sequence: number
  generated_at: string
  expires_at: string
  releases: Array<{ release_id: string; version: string; manifest_url: string; manifest_digest: string; barrier: boolean; deadend: boolean; rollout?: { start_at: string; start_percentage: number; duration_minutes: number } }>
}

let r1: Rel
let r2: Rel
const read = (file: string): ChannelJson => JSON.parse(fs.readFileSync(file, 'utf8'))
const add = (file: string, rel: Rel, ...extra: string[]) => cli(['channel', 'add', '--channel-file', file, '--manifest', rel.manifest, '--manifest-url', `https://releases.example/${rel.id}/manifest.json`, ...extra])

const publisher = suite('channel add, channel deadend, manifest sign')

publisher.before(async () => {
  ;[r1, r2] = await Promise.all([makeRelease({ id: 'r1', version: '0.1.0' }), makeRelease({ id: 'r2', version: '0.2.0' })])
})

publisher('channel add creates the file with --channel-name: sequence 1, the manifest\'s id, version and digest, valid 30 days', async () => {
  const file = path.join(tempDir('publisher'), 'stable.json')
  const before = Date.now()
  const r = json<{ ok: boolean; changed: boolean; created: boolean; sequence: number }>(ok(await add(file, r1, '--channel-name', 'stable', '--json'), 'channel add'))
  assert.equal([r.ok, r.changed, r.created, r.sequence], [true, true, true, 1])
  const c = read(file)
  assert.equal([c.format, c.channel, c.sequence], ['nullspace-channel-v1', 'stable', 1])
  assert.equal(c.releases, [{ release_id: 'r1', version: '0.1.0', manifest_url: 'https://releases.example/r1/manifest.json', manifest_digest: `sha256:${sha256(fs.readFileSync(r1.manifest))}`, barrier: false, deadend: false }])
  const span = Date.parse(c.expires_at) - Date.parse(c.generated_at)
  assert.is(span, 30 * 86_400_000)
  assert.ok(Date.parse(c.generated_at) >= Math.floor(before / 1000) * 1000 && Date.parse(c.generated_at) <= Date.now())
  assert.is((fs.statSync(file).mode & 0o777).toString(8), '644')
})

publisher('a missing file without --channel-name is a usage error naming the flag, and nothing is written', async () => {
  const file = path.join(tempDir('publisher'), 'stable.json')
  const r = exits(await add(file, r1), 64, 'no --channel-name')
  assert.match(r.stderr, /does not exist; to create a new channel there, name it with --channel-name/)
  assert.not.ok(fs.existsSync(file))
})

publisher('each change raises the sequence by one; a barrier and a rollout are written as given; the validity period is kept', async () => {
  const file = path.join(tempDir('publisher'), 'stable.json')
  ok(await add(file, r1, '--channel-name', 'stable', '--expires-in', '7'), 'add r1')
  ok(await add(file, r2, '--barrier', '--rollout-percentage', '12.5', '--rollout-minutes', '1440', '--rollout-start', '2026-07-01T00:00:00Z'), 'add r2')
  const c = read(file)
  assert.is(c.sequence, 2)
  assert.equal(c.releases[1], {
    release_id: 'r2', version: '0.2.0', manifest_url: 'https://releases.example/r2/manifest.json', manifest_digest: `sha256:${sha256(fs.readFileSync(r2.manifest))}`,
    barrier: true, deadend: false, rollout: { start_at: '2026-07-01T00:00:00Z', start_percentage: 12.5, duration_minutes: 1440 },
  })
  assert.is(Date.parse(c.expires_at) - Date.parse(c.generated_at), 7 * 86_400_000)
  const d = json<{ changed: boolean; sequence: number }>(ok(await cli(['channel', 'deadend', '--channel-file', file, '--release-id', 'r1', '--expires-at', '2099-01-01T00:00:00Z', '--json']), 'deadend r1'))
  assert.equal([d.changed, d.sequence], [true, 3])
  const after = read(file)
  assert.equal([after.sequence, after.releases[0]!.deadend, after.releases[1]!.deadend, after.expires_at], [3, true, false, '2099-01-01T00:00:00Z'])
  // Already deadend: no change, no new sequence, the file untouched.
  const bytes = fs.readFileSync(file)
  const again = json<{ changed: boolean; sequence: number }>(ok(await cli(['channel', 'deadend', '--channel-file', file, '--release-id', 'r1', '--json']), 'deadend r1 again'))
  assert.equal([again.changed, again.sequence], [false, 3])
  assert.ok(fs.readFileSync(file).equals(bytes))
})

publisher('refusals leave the channel file as it was: the same release again, an unknown release id, a half-given rollout, a channel name that differs', async () => {
  const file = path.join(tempDir('publisher'), 'stable.json')
  ok(await add(file, r1, '--channel-name', 'stable'), 'add r1')
  const bytes = fs.readFileSync(file)
  const cases: Array<[Promise<import('./helpers/cli.js').CliResult>, number, RegExp]> = [
    [add(file, r1), 1, /release r1 is already in channel stable .*The channel file was not changed/],
    [cli(['channel', 'deadend', '--channel-file', file, '--release-id', 'r9']), 1, /no release r9 in channel stable \(it has r1\)/],
    [add(file, r2, '--rollout-percentage', '10'), 64, /a rollout needs both --rollout-percentage and --rollout-minutes/],
    [add(file, r2, '--rollout-percentage', '101', '--rollout-minutes', '5'), 64, /--rollout-percentage must be a number of percent 0 or more, at most 100, got 101/],
    [add(file, r2, '--rollout-percentage', '10', '--rollout-minutes', '1.5'), 64, /--rollout-minutes must be a whole number of minutes/],
    [add(file, r2, '--channel-name', 'beta'), 64, /is channel "stable", not "beta"/],
    [add(file, r2, '--expires-at', 'tomorrow'), 64, /--expires-at must be an RFC 3339 time/],
    [add(file, r2, '--expires-at', '2020-01-01T00:00:00Z'), 1, /expires_at: the channel expired at 2020-01-01T00:00:00Z/],
  ]
  for (const [run, code, message] of cases) {
    const r = exits(await run, code, String(message))
    assert.match(r.stderr, message)
    assert.is(r.stderr.trim().split('\n').length, 1, r.stderr)
  }
  assert.ok(fs.readFileSync(file).equals(bytes), 'a refusal changed the channel file')
  assert.is(NUMBER_BOUNDS['rollout-minutes'].max, MAX_ROLLOUT_MINUTES, 'the flag\'s bound is the codec\'s')
})

publisher('a file that is not a channel is refused (65), never overwritten', async () => {
  const file = path.join(tempDir('publisher'), 'stable.json')
  fs.writeFileSync(file, '{"format": "something else"}\n')
  const r = exits(await add(file, r1), 65, 'not a channel')
  assert.match(r.stderr, /not a valid nullspace-channel-v1 channel: format: must be "nullspace-channel-v1"/)
  assert.is(fs.readFileSync(file, 'utf8'), '{"format": "something else"}\n')
})

publisher('manifest sign signs a channel file (any file): the signature verifies over its bytes with the key', async () => {
  const dir = tempDir('publisher')
  const file = path.join(dir, 'stable.json')
  ok(await add(file, r1, '--channel-name', 'stable'), 'add r1')
  const k = json<{ key_id: string; private_key: string; public_key: string }>(ok(await cli(['manifest', 'keygen', '--out', path.join(dir, 'keys'), '--json']), 'keygen'))
  const s = json<{ signature: string; key_id: string }>(ok(await cli(['manifest', 'sign', '--manifest', file, '--key', k.private_key, '--json']), 'sign the channel'))
  assert.is(s.signature, `${file}.sig`)
  const sig = JSON.parse(fs.readFileSync(`${file}.sig`, 'utf8')) as { key_id: string; algorithm: string; signature: string }
  assert.equal([sig.key_id, sig.algorithm], [k.key_id, 'ed25519'])
  assert.ok(verify(null, fs.readFileSync(file), createPublicKey(fs.readFileSync(k.public_key)), Buffer.from(sig.signature, 'base64')))
  // Not only JSON: any regular file.
  fs.writeFileSync(path.join(dir, 'notes.txt'), 'release notes\n')
  ok(await cli(['manifest', 'sign', '--manifest', path.join(dir, 'notes.txt'), '--key', k.private_key]), 'sign a text file')
  assert.ok(fs.existsSync(path.join(dir, 'notes.txt.sig')))
})

publisher.run()

// ---------------------------------------------------------------------------------------
const hostId = suite('host id')

hostId('the first line of etc/machine-id, without its newline', async () => {
  const root = tempDir('root')
  fs.mkdirSync(path.join(root, 'etc'))
  fs.writeFileSync(path.join(root, 'etc/machine-id'), '0123456789abcdef0123456789abcdef\nsecond line\n')
  const id = await readHostId(layout(root))
  assert.equal([id?.id, id?.source], ['0123456789abcdef0123456789abcdef', 'machine-id'])
})

hostId('no machine-id: none until one is kept; a kept id is read back the same, and machine-id wins once it exists', async () => {
  const root = tempDir('root')
  const l = layout(root)
  assert.is(await readHostId(l), null)
  fs.mkdirSync(path.join(root, 'etc'))
  fs.writeFileSync(path.join(root, 'etc/machine-id'), '\n')
  assert.is(await readHostId(l), null, 'an empty first line is no id')
  const made = newHostId(l)
  assert.match(made.id, /^[0-9a-f]{32}$/)
  assert.is(await readHostId(l), null, 'newHostId keeps nothing')
  await keepHostId(l, made)
  assert.is(fs.readFileSync(path.join(root, 'var/lib/nullspace/host-id'), 'utf8'), `${made.id}\n`)
  assert.equal(await readHostId(l), made)
  assert.not.equal(newHostId(l).id, made.id)
  fs.writeFileSync(path.join(root, 'etc/machine-id'), 'abc\n')
  assert.is((await readHostId(l))?.id, 'abc')
})

hostId('a kept id that is not one is an error naming the file and the fix', async () => {
  const root = tempDir('root')
  fs.mkdirSync(path.join(root, 'var/lib/nullspace'), { recursive: true })
  fs.writeFileSync(path.join(root, 'var/lib/nullspace/host-id'), 'not an id\n')
  try {
    await readHostId(layout(root))
    assert.unreachable('accepted a malformed host id')
  } catch (e) {
    assert.match((e as Error).message, /host-id does not hold a host id \(32 lowercase hex characters\); remove it/)
  }
})

hostId.run()
