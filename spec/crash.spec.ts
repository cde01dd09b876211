// Crash injection (ARCHITECTURE.md section 4, invariants 1 and 9): the executor kills itself with
// SIGKILL at every step boundary of install, upgrade and rollback, and in the middle of
// downloads. After each crash `current` is absent or a complete sealed release, the same
// command again exits 0, doctor --deep is clean, nothing is left behind, and no byte is
// fetched twice.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fs from 'node:fs'
import path from 'node:path'
import { execFileSync } from 'node:child_process'
import { json, runCli, type CliResult } from './helpers/cli.js'
import { tempDir } from './helpers/tmp.js'
import { buildServedRelease, noise } from './helpers/artifacts.js'
import { startServer, type TestServer } from './helpers/server.js'
import { RELEASES, currentIsSafe, deepDoctorProblems, leftovers, startIngressFixture } from './helpers/hosts.js'
import { isTempName } from '../lib/fsx.js'

const A_ID = '2026.06.10'
const B_ID = '2026.06.11'
const ROOTFS = 3 * 1024 * 1024 + 7
let server: TestServer
let A: Awaited<ReturnType<typeof buildServedRelease>>
let B: Awaited<ReturnType<typeof buildServedRelease>>
const tally = { points: 0, broken: 0 }

const cli = (args: string[], root: string, env: NodeJS.ProcessEnv = {}) => runCli([...args, '--root', root, '--allow-http', '--quiet'], { env, timeoutMs: 60_000 })
const crashAt = (n: number) => ({ NULLSPACE_TEST_CRASH_AT_STEP: String(n) })
const ok = (r: CliResult, what: string) => assert.is(r.code, 0, `${what}: exit ${r.code} ${r.signal ?? ''}\n${r.stderr}`)

async function stepCount(args: string[], root: string): Promise<string[]> {
  const r = await cli([...args, '--json'], root)
  return json<{ steps: { id: string }[] }>(r).steps.map((s) => s.id)
}

/** Every check of a crash point; counts a point as broken when any fails. */
async function afterRerun(root: string, expectCurrent: string, what: string): Promise<void> {
  tally.points++
  try {
    assert.is(currentIsSafe(root), expectCurrent, `${what}: current`)
    assert.equal(await deepDoctorProblems(root), [], `${what}: doctor --deep`)
    assert.equal(leftovers(root), [], `${what}: leftovers`)
  } catch (e) {
    tally.broken++
    throw e
  }
}

/** A root with `ids` installed in order, copied with hard links and symlinks intact. */
const template = new Map<string, string>()
async function rootWith(manifests: string[]): Promise<string> {
  const key = manifests.join('|')
  if (!template.has(key)) {
    const t = tempDir('template')
    // B changes the migration bundle on purpose; the migration guard is backup-guard.spec's business.
    for (const m of manifests) ok(await cli(['install', '--manifest', m, '--no-backup-check'], t), `install ${m}`)
    template.set(key, t)
  }
  const root = tempDir('crash')
  execFileSync('cp', ['-a', `${template.get(key)}/.`, root])
  return root
}

test.before(async () => {
  server = await startServer()
  A = await buildServedRelease(server, { releaseId: A_ID, version: '0.1.0', contents: { 'rootfs.ext4': noise(ROOTFS, 1), 'migrations.tar.gz': 'migrations v1\n' } })
  B = await buildServedRelease(server, { releaseId: B_ID, version: '0.2.0', contents: { 'rootfs.ext4': noise(ROOTFS, 1), 'nullspace-api': noise(200_000, 2), 'migrations.tar.gz': 'migrations v2\n' } })
})

test.after(async () => {
  await server.close()
  console.log(`  crash points tried: ${tally.points}, left a broken state: ${tally.broken}`)
})

test('install killed at every step boundary converges on rerun, fetching each byte once', async () => {
  const steps = await stepCount(['plan', '--manifest', A.manifest], tempDir('plan'))
  assert.ok(steps.length >= 20, `install has ${steps.length} steps`)
  for (let n = 1; n <= steps.length + 1; n++) {
    const root = tempDir('crash')
    const before = server.bytesSent()
    const first = await cli(['install', '--manifest', A.manifest], root, crashAt(n))
    assert.is(first.signal, 'SIGKILL', `boundary ${n} (${steps[n - 1] ?? 'end'}): the seam must kill`)
    const current = currentIsSafe(root)
    assert.ok(current === null || current === A_ID)
    ok(await cli(['install', '--manifest', A.manifest], root), `rerun after boundary ${n}`)
    assert.is(server.bytesSent() - before, A.totalBytes, `boundary ${n}: bytes fetched over both runs`)
    await afterRerun(root, A_ID, `install boundary ${n} (${steps[n - 1] ?? 'end'})`)
  }
})

