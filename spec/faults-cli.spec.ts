// A misbehaving mirror, through the real CLI (ARCHITECTURE.md section 4, invariants 3, 4, 8):
// release A is installed over http, then `install` of B meets one fault on its rootfs
// (`--allow-http --stall-timeout 2`). Each fault has its exact expected outcome: success
// after a retry or a resume, or a clear one-line error (exit 1) naming the component and the
// URL. In every failing case the active state is byte-identical before and after and no
// `releases/<B>` exists; in every case every sealed release holds only verified bytes. A
// stalled server is given up on within the configured timeout.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fs from 'node:fs'
import path from 'node:path'
import { execFileSync } from 'node:child_process'
import { runCli, type CliResult } from './helpers/cli.js'
import { tempDir } from './helpers/tmp.js'
import { buildServedRelease, noise } from './helpers/artifacts.js'
import { startServer, type Fault, type FaultOptions, type TestServer } from './helpers/server.js'
import { RELEASES, activeState, diff, liveLockHolder, pool, sealedProblems, sha256 } from './fixtures/hostile/host-state.js'

const A_ID = '2026.06.10'
const B_ID = '2026.06.11'
const ROOTFS = 256 * 1024 + 13
const STALL_S = 2
const PARALLEL = 4

interface FaultCase {
  name: string
  fault: Fault
  options?: FaultOptions
  /** A part of the first half of rootfs left by an earlier run (with the server's validators). */
  part?: boolean
  /** Also serve the rootfs at this extra path (a redirect target). */
  alsoAt?: string
  expect:
    | { ok: true; check?: (c: Ctx) => string[] }
    | { ok: false; stderr: string[]; check?: (c: Ctx) => string[] }
  /** More flags for the install. */
  args?: string[]
  /** Wall-time bounds of the whole command, in seconds. */
  minS?: number
  maxS: number
}

interface Ctx {
  path: string
  url: string
  requests: { path: string; range?: string }[]
  sent: number
  ms: number
  /** Milliseconds from the command's start to each request for the rootfs path. */
  arrivals: number[]
}

const rangeFrom = (c: Ctx, p = c.path) => c.requests.filter((r) => r.path === p && r.range).map((r) => r.range!)
const count = (c: Ctx, p = c.path) => c.requests.filter((r) => r.path === p).length
const expectThat = (cond: boolean, what: string) => (cond ? [] : [what])
const HALF = Math.floor(ROOTFS / 2)

/**
 * One more request after the broken one, continuing the part (Range from what the client
 * kept: never past what the server sent) or, when nothing was kept (a TCP reset drops the
 * unread receive queue), from byte 0.
 */
/**
 * A stalled attempt is abandoned after --stall-timeout, not before and not much after: the
 * next request comes STALL_S plus that retry's backoff (0.5 s doubling) later, within 2 s slack.
 */
function stallGaps(c: Ctx): string[] {
  const out: string[] = []
  for (let i = 1; i < c.arrivals.length; i++) {
    const gap = (c.arrivals[i] - c.arrivals[i - 1]) / 1000
    const backoff = 0.5 * 2 ** (i - 1)
    if (gap < STALL_S || gap > STALL_S + backoff + 2) out.push(`attempt ${i + 1} came ${gap.toFixed(2)} s after attempt ${i}; expected ${STALL_S} s stall + ${backoff} s backoff (+2 s slack)`)
  }
  return out
}

function resumedOrRetried(c: Ctx, after: string): string[] {
  const ranges = rangeFrom(c).map((r) => Number(/^bytes=(\d+)-$/.exec(r)?.[1] ?? NaN))
  return [
    ...expectThat(count(c) === 2, `exactly one more request ${after} (got ${count(c)})`),
    ...expectThat(ranges.every((n) => n > 0 && n <= HALF), `a resume starts within the bytes that arrived (0 < start <= ${HALF}), got ${rangeFrom(c).join(', ')}`),
  ]
}

