// Target selection of a release channel (ARCHITECTURE.md section 8.4) on plain data: no disk, no
// clock, no network. Each case is a channel, the active version, a host id and a time.
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import type { Channel, ChannelRelease } from '../lib/channel/codec.js'
import { rolloutBucket, rolloutPercentage, selectTarget, type Selection } from '../lib/channel/select.js'

const NOW = Date.parse('2026-07-01T12:00:00Z')
const HOST = 'host-0001'

function rel(version: string, o: Partial<ChannelRelease> = {}): ChannelRelease {
  return {
    release_id: `r${version}`,
    version,
    manifest_url: `https://releases.example/${version}/manifest.json`,
    manifest_digest: `sha256:${'a'.repeat(64)}`,
    barrier: false,
    deadend: false,
    ...o,
  }
}

const channelOf = (...releases: ChannelRelease[]): Channel => ({
  format: 'nullspace-channel-v1',
  channel: 'stable',
  sequence: 1,
  generated_at: '2026-07-01T00:00:00Z',
  expires_at: '2026-08-01T00:00:00Z',
  releases,
})

const pick = (c: Channel, activeVersion: string | null, o: { hostId?: string; now?: number } = {}): Selection =>
  selectTarget(c, { activeVersion, hostId: o.hostId ?? HOST, now: o.now ?? NOW })
const targetOf = (s: Selection) => s.target?.version ?? null
const skipOf = (s: Selection, version: string) => s.skipped.find((k) => k.version === version)?.reason

const table = suite('channel selection table')

table('no release above the active version: up to date, each skipped as not above', () => {
  const s = pick(channelOf(rel('1.0.0'), rel('0.9.0')), '1.0.0')
  assert.is(s.target, null)
  assert.is(s.why, 'up-to-date')
  assert.match(s.reason, /^up to date/)
  assert.is(skipOf(s, '1.0.0'), 'not-above-active')
  assert.is(skipOf(s, '0.9.0'), 'not-above-active')
})

table('only deadends above: up to date, each skipped as deadend', () => {
  const s = pick(channelOf(rel('1.0.0'), rel('1.1.0', { deadend: true }), rel('1.2.0', { deadend: true, barrier: true })), '1.0.0')
  assert.is(s.target, null)
  assert.is(skipOf(s, '1.1.0'), 'deadend')
  assert.is(skipOf(s, '1.2.0'), 'deadend')
})

table('no barrier: the highest version above, the others below it named', () => {
  const s = pick(channelOf(rel('1.0.0'), rel('1.2.0'), rel('1.1.0')), '1.0.0')
  assert.is(targetOf(s), '1.2.0')
  assert.is(s.why, 'newest')
  assert.is(skipOf(s, '1.1.0'), 'below-target')
})

table('a barrier above: the barrier, not the newer release past it', () => {
  const s = pick(channelOf(rel('1.0.0'), rel('1.1.0'), rel('1.2.0', { barrier: true }), rel('1.3.0')), '1.0.0')
  assert.is(targetOf(s), '1.2.0')
  assert.is(s.why, 'barrier')
  assert.match(s.reason, /barrier r1\.2\.0/)
  assert.is(skipOf(s, '1.3.0'), 'past-barrier')
})

table('two barriers above: the lowest first', () => {
  const s = pick(channelOf(rel('3.0.0', { barrier: true }), rel('2.0.0', { barrier: true }), rel('4.0.0'), rel('1.0.0')), '1.0.0')
  assert.is(targetOf(s), '2.0.0')
  assert.is(s.why, 'barrier')
})

table('a barrier at or below the active version no longer holds the host', () => {
  const s = pick(channelOf(rel('1.0.0', { barrier: true }), rel('2.0.0', { barrier: true }), rel('3.0.0')), '2.0.0')
  assert.is(targetOf(s), '3.0.0')
  assert.is(s.why, 'newest')
})

