// What an operator sees while a change runs (issue 21, items 9-11): a wait that may last (the
// ingress smoke, a slow hook) says what it waits for and how long at most, then a line per notice
// interval on stderr (NULLSPACE_TEST_WAIT_NOTICE_MS shortens the 10 s to 1 s here); Ctrl-C says
// where the host stands and that the same command resumes, and the shell sees 130; step lines give
// sizes as `releases list` does. All through the real CLI on temp roots.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import path from 'node:path'
import { CLI, json, runProcess } from './helpers/cli.js'
import { tempDir } from './helpers/tmp.js'
import { startFixtureIngress } from './helpers/fixture-ingress.js'
import { buildServedRelease, noise } from './helpers/artifacts.js'
import { startServer } from './helpers/server.js'
import { addHook, cli, currentOf, historyOf, install, installedRoot, makeRelease, ok, upgrade, within, type Rel } from './helpers/hosts.js'

const T = 60_000
const FAST_NOTICES = { env: { NULLSPACE_TEST_WAIT_NOTICE_MS: '1000' } }

let pair: Promise<{ r1: Rel; r2: Rel }> | undefined
const releases = () =>
  (pair ??= (async () => ({
    r1: await makeRelease({ id: 'r1', version: '0.1.0' }),
    r2: await makeRelease({ id: 'r2', version: '0.2.0', change: { 'nullspace-api': 'nullspace-api r2\n' } }),
  }))())

/** `upgrade` with the notice interval at 1 s. */
const upgradeNoticed = (root: string, rel: Rel, ...extra: string[]) => cli(['upgrade', '--root', root, '--manifest', rel.manifest, ...extra], FAST_NOTICES)

/** A hook that runs `seconds` during an upgrade (and not during the install before it). */
const slowHook = (root: string, seconds: number) => addHook(root, '50-slow', `#!/bin/sh\n[ "$NULLSPACE_OPERATION" = upgrade ] || exit 0\nsleep ${seconds}\n`)

test('a slow smoke and a slow hook say what they wait for and how long at most, then a line a notice interval, on stderr', () =>
  within(T, 'wait notices', (async () => {
    const { r1, r2 } = await releases()
    const ingress = await startFixtureIngress({ releaseId: 'r2' })
    try {
      const root = await installedRoot(r1)
      slowHook(root, 2.5)
      // Four refusals: the smoke's backoff (0.25 + 0.5 + 1 + 2 s) keeps it waiting past 3 s.
      ingress.answerFirst(4, { status: 503, body: 'starting' })
      const r = ok(await upgradeNoticed(root, r2, '--ingress-url', ingress.url, '--smoke-timeout', '20'), 'upgrade')
      assert.match(r.stderr, /^  post-switch hook 50-slow still running\.\.\. \[1s elapsed\] \(at most 120 s, --hook-timeout\)$/m, r.stderr)
      assert.match(r.stderr, /^  post-switch hook 50-slow still running\.\.\. \[2s elapsed\]/m, r.stderr)
      const start = `  waiting for ${ingress.url}.well-known/nullspace/ingress-fixture to answer release r2 (at most 20 s, --smoke-timeout)`
      assert.ok(r.stderr.split('\n').includes(start), `the smoke says what it waits for:\n${r.stderr}`)
      assert.match(r.stderr, /^  still waiting for the ingress fixture to answer r2\.\.\. \[1s elapsed\]$/m, r.stderr)
      assert.match(r.stderr, /^  still waiting for the ingress fixture to answer r2\.\.\. \[2s elapsed\]$/m, r.stderr)
      assert.not.match(r.stdout, /waiting|still running/, 'nothing of it on stdout')
    } finally {
      await ingress.close()
    }
  })()))

test('--quiet says nothing of a wait; --json keeps stdout one document (the notices are on stderr)', () =>
  within(T, 'wait notices quiet/json', (async () => {
    const { r1, r2 } = await releases()
    const quietRoot = await installedRoot(r1)
    slowHook(quietRoot, 1.5)
    const quiet = ok(await upgradeNoticed(quietRoot, r2, '--skip-ingress-smoke', '--quiet'), 'upgrade --quiet')
    assert.not.match(quiet.stderr, /still running|waiting/, quiet.stderr)
    assert.is(quiet.stdout, '')
    const jsonRoot = await installedRoot(r1)
    slowHook(jsonRoot, 1.5)
    const asJson = ok(await upgradeNoticed(jsonRoot, r2, '--skip-ingress-smoke', '--json'), 'upgrade --json')
    assert.is(json(asJson).to, 'r2')
    assert.match(asJson.stderr, /post-switch hook 50-slow still running\.\.\. \[1s elapsed\]/)
  })()))