const CASES: FaultCase[] = [
  { name: 'wrong bytes', fault: 'wrong-bytes', expect: { ok: false, stderr: ['sha256'], check: (c) => expectThat(count(c) === 1, `a fresh download that fails its hash is not retried (got ${count(c)} requests)`) }, maxS: 30 },
  { name: 'short body, once', fault: 'short-body', options: { times: 1 }, expect: { ok: true, check: (c) => resumedOrRetried(c, 'after the premature end') }, maxS: 30 },
  { name: 'extra bytes past the declared size', fault: 'extra-bytes', expect: { ok: false, stderr: ['more bytes than the manifest declares'] }, maxS: 30 },
  { name: 'endless body', fault: 'endless', expect: { ok: false, stderr: ['more bytes than the manifest declares'], check: (c) => expectThat(c.sent < 64 * ROOTFS, `cut off, not read forever (${c.sent} bytes sent)`) }, maxS: 30 },
  { name: 'stall mid-body, once', fault: 'stall', options: { times: 1 }, expect: { ok: true, check: (c) => [...resumedOrRetried(c, 'after the stall'), ...stallGaps(c)] }, minS: STALL_S, maxS: 30 },
  {
    name: 'stall mid-body, forever',
    fault: 'stall',
    expect: { ok: false, stderr: [`no byte from`, `for ${STALL_S} s (--stall-timeout)`, 'gave up after 5 attempts'], check: (c) => [...expectThat(count(c) === 5, `5 attempts (got ${count(c)})`), ...stallGaps(c)] },
    // 5 attempts of STALL_S each plus 0.5+1+2+4 s of backoff; never CI's limit.
    minS: 5 * STALL_S,
    maxS: 5 * STALL_S + 7.5 + 20,
  },
  { name: 'slow drip', fault: 'slow-drip', options: { dripBytes: 16 * 1024, dripMs: 100 }, expect: { ok: true, check: (c) => expectThat(count(c) === 1, `a slow but steady body is not abandoned (got ${count(c)} requests)`) }, minS: 1.6, maxS: 30 },
  // A byte now and then keeps --stall-timeout from firing: the minimum speed abandons the trickle.
  {
    name: 'trickle below --speed-limit, once',
    fault: 'slow-drip',
    options: { dripBytes: 64, dripMs: 200, times: 1 },
    args: ['--speed-limit', '1024', '--speed-time', '1'],
    expect: { ok: true, check: (c) => [...expectThat(count(c) === 2, `the trickle was abandoned and retried once (got ${count(c)} requests)`), ...expectThat(rangeFrom(c).length === 1, 'the retry resumed what the trickle delivered')] },
    minS: 1,
    maxS: 30,
  },
  {
    name: 'trickle below --speed-limit, forever',
    fault: 'slow-drip',
    options: { dripBytes: 64, dripMs: 200 },
    args: ['--speed-limit', '1024', '--speed-time', '1'],
    expect: { ok: false, stderr: ['sent fewer than 1024 bytes/s over 1 s (--speed-limit, --speed-time)', 'gave up after 5 attempts'], check: (c) => expectThat(count(c) === 5, `5 attempts (got ${count(c)})`) },
    // 5 windows of 1 s plus 0.5+1+2+4 s of backoff.
    minS: 5,
    maxS: 5 + 7.5 + 15,
  },
  { name: 'reset mid-body, once', fault: 'reset', options: { times: 1 }, expect: { ok: true, check: (c) => resumedOrRetried(c, 'after the reset') }, maxS: 30 },
  { name: '500 twice, then success', fault: '500-then-ok', options: { times: 2 }, expect: { ok: true, check: (c) => expectThat(count(c) === 3, `retried after each 500 (got ${count(c)} requests)`) }, maxS: 30 },
  { name: '404', fault: '404', expect: { ok: false, stderr: ['HTTP 404'] }, maxS: 30 },
  { name: 'HTTP 403', fault: 'status', options: { status: 403 }, expect: { ok: false, stderr: ['HTTP 403'] }, maxS: 30 },
  { name: '301 to another path', fault: 'redirect', options: { to: '/moved/rootfs.ext4' }, alsoAt: '/moved/rootfs.ext4', expect: { ok: true, check: (c) => expectThat(count(c, '/moved/rootfs.ext4') === 1, 'the redirect target was fetched') }, maxS: 30 },
  {
    name: '301 to another host (localhost)',
    fault: 'redirect-host',
    options: { to: '/moved-host/rootfs.ext4' },
    alsoAt: '/moved-host/rootfs.ext4',
    expect: { ok: true, check: (c) => expectThat(count(c, '/moved-host/rootfs.ext4') === 1, 'the redirect to localhost was followed') },
    maxS: 30,
  },
  { name: '301 loop (more than 5 redirects)', fault: 'redirect', options: { to: '__self__' }, expect: { ok: false, stderr: ['more than 5 redirects'], check: (c) => expectThat(count(c) === 6, `followed at most 5 redirects (got ${count(c)} requests)`) }, maxS: 30 },
  {
    name: 'Range ignored on a resume',
    fault: 'ignore-range',
    part: true,
    expect: { ok: true, check: (c) => [...expectThat(rangeFrom(c).length >= 1, 'asked for a Range'), ...expectThat(c.sent === ROOTFS, `took the whole file from byte 0 (${c.sent} bytes sent)`)] },
    maxS: 30,
  },
  {
    name: 'wrong Content-Range on a resume',
    fault: 'wrong-content-range',
    part: true,
    expect: { ok: true, check: (c) => [...expectThat(rangeFrom(c).includes(`bytes=${HALF}-`), 'asked to resume'), ...expectThat(count(c) === 2, `refused the mislabelled 206 and started over (got ${count(c)} requests)`)] },
    maxS: 30,
  },
  { name: 'Content-Length lying', fault: 'lying-content-length', expect: { ok: false, stderr: ['announces'] }, maxS: 30 },
]

