// A reader that goes away (`upgrade | head -1`, a closed terminal) must not interrupt a change:
// the tool stops printing, finishes, and exits with the outcome's code. Each test runs the real
// CLI with its stdout (or stderr) pipe closed by the reader before the tool writes a byte.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fs from 'node:fs'
import path from 'node:path'
import { spawn } from 'node:child_process'
import { CLI } from './helpers/cli.js'
import { RELEASES, addHook, currentOf, historyOf, installedRoot, leftovers, upgradePair, within } from './helpers/hosts.js'
import { tempDir } from './helpers/tmp.js'

const T = 60_000

const releases = upgradePair

interface Closed {
  code: number | null
  signal: NodeJS.Signals | null
  /** What the stream left open said. */
  said: string
}

/** Runs the CLI with `closed` (stdout or stderr) destroyed at once by its reader, as `| head -c0` would. */
function runWithClosed(closed: 'stdout' | 'stderr', args: string[]): Promise<Closed> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, NO_COLOR: '1', NULLSPACE_ROOT: '' }, stdio: ['ignore', 'pipe', 'pipe'] })
    child[closed].destroy()
    let said = ''
    child[closed === 'stdout' ? 'stderr' : 'stdout'].on('data', (d) => (said += d))
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${args.join(' ')}: no exit within ${T} ms\n${said}`))
    }, T)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, said })
    })
  })
}

const STACK = /^\s+at .+:\d+:\d+\)?$|EPIPE|node:internal/m

test('upgrade with stdout closed by its reader completes: r2 sealed and current, lock released, no staging, exit 0, no stack trace', () =>
  within(T, 'upgrade, stdout closed', (async () => {
    const { r1, r2 } = await releases()
    const root = await installedRoot(r1)
    const r = await runWithClosed('stdout', ['upgrade', '--root', root, '--manifest', r2.manifest, '--skip-ingress-smoke'])
    assert.is(r.code, 0, `exit ${r.code} (${r.signal}); stderr:\n${r.said}`)
    assert.not.match(r.said, STACK, `no stack trace on stderr:\n${r.said}`)
    assert.is(currentOf(root), 'r2')
    assert.ok(fs.existsSync(path.join(root, RELEASES, 'r2', '.nullspace-release.json')), 'r2 is sealed')
    assert.equal(leftovers(root), [], 'no staging, no temp link, no live lock holder')
    assert.equal(historyOf(root).at(-1), 'upgrade r1->r2 ok')
  })()))

test('install with stdout closed by its reader completes and exits 0', () =>
  within(T, 'install, stdout closed', (async () => {
    const { r1 } = await releases()
    const root = tempDir('closed-stdout')
    const r = await runWithClosed('stdout', ['install', '--root', root, '--manifest', r1.manifest])
    assert.is(r.code, 0, `exit ${r.code} (${r.signal}); stderr:\n${r.said}`)
    assert.not.match(r.said, STACK)
    assert.is(currentOf(root), 'r1')
    assert.equal(leftovers(root), [])
  })()))

test('a failing command with stderr closed still exits with its code', () =>
  within(T, 'stderr closed', (async () => {
    const { r1 } = await releases()
    const root = await installedRoot(r1)
    // r1 is current: a downgrade-free no-op would not write to stderr; a missing manifest does.
    const r = await runWithClosed('stderr', ['upgrade', '--root', root, '--manifest', path.join(root, 'no-such-manifest.json')])
    assert.is(r.code, 65, `exit ${r.code} (${r.signal})`)
    assert.is(currentOf(root), 'r1')
  })()))

test('upgrade with stderr closed completes and exits 0, its hooks writing to stderr too', () =>
  within(T, 'upgrade, stderr closed', (async () => {
    const { r1, r2 } = await releases()
    const root = await installedRoot(r1)
    // A hook's output goes to the tool's stderr: a hook killed by SIGPIPE would fail the activation and roll back.
    addHook(root, '10-talk', '#!/bin/sh\nfor i in 1 2 3; do echo "hook says $i" >&2; echo "hook says $i"; sleep 0.1; done\n')
    const r = await runWithClosed('stderr', ['upgrade', '--root', root, '--manifest', r2.manifest, '--skip-ingress-smoke'])
    assert.is(r.code, 0, `exit ${r.code} (${r.signal})`)
    assert.is(currentOf(root), 'r2')
    assert.equal(leftovers(root), [])
  })()))

test.run()