table('a host two barriers behind reaches the newest in three steps, one barrier at a time', () => {
  const c = channelOf(rel('1.0.0'), rel('1.5.0'), rel('2.0.0', { barrier: true }), rel('2.5.0'), rel('3.0.0', { barrier: true }), rel('4.0.0'), rel('3.5.0'))
  let active = '1.0.0'
  const path: string[] = []
  for (let step = 0; step < 5; step++) {
    const s = pick(c, active)
    if (!s.target) break
    path.push(`${s.target.version}:${s.why}`)
    active = s.target.version
  }
  assert.equal(path, ['2.0.0:barrier', '3.0.0:barrier', '4.0.0:newest'])
})

table('a host whose active release became a deadend still moves on', () => {
  const s = pick(channelOf(rel('1.0.0', { deadend: true }), rel('1.1.0')), '1.0.0')
  assert.is(targetOf(s), '1.1.0')
})

table('a deadend barrier holds nobody: it is skipped and the host goes past it', () => {
  const s = pick(channelOf(rel('1.0.0'), rel('2.0.0', { barrier: true, deadend: true }), rel('3.0.0')), '1.0.0')
  assert.is(targetOf(s), '3.0.0')
  assert.is(skipOf(s, '2.0.0'), 'deadend')
})

table('versions are ordered as semver, not as strings', () => {
  // As strings "1.9.0" > "1.10.0" and "2.0.0-rc.1" > "2.0.0"; as versions, neither.
  assert.is(targetOf(pick(channelOf(rel('1.9.0'), rel('1.10.0')), '1.2.0')), '1.10.0')
  assert.is(targetOf(pick(channelOf(rel('1.10.0')), '1.9.0')), '1.10.0')
  assert.is(targetOf(pick(channelOf(rel('2.0.0-rc.1'), rel('2.0.0')), '1.0.0')), '2.0.0')
  assert.is(targetOf(pick(channelOf(rel('2.0.0-rc.1')), '2.0.0')), null)
  assert.is(targetOf(pick(channelOf(rel('10.0.0', { barrier: true }), rel('9.0.0', { barrier: true })), '1.0.0')), '9.0.0')
})

table('a host with no active release: every release is above it, barriers still first', () => {
  assert.is(targetOf(pick(channelOf(rel('1.0.0'), rel('2.0.0')), null)), '2.0.0')
  assert.is(targetOf(pick(channelOf(rel('1.0.0', { barrier: true }), rel('2.0.0')), null)), '1.0.0')
})

table.run()

// ---------------------------------------------------------------------------------------
const rollout = suite('channel rollouts')

const START = '2026-07-01T12:00:00Z'
const startMs = Date.parse(START)
const minutes = (n: number) => startMs + n * 60_000
const rolling = (version: string, start_percentage: number, duration_minutes: number, o: Partial<ChannelRelease> = {}) =>
  rel(version, { rollout: { start_at: START, start_percentage, duration_minutes }, ...o })
const hosts = Array.from({ length: 1000 }, (_, i) => `synthetic-host-${String(i).padStart(4, '0')}`)

rollout('the bucket is the first 8 hex of sha256(host id + release id) over 2^32, times 100 (known answer)', () => {
  // printf '%s' 'host-0001r2026.07.01' | sha256sum -> 4934cbdb...; 0x4934cbdb / 2^32 * 100
  assert.ok(Math.abs(rolloutBucket('host-0001', 'r2026.07.01') - 28.596185776405036) < 1e-9)
  // UTF-8 bytes of the host id: printf '%s' 'ä-hostrel' | sha256sum -> 97f1eaac...
  assert.ok(Math.abs(rolloutBucket('ä-host', 'rel') - (0x97f1eaac / 2 ** 32) * 100) < 1e-9)
  // The id and the release id are joined directly: ("ab", "c") is ("a", "bc").
  assert.is(rolloutBucket('ab', 'c'), rolloutBucket('a', 'bc'))
})

rollout('P(t): nothing before start_at, start_percentage at start_at, linear to 100 at start_at + duration_minutes, 100 after', () => {
  const r = { start_at: START, start_percentage: 10, duration_minutes: 100 }
  assert.is(rolloutPercentage(r, startMs - 1), null)
  assert.is(rolloutPercentage(r, startMs), 10)
  assert.is(rolloutPercentage(r, minutes(50)), 55)
  assert.is(rolloutPercentage(r, minutes(100)), 100)
  assert.is(rolloutPercentage(r, minutes(10_000)), 100)
  assert.is(rolloutPercentage({ ...r, duration_minutes: 0 }, startMs), 100)
})