let server: TestServer
let template: string
let bManifest: string
let rootfsB: Buffer
let bDir: string
const outcomes = new Map<string, Promise<string[]>>()
const tally = { tried: 0, behaved: 0 }

test.before(async () => {
  server = await startServer()
  const A = await buildServedRelease(server, { releaseId: A_ID, version: '0.1.0' })
  rootfsB = noise(ROOTFS, 7)
  const B = await buildServedRelease(server, { releaseId: B_ID, version: '0.2.0', contents: { 'rootfs.ext4': rootfsB } })
  bManifest = fs.readFileSync(B.manifest, 'utf8')
  bDir = B.dir
  template = tempDir('faults-template')
  const r = await runCli(['install', '--manifest', A.manifest, '--root', template, '--allow-http', '--quiet'], { timeoutMs: 60_000 })
  assert.is(r.code, 0, `install A: ${r.stderr}`)
  const jobs = CASES.map((c, i) => () => runCase(c, i))
  pool(jobs, PARALLEL).forEach((p, i) => outcomes.set(CASES[i].name, p))
})

test.after(async () => {
  await server?.close()
  console.log(`  faults tried: ${tally.tried}, behaved as specified: ${tally.behaved}`)
})

for (const c of CASES) {
  test(`fault: ${c.name} -> ${c.expect.ok ? 'success' : 'clear error, nothing changed'}`, async () => {
    const problems = await outcomes.get(c.name)!
    assert.equal(problems, [], `${c.name}:\n  ${problems.join('\n  ')}`)
  })
}

