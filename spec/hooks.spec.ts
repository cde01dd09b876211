// Post-switch hooks run as root: through the real CLI on temp roots, a hook runs only when it
// and every directory from it up to --root are owned by root (or the invoking uid) and not
// writable by group or other, and its name is a run-parts name; an unsafe hook refuses the
// operation before anything changes and `doctor` names it. A hook's whole process group is
// killed at --hook-timeout and when the tool itself is stopped by SIGTERM.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fs from 'node:fs'
import path from 'node:path'
import { spawn } from 'node:child_process'
import { tempDir } from './helpers/tmp.js'
import { CLI } from './helpers/cli.js'
import { layout } from '../lib/layout.js'
import { readHookDir } from '../state/hooks.js'
import { HOOKS, activeView, addHook, cli, currentOf, exits, hookLog, installedRoot, loggingHook, ok, upgrade, within, upgradePair } from './helpers/hosts.js'

const T = 60_000

const releases = upgradePair

const doctorProblems = async (root: string) => {
  const r = await cli(['doctor', '--json', '--root', root])
  return { code: r.code, problems: (JSON.parse(r.stdout) as { problems: string[] }).problems }
}

/** r1 installed, a logging hook planted, then `spoil` makes it unsafe: the upgrade is refused before any change, doctor says why. */
async function refused(what: string, spoil: (root: string, hooks: string, log: string) => void, expect: { path: (root: string) => string; fix: string }): Promise<void> {
  const { r1, r2 } = await releases()
  const root = await installedRoot(r1)
  const log = path.join(tempDir('hooklog'), 'calls')
  loggingHook(root, '10-log', log)
  spoil(root, path.join(root, HOOKS), log)
  const before = activeView(root)
  const r = exits(await upgrade(root, r2, '--skip-ingress-smoke'), 1, what)
  const where = expect.path(root)
  assert.ok(r.stderr.includes(where), `${what}: stderr names ${where}: ${r.stderr}`)
  assert.ok(r.stderr.includes(expect.fix), `${what}: stderr says ${expect.fix}: ${r.stderr}`)
  assert.match(r.stderr, /Nothing was changed/)
  assert.is(currentOf(root), 'r1', `${what}: no switch`)
  assert.equal(activeView(root), before, `${what}: the active state is as it was`)
  assert.equal(hookLog(log), [], `${what}: no hook ran`)
  const d = await doctorProblems(root)
  assert.is(d.code, 1, `${what}: doctor exits 1`)
  assert.ok(d.problems.some((p) => p.includes(where) && p.includes(expect.fix)), `${what}: doctor names ${where}: ${d.problems.join(' | ')}`)
}

test('a hook in a post-switch.d of mode 0777 does not run: the upgrade is refused and doctor names the directory', () =>
  within(T, 'world-writable hooks dir', refused('hooks dir 0777', (_root, hooks) => fs.chmodSync(hooks, 0o777), { path: (root) => path.join(root, HOOKS), fix: 'chmod go-w' })))

test('a world-writable hook file does not run', () =>
  within(T, 'world-writable hook', refused('hook 0777', (_root, hooks) => fs.chmodSync(path.join(hooks, '10-log'), 0o777), { path: (root) => path.join(root, HOOKS, '10-log'), fix: 'chmod go-w' })))

test('a hook under a group-writable etc/nullspace/hooks does not run', () =>
  within(T, 'group-writable parent', refused('parent 0775', (root) => fs.chmodSync(path.join(root, 'etc/nullspace/hooks'), 0o775), { path: (root) => path.join(root, 'etc/nullspace/hooks'), fix: 'chmod go-w' })))

test('a hook owned by another uid does not run', () =>
  within(T, 'foreign owner', refused('hook owned by 65534', (_root, hooks) => fs.chownSync(path.join(hooks, '10-log'), 65534, 65534), { path: (root) => path.join(root, HOOKS, '10-log'), fix: 'chown root' })))

test('a hook that is a symlink to a file outside the root does not run', () =>
  within(T, 'symlink outside', (async () => {
    let target = ''
    await refused(
      'hook -> /tmp',
      (_root, hooks, log) => {
        target = path.join(tempDir('elsewhere'), 'evil')
        fs.writeFileSync(target, `#!/bin/sh\necho evil >> '${log}'\n`, { mode: 0o755 })
        fs.symlinkSync(target, path.join(hooks, '20-evil'))
      },
      { path: (root) => path.join(root, HOOKS, '20-evil'), fix: 'outside' },
    )
  })()))

test('a hook that is a symlink to a safe file under the root runs', () =>
  within(T, 'symlink inside', (async () => {
    const { r1, r2 } = await releases()
    const root = await installedRoot(r1)
    const log = path.join(tempDir('hooklog'), 'calls')
    loggingHook(root, '10-log', log)
    const scripts = path.join(root, 'etc/nullspace/hook-scripts')
    fs.mkdirSync(scripts, { mode: 0o755 })
    fs.renameSync(path.join(root, HOOKS, '10-log'), path.join(scripts, '10-log'))
    fs.symlinkSync('../../hook-scripts/10-log', path.join(root, HOOKS, '10-log'))
    ok(await upgrade(root, r2, '--skip-ingress-smoke'), 'upgrade with a linked hook')
    assert.equal(hookLog(log).map((c) => `${c.name} ${c.operation}`), ['10-log upgrade'])
  })()))