rollout('a rollout at 10% offers the release to between 7% and 13% of 1,000 host ids', () => {
  const c = channelOf(rel('1.0.0'), rolling('1.1.0', 10, 600))
  const offered = hosts.filter((h) => targetOf(pick(c, '1.0.0', { hostId: h, now: startMs })) === '1.1.0').length
  assert.ok(offered >= 70 && offered <= 130, `offered to ${offered} of 1000`)
  // Those not offered say why.
  const missed = hosts.find((h) => targetOf(pick(c, '1.0.0', { hostId: h, now: startMs })) === null)!
  assert.is(skipOf(pick(c, '1.0.0', { hostId: missed, now: startMs }), '1.1.0'), 'rollout-not-reached')
})

rollout('half-way through the rollout about half the hosts, and every host after duration_minutes', () => {
  const c = channelOf(rel('1.0.0'), rolling('1.1.0', 10, 600))
  const offeredAt = (now: number) => hosts.filter((h) => targetOf(pick(c, '1.0.0', { hostId: h, now })) === '1.1.0').length
  const half = offeredAt(minutes(300))
  assert.ok(half >= 480 && half <= 620, `offered to ${half} of 1000 at P = 55%`)
  assert.is(offeredAt(minutes(600)), 1000)
  assert.is(offeredAt(minutes(6000)), 1000)
})

rollout('before start_at no host is reached, even at start_percentage 100', () => {
  const c = channelOf(rel('1.0.0'), rolling('1.1.0', 100, 0))
  const s = pick(c, '1.0.0', { now: startMs - 60_000 })
  assert.is(s.target, null)
  assert.is(skipOf(s, '1.1.0'), 'rollout-not-reached')
  assert.match(s.skipped[1].detail, /starts at/)
  assert.is(targetOf(pick(c, '1.0.0', { now: startMs })), '1.1.0')
})

rollout('a host the newest rollout has not reached takes the highest release that has reached it', () => {
  const c = channelOf(rel('1.0.0'), rel('1.1.0'), rolling('1.2.0', 0, 600))
  const s = pick(c, '1.0.0', { now: startMs })
  assert.is(targetOf(s), '1.1.0')
  assert.is(skipOf(s, '1.2.0'), 'rollout-not-reached')
})

rollout('a barrier whose rollout has not reached the host holds it below the barrier', () => {
  const c = channelOf(rel('1.0.0'), rel('1.5.0'), rolling('2.0.0', 0, 600, { barrier: true }), rel('3.0.0'))
  const s = pick(c, '1.0.0', { now: startMs })
  assert.is(targetOf(s), '1.5.0')
  assert.is(skipOf(s, '2.0.0'), 'rollout-not-reached')
  assert.is(skipOf(s, '3.0.0'), 'past-barrier')
  assert.is(targetOf(pick(c, '1.5.0', { now: startMs })), null)
  assert.is(targetOf(pick(c, '1.5.0', { now: minutes(600) })), '2.0.0')
})

rollout('a host with no id yet (a check may not make one): only a rollout at 100% reaches it, and the detail says why', () => {
  const c = channelOf(rel('1.0.0'), rolling('1.1.0', 99, 600))
  const s = selectTarget(c, { activeVersion: '1.0.0', hostId: null, now: startMs })
  assert.is(s.target, null)
  assert.match(s.skipped[1].detail, /no host id yet/)
  assert.is(selectTarget(c, { activeVersion: '1.0.0', hostId: null, now: minutes(600) }).target?.version, '1.1.0')
  // A release without a rollout needs no host id.
  assert.is(selectTarget(channelOf(rel('1.2.0')), { activeVersion: '1.0.0', hostId: null, now: startMs }).target?.version, '1.2.0')
})

rollout('the buckets of one host differ from release to release (salted by the release id)', () => {
  const a = hosts.map((h) => rolloutBucket(h, 'r1') < 10)
  const b = hosts.map((h) => rolloutBucket(h, 'r2') < 10)
  const both = a.filter((x, i) => x && b[i]).length
  assert.ok(both < 40, `${both} hosts are in the first 10% of both rollouts`)
})

rollout.run()
