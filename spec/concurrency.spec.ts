// Concurrency (ARCHITECTURE.md section 4, invariant 5): eight install/upgrade/rollback commands
// started at once on one root. Exactly the lock rules hold: every command exits 0 or with the
// lock error (exit 75, naming the holder's pid, which is one of the others); the final state is
// consistent (doctor --deep clean, `current` names a sealed release, nothing left behind) and
// state.json's history is exactly the switches the successful commands report, each once, in
// the order they finished. With --lock-timeout 30 all eight succeed one after another.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fs from 'node:fs'
import path from 'node:path'
import { execFileSync, spawn } from 'node:child_process'
import { CLI, runCli, type CliResult } from './helpers/cli.js'
import { tempDir } from './helpers/tmp.js'
import { buildRelease, type BuiltRelease } from './helpers/artifacts.js'
import { currentIsSafe, deepDoctorProblems, leftovers } from './helpers/hosts.js'
import { sealedProblems } from './fixtures/hostile/host-state.js'

const A_ID = '2026.06.10'
const B_ID = '2026.06.11'
const C_ID = '2026.06.12'
const DEADLINE_MS = 90_000

let A: BuiltRelease
let B: BuiltRelease
let C: BuiltRelease
let template: string
const tally: string[] = []

interface Child extends CliResult {
  pid: number
  args: string[]
  closedAt: number
}

interface Switch {
  op: string
  from: string | null
  to: string
}

/** The CLI as a child whose pid we know (the lock error must name one of ours), with its own deadline. */
function start(args: string[]): { pid: number; done: Promise<Child> } {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, NO_COLOR: '1', NULLSPACE_ROOT: '' }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => (stdout += d))
  child.stderr.on('data', (d) => (stderr += d))
  const done = new Promise<Child>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${args.join(' ')}: no exit within ${DEADLINE_MS} ms\nstderr: ${stderr}`))
    }, DEADLINE_MS)
    child.on('error', (e) => (clearTimeout(timer), reject(e)))
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ pid: child.pid ?? -1, args, code, signal, stdout, stderr, closedAt: performance.now() })
    })
  })
  return { pid: child.pid ?? -1, done }
}

const ok = (r: CliResult, what: string) => assert.is(r.code, 0, `${what}: exit ${r.code}\n${r.stderr}`)
const history = (root: string): (Switch & { result: string })[] => JSON.parse(fs.readFileSync(path.join(root, 'var/lib/nullspace/state.json'), 'utf8')).history

/** The eight commands: each valid in whatever order the lock lets them run, and each a switch from the starting state (A). */
const commands = (root: string, extra: string[]): string[][] =>
  [
    ['install', '--manifest', B.manifest, '--allow-downgrade'],
    ['upgrade', '--manifest', C.manifest, '--skip-ingress-smoke', '--allow-downgrade'],
    ['rollback'],
    ['install', '--manifest', C.manifest, '--allow-downgrade'],
    ['upgrade', '--manifest', B.manifest, '--skip-ingress-smoke', '--allow-downgrade'],
    ['rollback', '--to', C_ID],
    ['rollback', '--to', B_ID],
    ['rollback'],
  ].map((c) => [...c, '--root', root, '--json', ...extra])

/** The switch a successful command reports, or null when it had nothing to switch. */
function switchOf(c: Child): Switch | null {
  const out = JSON.parse(c.stdout) as { from?: string | null; to?: string; release_id?: string; previous_release_id?: string | null }
  const op = c.args[0]
  const from = op === 'install' ? (out.previous_release_id ?? null) : (out.from ?? null)
  const to = op === 'install' ? out.release_id! : out.to!
  return from === to ? null : { op, from, to }
}

interface RunResult {
  succeeded: number
  locked: number
  switches: number
}

async function race(extra: string[]): Promise<RunResult> {
  const root = tempDir('concurrency')
  execFileSync('cp', ['-a', `${template}/.`, root])
  const before = history(root)
  const started = commands(root, extra).map(start)
  const pids = new Set(started.map((s) => s.pid))
  const children = await Promise.all(started.map((s) => s.done))
  const succeeded = children.filter((c) => c.code === 0)
  const locked = children.filter((c) => c.code !== 0)
  for (const c of locked) {
    const m = /locked by pid (\d+)/.exec(c.stderr)
    assert.is(c.code, 75, `${c.args.join(' ')}: a command that did not succeed must fail with the lock error (exit 75), got ${c.code} ${c.signal ?? ''}\n${c.stderr}`)
    assert.ok(m, `${c.args.join(' ')}: the lock error names the holder's pid\n${c.stderr}`)
    assert.ok(pids.has(Number(m![1])) && Number(m![1]) !== c.pid, `${c.args.join(' ')}: holder pid ${m![1]} is one of the other commands (${[...pids].join(', ')})`)
    assert.is(c.stderr.trim().split('\n').length, 1, `${c.args.join(' ')}: one line\n${c.stderr}`)
  }
  assert.ok(succeeded.length >= 1, 'at least one command got the lock')

  // The history is exactly the switches that happened, each once, in the order the commands finished.
  const expected = succeeded
    .sort((a, b) => a.closedAt - b.closedAt)
    .map(switchOf)
    .filter((s): s is Switch => s !== null)
  const after = history(root)
  assert.equal(after.slice(0, before.length), before, 'the earlier history is kept as it was')
  const added = after.slice(before.length)
  assert.equal(
    added.map((h) => `${h.op} ${h.from}->${h.to} ${h.result}`),
    expected.map((s) => `${s.op} ${s.from}->${s.to} ok`),
    `state.json history vs the switches the successful commands reported:\n${succeeded.map((c) => `${c.args.slice(0, 3).join(' ')} -> ${c.stdout.trim().slice(0, 200)}`).join('\n')}`,
  )
  let at: string | null = before.at(-1)?.to ?? null
  for (const h of added) {
    assert.is(h.from, at, `history is a chain: ${h.op} ${h.from}->${h.to} follows ${at}`)
    at = h.to
  }

  // The final state is consistent.
  const current = currentIsSafe(root)
  assert.is(current, at, '`current` names the release the last switch recorded')
  assert.equal(sealedProblems(root), [], 'every sealed release is sound')
  assert.equal(await deepDoctorProblems(root), [], 'doctor --deep --json is clean')
  assert.equal(leftovers(root), [], 'nothing left in .staging, no temp link, no live lock holder')
  return { succeeded: succeeded.length, locked: locked.length, switches: added.length }
}