/** One fault: its own root, its own URL prefix on the shared server; returns the problems found. */
async function runCase(c: FaultCase, i: number): Promise<string[]> {
  const prefix = `/f${i}`
  const p = `${prefix}/rootfs.ext4`
  const url = server.url(p)
  const root = tempDir('faults')
  execFileSync('cp', ['-a', `${template}/.`, root])
  const dir = tempDir('faults-manifest')
  const manifest = path.join(dir, 'manifest.json')
  fs.writeFileSync(manifest, bManifest.split(`${server.origin}/${B_ID}/`).join(`${server.origin}${prefix}/`))
  for (const name of fs.readdirSync(bDir)) if (name !== 'manifest.json') server.setFile(`${prefix}/${name}`, fs.readFileSync(path.join(bDir, name)))
  if (c.alsoAt) server.setFile(`${prefix}${c.alsoAt}`, rootfsB)
  if (c.part) {
    const parts = path.join(root, RELEASES, '.staging/parts')
    fs.mkdirSync(parts, { recursive: true })
    const sha = sha256(rootfsB)
    fs.writeFileSync(path.join(parts, `${sha}.part`), rootfsB.subarray(0, HALF))
    fs.writeFileSync(path.join(parts, `${sha}.part.json`), `${JSON.stringify({ url, etag: server.etag(p), last_modified: server.lastModified(p) })}\n`)
  }
  const opts = { ...c.options }
  if (opts.to === '__self__') opts.to = p
  else if (opts.to) opts.to = `${prefix}${opts.to}`
  server.setFault(p, c.fault, opts)

  const before = activeState(root)
  const firstRequest = server.requests.length
  const t0 = Date.now()
  // When each request of this case arrived (the server keeps no clock): polled every 20 ms.
  const arrivals: number[] = []
  let seen = firstRequest
  const poll = setInterval(() => {
    for (; seen < server.requests.length; seen++) if (server.requests[seen].path === p) arrivals.push(Date.now() - t0)
  }, 20)
  let r: CliResult | undefined
  const problems: string[] = []
  try {
    r = await runCli(['install', '--manifest', manifest, '--root', root, '--allow-http', '--stall-timeout', String(STALL_S), '--quiet', ...(c.args ?? [])], { timeoutMs: (c.maxS + 5) * 1000 })
  } catch (e) {
    problems.push(`no exit: ${(e as Error).message.split('\n')[0]}`)
  } finally {
    clearInterval(poll)
    server.setFault(p, null)
  }
  const ms = Date.now() - t0
  tally.tried++
  // Requests of this case only, with paths relative to its prefix ("/rootfs.ext4", "/moved/rootfs.ext4").
  const requests = server.requests.slice(firstRequest).filter((q) => q.path.startsWith(`${prefix}/`)).map((q) => ({ path: q.path.slice(prefix.length), range: q.range }))
  const ctx: Ctx = { path: '/rootfs.ext4', url, requests, sent: server.bytesSent(p), ms, arrivals }
  const show = r ? `exit ${r.code}${r.signal ? ` (${r.signal})` : ''} in ${ms} ms\nstderr: ${r.stderr.slice(0, 1500)}` : `no result in ${ms} ms`

  if (r) {
    if (c.expect.ok) {
      if (r.code !== 0) problems.push(`expected success, got exit ${r.code}`)
      else {
        const cur = fs.readlinkSync(path.join(root, RELEASES, 'current'))
        if (cur !== B_ID) problems.push(`current -> ${cur}, expected ${B_ID}`)
        const got = fs.readFileSync(path.join(root, RELEASES, B_ID, 'artifacts/rootfs.ext4'))
        if (!got.equals(rootfsB)) problems.push('the installed rootfs is not the served bytes')
      }
    } else {
      if (r.code !== 1) problems.push(`expected exit 1, got ${r.code}`)
      for (const f of [...c.expect.stderr, 'rootfs', url]) if (!r.stderr.includes(f)) problems.push(`stderr lacks ${JSON.stringify(f)}`)
      const lines = r.stderr.trim().split('\n').filter((l) => !l.includes('warning:'))
      if (lines.length !== 1) problems.push(`a failure is one line on stderr, got ${lines.length}`)
      if (/^\s+at .+:\d+:\d+\)?$/m.test(r.stderr)) problems.push('stderr holds a stack trace')
      for (const d of diff(before, activeState(root))) problems.push(`active state changed: ${d}`)
      if (fs.existsSync(path.join(root, RELEASES, B_ID))) problems.push(`releases/${B_ID} exists after a failed install`)
    }
    problems.push(...(c.expect.check?.(ctx) ?? []))
  }
  for (const s of sealedProblems(root)) problems.push(`sealed release unsound: ${s}`)
  if (liveLockHolder(root) !== null) problems.push('the host lock is still held')
  if (c.minS !== undefined && ms < c.minS * 1000) problems.push(`took ${ms} ms, less than ${c.minS} s: the fault did not bite`)
  if (ms > c.maxS * 1000) problems.push(`took ${ms} ms, more than ${c.maxS} s`)
  if (problems.length === 0) tally.behaved++
  return problems.length ? [...problems, show] : []
}

test.run()