/** Runs `command` in the background of sh, waits (bounded) for `ready`, sends SIGINT, prints `exit=<status>` as the shell saw it. */
async function interrupted(command: string[], ready: string, env: NodeJS.ProcessEnv = {}) {
  const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`
  const script = `${[process.execPath, CLI, ...command].map(q).join(' ')} & pid=$!
    i=0; until [ -e ${q(ready)} ] || [ $i -ge 400 ]; do sleep 0.05; i=$((i+1)); done
    sleep 0.3; kill -INT $pid; wait $pid; echo "exit=$?"`
  return runProcess('sh', ['-c', script], { env, timeoutMs: T })
}

test('Ctrl-C after the switch (a hook runs): one line says the release is active and the same command finishes; exit 130; the rerun does', () =>
  within(T, 'SIGINT after switch', (async () => {
    const { r1, r2 } = await releases()
    const root = await installedRoot(r1)
    const mark = path.join(tempDir('hookmark'), 'started')
    addHook(root, '50-slow', `#!/bin/sh\n[ "$NULLSPACE_OPERATION" = upgrade ] || exit 0\n[ -e '${mark}' ] && exit 0\ntouch '${mark}'\nsleep 30\n`)
    const r = await interrupted(['upgrade', '--root', root, '--manifest', r2.manifest, '--skip-ingress-smoke'], mark)
    assert.match(r.stdout, /^exit=130$/m, `${r.stdout}\n${r.stderr}`)
    const lines = r.stderr.split('\n').filter((l) => /interrupted/.test(l))
    assert.equal(lines, ['nullspace-host: interrupted by SIGINT: release r2 is active but its activation did not finish; run the same command again to finish'], r.stderr)
    assert.is(currentOf(root), 'r2')
    ok(await upgrade(root, r2, '--skip-ingress-smoke'), 'the same command again')
    assert.equal(historyOf(root), ['install -->r1 ok', 'upgrade r1->r2 ok'])
  })()))

test('Ctrl-C before the switch (a download runs): one line says nothing was switched and the same command resumes; exit 130', () =>
  within(T, 'SIGINT before switch', (async () => {
    const server = await startServer()
    try {
      const rel = await buildServedRelease(server, { releaseId: '2026.07.01', contents: { 'rootfs.ext4': noise(512 * 1024, 5) } })
      server.setFault('/2026.07.01/rootfs.ext4', 'slow-drip', { dripBytes: 8 * 1024, dripMs: 100 })
      const root = tempDir('sigint-root')
      const parts = path.join(root, 'opt/nullspace/releases/.staging/parts')
      const args = ['install', '--allow-http', '--root', root, '--manifest', rel.manifest]
      // The first part file appears once the download has started.
      const q = (s: string) => `'${s}'`
      const script = `${[process.execPath, CLI, ...args].map(q).join(' ')} & pid=$!
        i=0; until ls ${q(parts)}/*.part >/dev/null 2>&1 || [ $i -ge 400 ]; do sleep 0.05; i=$((i+1)); done
        sleep 0.3; kill -INT $pid; wait $pid; echo "exit=$?"`
      const r = await runProcess('sh', ['-c', script], { timeoutMs: T })
      assert.match(r.stdout, /^exit=130$/m, `${r.stdout}\n${r.stderr}`)
      assert.ok(
        r.stderr.split('\n').includes('nullspace-host: interrupted by SIGINT: nothing was switched, no release is active; run the same command again to resume'),
        r.stderr,
      )
      assert.is(currentOf(root), null)
      server.setFault('/2026.07.01/rootfs.ext4', null)
      ok(await cli(args), 'the same command again')
      assert.is(currentOf(root), '2026.07.01')
    } finally {
      await server.close()
    }
  })()))

test('step lines give sizes as releases list does (1.5 KiB), not raw byte counts', () =>
  within(T, 'human sizes', (async () => {
    const rel = await makeRelease({ id: 'r9', change: { 'rootfs.ext4': noise(1536, 4) } })
    const root = tempDir('sizes-root')
    const r = ok(await install(root, rel), 'install')
    assert.match(r.stdout, /done fetch:rootfs {2}1\.5 KiB$/m, r.stdout)
    assert.not.match(r.stdout, /\d bytes/, r.stdout)
  })()))

test.run()