test.before(async () => {
  ;[A, B, C] = await Promise.all([
    buildRelease({ releaseId: A_ID, version: '0.1.0' }),
    buildRelease({ releaseId: B_ID, version: '0.2.0' }),
    buildRelease({ releaseId: C_ID, version: '0.3.0' }),
  ])
  // A installed (after an upgrade to B and a rollback, so `rollback` always has a target); B and C sealed.
  template = tempDir('concurrency-template')
  const run = (args: string[]) => runCli([...args, '--root', template, '--quiet'], { timeoutMs: 60_000 })
  ok(await run(['install', '--manifest', A.manifest]), 'install A')
  ok(await run(['upgrade', '--manifest', B.manifest, '--skip-ingress-smoke']), 'upgrade to B')
  ok(await run(['rollback']), 'rollback to A')
  ok(await run(['artifacts', 'fetch', '--manifest', C.manifest]), 'fetch C')
  assert.is(currentIsSafe(template), A_ID)
})

test.after(() => {
  for (const line of tally) console.log(`  ${line}`)
})

test('eight commands at once: each exits 0 or with the lock error, and the history matches the switches', async () => {
  const r = await race([])
  assert.ok(r.switches >= 1, 'the command that got the lock switched (every command is a switch from the starting state)')
  tally.push(`concurrent runs (lock-timeout 0): 8 started, ${r.succeeded} succeeded, ${r.locked} refused with the lock error, ${r.switches} switches recorded; final state consistent`)
})

test('eight commands at once with --lock-timeout 30: all succeed, one after another', async () => {
  const r = await race(['--lock-timeout', '30'])
  assert.is(r.succeeded, 8, 'every command waited for the lock and succeeded')
  tally.push(`concurrent runs (lock-timeout 30): 8 started, ${r.succeeded} succeeded, ${r.locked} refused, ${r.switches} switches recorded; final state consistent`)
})

test('a lock temp file left by a command killed while it waited is removed by the next command; a live one stays', async () => {
  const root = tempDir('concurrency-abandoned')
  execFileSync('cp', ['-a', `${template}/.`, root])
  const dir = path.join(root, 'var/lib/nullspace')
  // A pid that surely belongs to no process: a child that has already exited.
  const dead = spawn('true')
  await new Promise((r) => dead.on('exit', r))
  const abandoned = path.join(dir, `lock.${dead.pid}.new`)
  const live = path.join(dir, `lock.${process.pid}.new`) // this test runner: alive, so not touched
  for (const f of [abandoned, live]) fs.writeFileSync(f, `${JSON.stringify({ pid: 1, start_time: '1', command: 'install' })}\n`)
  const r = await runCli(['install', '--manifest', A.manifest, '--root', root, '--quiet'], { timeoutMs: 60_000 })
  assert.is(r.code, 0, r.stderr)
  assert.not.ok(fs.existsSync(abandoned), `${abandoned} of a process that is gone is removed`)
  assert.ok(fs.existsSync(live), `${live} of a live process stays`)
})

test.run()