test('only run-parts names run: .hidden, x~, x.dpkg-old and x.disabled are left alone, and are no problem', () =>
  within(T, 'run-parts names', (async () => {
    const { r1, r2 } = await releases()
    const root = await installedRoot(r1)
    const log = path.join(tempDir('hooklog'), 'calls')
    for (const name of ['10-log', '.hidden', '20-log~', '30-log.dpkg-old', '40-log.disabled', '50_Log']) loggingHook(root, name, log)
    ok(await upgrade(root, r2, '--skip-ingress-smoke'), 'upgrade')
    assert.equal(hookLog(log).map((c) => c.name), ['10-log', '50_Log'])
    const d = await doctorProblems(root)
    assert.equal(d.problems, [], 'doctor finds no problem')
  })()))

test('with --root / (the default) the rule still reaches up to /: hooks kept under /tmp (mode 1777) are unsafe', async () => {
  // Reads only: a hook directory in a temp dir, named as a host path under the root /.
  const dir = path.join(tempDir('hooks-under-slash'), 'post-switch.d')
  fs.mkdirSync(dir, { mode: 0o755 })
  fs.writeFileSync(path.join(dir, '10-ok'), '#!/bin/sh\nexit 0\n', { mode: 0o755 })
  const read = await readHookDir(layout('/'), dir)
  assert.ok(read.unsafe.some((u) => u.path === '/tmp' && u.problem.includes('chmod go-w /tmp')), JSON.stringify(read.unsafe))
  assert.not.ok(read.unsafe.some((u) => u.path === '/'), 'the root itself is the operator\'s business')
  assert.equal(read.runnable, [], 'no hook of a directory others could change may run, safe as the hook itself is')
})

/** Pids whose command line is exactly `sleep <n>` (zombies have an empty command line: they are gone). */
function sleepers(n: number): number[] {
  const found: number[] = []
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8') === `sleep\0${n}\0`) found.push(Number(pid))
    } catch {
      // exited meanwhile
    }
  }
  return found
}

/** Waits (with a deadline) until no `sleep <n>` is left; returns what is left then. */
async function sleepersGone(n: number, ms = 3000): Promise<number[]> {
  const until = Date.now() + ms
  for (;;) {
    const left = sleepers(n)
    if (left.length === 0 || Date.now() > until) return left
    await new Promise((r) => setTimeout(r, 50))
  }
}

const unique = () => 4_240_000 + Math.floor(Math.random() * 9_999) * 10 + (process.pid % 10)

test('a hook cut off at --hook-timeout takes its background children with it', () =>
  within(T, 'hook group killed on timeout', (async () => {
    const { r1, r2 } = await releases()
    const root = await installedRoot(r1)
    const n = unique()
    addHook(root, '50-slow', `#!/bin/sh\n[ "$NULLSPACE_OPERATION" = upgrade ] || exit 0\nsleep ${n} &\nsleep ${n + 1}\n`)
    try {
      const r = exits(await upgrade(root, r2, '--skip-ingress-smoke', '--hook-timeout', '1'), 1, 'upgrade with a slow hook')
      assert.match(r.stderr, /50-slow/)
      assert.equal(await sleepersGone(n), [], `no sleep ${n} left behind`)
      assert.equal(await sleepersGone(n + 1), [], `no sleep ${n + 1} left behind`)
    } finally {
      for (const pid of [...sleepers(n), ...sleepers(n + 1)]) process.kill(pid, 'SIGKILL')
    }
  })()))

test('SIGTERM to the tool while a hook runs kills the hook and its children', () =>
  within(T, 'hook group killed on SIGTERM', (async () => {
    const { r1, r2 } = await releases()
    const root = await installedRoot(r1)
    const n = unique()
    const started = path.join(tempDir('hookmark'), 'started')
    addHook(root, '50-slow', `#!/bin/sh\n[ "$NULLSPACE_OPERATION" = upgrade ] || exit 0\nsleep ${n} &\ntouch '${started}'\nsleep ${n + 1}\n`)
    try {
      const child = spawn(process.execPath, [CLI, 'upgrade', '--root', root, '--manifest', r2.manifest, '--skip-ingress-smoke', '--hook-timeout', '60'], {
        env: { ...process.env, NO_COLOR: '1', NULLSPACE_ROOT: '' },
        stdio: ['ignore', 'ignore', 'pipe'],
      })
      let stderr = ''
      child.stderr.on('data', (d) => (stderr += d))
      // 'exit', not 'close': a child left behind would hold stderr open.
      const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code)))
      const until = Date.now() + 20_000
      while (!fs.existsSync(started) && Date.now() < until) await new Promise((r) => setTimeout(r, 50))
      assert.ok(fs.existsSync(started), `the hook started: ${stderr}`)
      child.kill('SIGTERM')
      const how = await exited
      assert.is(how, 'SIGTERM', `the tool died of the signal it was sent: ${stderr}`)
      assert.equal(await sleepersGone(n), [], `no sleep ${n} left behind`)
      assert.equal(await sleepersGone(n + 1), [], `no sleep ${n + 1} left behind`)
    } finally {
      for (const pid of [...sleepers(n), ...sleepers(n + 1)]) process.kill(pid, 'SIGKILL')
    }
  })()))

test.run()
