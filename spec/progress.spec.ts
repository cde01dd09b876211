// Progress on a TTY (issue 8): fetches and `doctor --deep` draw a bar per component and an
// overall bar, with bytes, rate and ETA, on stderr; nothing without a TTY on stderr, with
// --quiet or with --json. The CLI runs on a real pseudo-terminal (util-linux `script`).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fs from 'node:fs'
import path from 'node:path'
import { buildRelease, buildServedRelease, noise } from './helpers/artifacts.js'
import { startServer, type TestServer } from './helpers/server.js'
import { cliLine, runInPty, sh } from './helpers/pty.js'
import { json, runCli } from './helpers/cli.js'
import { tempDir } from './helpers/tmp.js'
import { formatEta, progressLine } from '../lib/progress.js'

const T = 60_000
const RELEASE = '2026.06.10'
const PROGRESS = /ETA (\d|--)/
const CURSOR_HIDDEN = '\x1b[?25l'
/** Text without colour codes (the step lines are coloured on a terminal). */
const plain = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '')

let server: TestServer
let manifest: string

test.before(async () => {
  server = await startServer()
  const built = await buildServedRelease(server, { releaseId: RELEASE, contents: { 'rootfs.ext4': noise(256 * 1024, 7) } })
  manifest = built.manifest
})
test.after(async () => {
  await server.close()
})
// A test that slowed the rootfs leaves the next one a normal server, whether it passed or failed.
test.after.each(() => server.setFault(`/${RELEASE}/rootfs.ext4`, null))

/** The rootfs arrives in 16 KiB drips 40 ms apart (about 0.6 s), so the bars are drawn mid-transfer. */
const slowRootfs = () => server.setFault(`/${RELEASE}/rootfs.ext4`, 'slow-drip', { dripBytes: 16 * 1024, dripMs: 40 })

const root = () => tempDir('progress-root')
const install = (r: string, ...extra: string[]) => cliLine(['install', '--allow-http', '--root', r, '--manifest', manifest, ...extra])

test('install on a TTY: per-component and overall bars with bytes, rate and ETA, on stderr', async () => {
  slowRootfs()
  const out = path.join(tempDir('progress-out'), 'stdout.txt')
  const r = await runInPty(`${install(root())} > ${sh(out)}`, {}, T)
  assert.is(r.code, 0, r.transcript)
  // A rootfs line drawn while it was still arriving: a partial percentage, bytes of bytes, a rate, an ETA.
  const midway = /  rootfs\s+\[[=>-]+\]\s+(\d+)%\s+[\d.]+ (?:B|KiB)\/256 KiB\s+[\d.]+ (?:B|KiB|MiB)\/s\s+ETA (?:\d+s|--)/.exec(r.transcript)
  assert.ok(midway, `no rootfs progress line on the terminal:\n${r.transcript}`)
  assert.ok(Number(midway[1]) < 100, `the rootfs line is not from mid-transfer: ${midway[0]}`)
  assert.match(r.transcript, /  total\s+\[[=>-]+\]\s+100%/, 'the overall bar ends at 100%')
  // Everything on the terminal came from stderr: stdout went to the file, with the step lines.
  const stdout = fs.readFileSync(out, 'utf8')
  assert.match(stdout, /done fetch:rootfs/, `stdout:\n${stdout}\nterminal:\n${r.transcript}`)
  assert.not.match(stdout, PROGRESS)
  assert.not.match(r.transcript, /done fetch:/)
  // The cursor is shown again at the end.
  assert.ok(r.transcript.lastIndexOf('\x1b[?25h') > r.transcript.lastIndexOf(CURSOR_HIDDEN))
})

test('no progress when stderr is not a TTY (stdout still on the terminal)', async () => {
  slowRootfs()
  const err = path.join(tempDir('progress-err'), 'stderr.txt')
  const r = await runInPty(`${install(root())} 2> ${sh(err)}`, {}, T)
  assert.is(r.code, 0, r.transcript)
  assert.match(plain(r.transcript), /done fetch:rootfs/, 'the step lines are on the terminal')
  assert.not.match(r.transcript, PROGRESS)
  assert.not.ok(r.transcript.includes(CURSOR_HIDDEN))
  assert.not.match(fs.readFileSync(err, 'utf8'), PROGRESS)
})

test('no progress through pipes', async () => {
  const r = await runCli(['install', '--allow-http', '--root', root(), '--manifest', manifest], { timeoutMs: T })
  assert.is(r.code, 0, r.stderr)
  assert.not.match(r.stderr, PROGRESS)
  assert.is(r.stderr.includes('\x1b['), false)
})