test('install killed in the middle of downloads resumes and fetches only the missing bytes', async () => {
  for (const after of [1, 64 * 1024, ROOTFS / 2, ROOTFS + 50]) {
    const root = tempDir('crash')
    const first = await cli(['install', '--manifest', A.manifest], root, { NULLSPACE_TEST_CRASH_AFTER_BYTES: String(Math.floor(after)) })
    assert.is(first.signal, 'SIGKILL', `after ${after} bytes`)
    assert.ok([null, A_ID].includes(currentIsSafe(root)))
    const have = bytesOnDisk(path.join(root, RELEASES, '.staging'))
    const before = server.bytesSent()
    ok(await cli(['install', '--manifest', A.manifest], root), `rerun after ${after} bytes`)
    assert.is(server.bytesSent() - before, A.totalBytes - have, `after ${after} bytes: the rerun fetches exactly what was missing`)
    await afterRerun(root, A_ID, `install after ${after} bytes`)
  }
})

test('upgrade killed at every step boundary: the rerun finishes it and never flips back', async () => {
  const probe = await rootWith([A.manifest])
  const ingress = await startIngressFixture(probe)
  const steps = await stepCount(['upgrade', '--dry-run', '--manifest', B.manifest, '--ingress-url', ingress.url, '--no-backup-check'], probe)
  await ingress.close()
  assert.ok(steps.includes(`switch:${B_ID}`))
  for (let n = 1; n <= steps.length + 1; n++) {
    const root = await rootWith([A.manifest])
    installHook(root)
    const fixture = await startIngressFixture(root)
    try {
      const args = ['upgrade', '--manifest', B.manifest, '--ingress-url', fixture.url, '--smoke-timeout', '10', '--no-backup-check']
      const first = await cli(args, root, crashAt(n))
      assert.is(first.signal, 'SIGKILL', `boundary ${n}`)
      const switched = steps.indexOf(`switch:${B_ID}`) + 1 < n
      assert.is(currentIsSafe(root), switched ? B_ID : A_ID, `boundary ${n}: current after the crash`)
      ok(await cli(args, root), `upgrade rerun after boundary ${n}`)
      await afterRerun(root, B_ID, `upgrade boundary ${n} (${steps[n - 1] ?? 'end'})`)
      const state = JSON.parse(fs.readFileSync(path.join(root, 'var/lib/nullspace/state.json'), 'utf8'))
      assert.is(state.history.at(-1).to, B_ID)
      assert.is(state.history.filter((h: { op: string }) => h.op === 'upgrade').length, 1, `boundary ${n}: one upgrade recorded`)
      const log = fs.readFileSync(path.join(root, 'hooks.log'), 'utf8').trim().split('\n')
      assert.ok(log.at(-1)?.startsWith(`upgrade ${B_ID} ${A_ID}`), `boundary ${n}: hooks ran for the upgrade: ${log.join(' | ')}`)
    } finally {
      await fixture.close()
    }
  }
})

test('rollback killed at every step boundary: the rerun finishes it and does not flip back', async () => {
  const steps = await rollbackSteps()
  assert.ok(steps >= 4, `rollback has ${steps} steps`)
  for (let n = 1; n <= steps + 1; n++) {
    const root = await rootWith([A.manifest, B.manifest])
    const first = await cli(['rollback'], root, crashAt(n))
    assert.is(first.signal, 'SIGKILL', `boundary ${n}`)
    assert.ok([A_ID, B_ID].includes(currentIsSafe(root) ?? ''))
    const rerun = await cli(['rollback', '--json'], root)
    ok(rerun, `rollback rerun after boundary ${n}`)
    await afterRerun(root, A_ID, `rollback boundary ${n}`)
  }
})

/** Steps of a rollback from B to A: counted by running one to completion on a copy. */
async function rollbackSteps(): Promise<number> {
  const root = await rootWith([A.manifest, B.manifest])
  for (let n = 1; ; n++) {
    const copy = tempDir('count')
    execFileSync('cp', ['-a', `${root}/.`, copy])
    const r = await cli(['rollback'], copy, crashAt(n))
    if (r.signal !== 'SIGKILL') return n - 2
  }
}

function installHook(root: string): void {
  const dir = path.join(root, 'etc/nullspace/hooks/post-switch.d')
  fs.mkdirSync(dir, { recursive: true })
  fs.writeFileSync(path.join(dir, '10-log'), '#!/bin/sh\necho "$NULLSPACE_OPERATION $NULLSPACE_RELEASE_ID $NULLSPACE_PREVIOUS_RELEASE_ID" >> "$NULLSPACE_ROOT/hooks.log"\n', { mode: 0o755 })
}

/** Bytes of regular files below `dir` (parts and staged files a rerun can reuse). */
/** Artifact bytes under dir: part files and staged artifacts, not metadata or the temp file of one being written. */
function bytesOnDisk(dir: string): number {
  if (!fs.existsSync(dir)) return 0
  return (fs.readdirSync(dir, { recursive: true }) as string[])
    .map((name) => path.join(dir, name))
    .filter((p) => fs.lstatSync(p).isFile() && !p.endsWith('.json') && !isTempName(path.basename(p)))
    .reduce((n, p) => n + fs.statSync(p).size, 0)
}

test.run()