test('--quiet on a TTY: no bars, no step lines', async () => {
  slowRootfs()
  const r = await runInPty(install(root(), '--quiet'), {}, T)
  assert.is(r.code, 0, r.transcript)
  assert.not.match(r.transcript, PROGRESS)
  assert.not.ok(r.transcript.includes(CURSOR_HIDDEN))
  assert.not.match(plain(r.transcript), /done fetch/)
})

test('--json on a TTY: the JSON document and no bars', async () => {
  slowRootfs()
  const r = await runInPty(install(root(), '--json'), {}, T)
  assert.is(r.code, 0, r.transcript)
  assert.not.match(r.transcript, PROGRESS)
  assert.not.ok(r.transcript.includes(CURSOR_HIDDEN))
  // The terminal shows stderr's warnings (the stand-in firecracker has no version) before the document.
  const text = r.transcript.replaceAll('\r\n', '\n')
  const doc = JSON.parse(text.slice(text.indexOf('\n{') + 1))
  assert.is(doc.release_id, RELEASE)
})

test('doctor --deep on a TTY shows the rehash; doctor without --deep, or with --json, does not', async () => {
  const big = await buildRelease({ releaseId: '2026.06.11', contents: { 'rootfs.ext4': noise(4 * 1024 * 1024, 3) } })
  const r0 = root()
  const installed = await runCli(['install', '--root', r0, '--manifest', big.manifest], { timeoutMs: T })
  assert.is(installed.code, 0, installed.stderr)
  const deep = await runInPty(cliLine(['doctor', '--deep', '--root', r0]), {}, T)
  assert.match(deep.transcript, /  total\s+\[[=>-]+\]\s+100%\s+[\d.]+ MiB\/[\d.]+ MiB\s+[\d.]+ \w+\/s\s+ETA 0s/, deep.transcript)
  const shallow = await runInPty(cliLine(['doctor', '--root', r0]), {}, T)
  assert.not.match(shallow.transcript, PROGRESS)
  const asJson = await runInPty(cliLine(['doctor', '--deep', '--json', '--root', r0]), {}, T)
  assert.not.match(asJson.transcript, PROGRESS)
  const report = json({ code: 0, signal: null, stdout: asJson.transcript.replaceAll('\r\n', '\n'), stderr: '' })
  assert.is(report.deep, true)
})

test('Ctrl-C while the bars draw: the command stops (exit 130), the cursor comes back, nothing is switched', async () => {
  // 1 MiB in 8 KiB drips 100 ms apart: about 13 s, time enough to interrupt it mid-transfer.
  const big = await buildServedRelease(server, { releaseId: '2026.06.12', contents: { 'rootfs.ext4': noise(1024 * 1024, 9) } })
  server.setFault('/2026.06.12/rootfs.ext4', 'slow-drip', { dripBytes: 8 * 1024, dripMs: 100 })
  const r0 = root()
  const parts = path.join(r0, 'opt/nullspace/releases/.staging/parts')
  const command = `${cliLine(['install', '--allow-http', '--root', r0, '--manifest', big.manifest])} & pid=$!
    until ls ${sh(parts)}/*.part >/dev/null 2>&1; do sleep 0.1; done; sleep 0.5
    kill -INT $pid; wait $pid; echo "exit=$?"`
  const r = await runInPty(command, {}, T)
  assert.match(r.transcript, /exit=130/, r.transcript)
  assert.ok(r.transcript.includes(CURSOR_HIDDEN), 'bars were drawn')
  assert.ok(r.transcript.lastIndexOf('\x1b[?25h') > r.transcript.lastIndexOf(CURSOR_HIDDEN), 'the cursor is shown again')
  assert.not.match(plain(r.transcript), /Installed release/)
  assert.not.ok(fs.existsSync(path.join(r0, 'opt/nullspace/releases/current')))
  server.setFault('/2026.06.12/rootfs.ext4', null)
})

test('progress lines: bytes of total, rate over this run only, ETA', () => {
  const line = progressLine({ label: 'rootfs', labelWidth: 8, value: 6 * 1024 * 1024, total: 8 * 1024 * 1024, base: 2 * 1024 * 1024, elapsedMs: 2000, width: 100 })
  // 4 MiB in this run over 2 s = 2 MiB/s; 2 MiB left -> 1 s.
  assert.match(line, /^  rootfs   \[=+>-+\]  75%  6\.0 MiB\/8\.0 MiB  2\.0 MiB\/s  ETA 1s$/)
  const done = progressLine({ label: 'total', labelWidth: 5, value: 10, total: 10, base: 0, elapsedMs: 0, width: 80 })
  assert.match(done, /\[=+\] 100%  10 B\/10 B  0 B\/s  ETA 0s$/)
  assert.is(formatEta(Number.NaN), '--')
  assert.is(formatEta(65), '1m05s')
  assert.is(formatEta(7260), '2h01m')
})

test.run()
