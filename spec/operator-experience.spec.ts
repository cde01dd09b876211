// Issue 21 through the real CLI on temp roots: what a new operator of a production host tried and
// expected. A `doctor --deep` finding leads to a repair; a dry run refuses where the real run
// refuses; plan/apply take the release-rule flags they advise; a running install is "in progress",
// not "interrupted"; a rollback whose hook fails says where the host stands; `manifest build` warns
// of http: and names every missing artifact; every failure under --json is one document; a held
// lock is exit 75.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fs from 'node:fs'
import path from 'node:path'
import { execFileSync } from 'node:child_process'
import { processStartTime } from '../state/lock.js'
import { tempDir } from './helpers/tmp.js'
import {
  RELEASES, addHook, cli, currentOf, exits, install, installedRoot, makeRelease, ok, rollback, upgrade, within, type Rel,
} from './helpers/hosts.js'
import type { CliResult } from './helpers/cli.js'

const T = 90_000
const LOCK = 'var/lib/nullspace/lock'

let pair: Promise<{ r1: Rel; r2: Rel }> | undefined
const releases = () =>
  (pair ??= (async () => ({
    r1: await makeRelease({ id: 'r1', version: '0.1.0' }),
    r2: await makeRelease({ id: 'r2', version: '0.2.0', change: { 'nullspace-api': 'nullspace-api r2\n' } }),
  }))())

/** The lock file as a live holder (this spec's own process) writes it. */
function holdLock(root: string): void {
  fs.mkdirSync(path.join(root, path.dirname(LOCK)), { recursive: true })
  fs.writeFileSync(path.join(root, LOCK), `${JSON.stringify({ pid: process.pid, start_time: processStartTime(process.pid), command: 'install' })}\n`)
}

interface ErrorDocument {
  ok: false
  error: { code: string; message: string; exit: number }
}

/** stdout is exactly one JSON document with ok false and an error object whose exit is the process's. */
function failureDocument(r: CliResult, what: string): ErrorDocument & Record<string, unknown> {
  let doc: ErrorDocument & Record<string, unknown>
  try {
    doc = JSON.parse(r.stdout)
  } catch {
    throw new Error(`${what}: stdout is not one JSON document (exit ${r.code}):\n${r.stdout}\nstderr: ${r.stderr}`)
  }
  assert.is(doc.ok, false, `${what}: ok`)
  assert.type(doc.error, 'object', `${what}: error object in ${r.stdout}`)
  assert.type(doc.error.code, 'string', `${what}: error.code`)
  assert.ok(/^[a-z_]+$/.test(doc.error.code), `${what}: error.code ${doc.error.code} is a short stable string`)
  assert.type(doc.error.message, 'string', `${what}: error.message`)
  assert.is(doc.error.exit, r.code, `${what}: error.exit is the exit code`)
  assert.ok(r.stderr.trim().length > 0, `${what}: stderr keeps its line`)
  return doc
}

test('a byte changed under an unchanged size and mtime: doctor --deep finds it, its advice repairs it, doctor --deep is clean', () =>
  within(T, 'deep repair', (async () => {
    const { r1 } = await releases()
    const root = await installedRoot(r1)
    const file = path.join(root, RELEASES, 'r1', 'bin/nullspace-api')
    const times = path.join(tempDir('times'), 'ref')
    fs.writeFileSync(times, '')
    execFileSync('touch', ['-r', file, times])
    const before = fs.statSync(file)
    const fd = fs.openSync(file, 'r+')
    fs.writeSync(fd, Buffer.from('X'), 0, 1, 0)
    fs.closeSync(fd)
    execFileSync('touch', ['-r', times, file])
    const after = fs.statSync(file)
    assert.equal([after.size, after.mtimeMs, after.ino], [before.size, before.mtimeMs, before.ino], 'size, mtime and inode kept')

    const found = exits(await cli(['doctor', '--deep', '--root', root]), 1, 'doctor --deep')
    const advice = /run (install --manifest M --deep)/.exec(found.stdout + found.stderr)
    assert.ok(advice, `doctor --deep names the repair that works: ${found.stdout}${found.stderr}`)
    const plain = ok(await install(root, r1), 'install without --deep')
    assert.match(plain.stdout, /No changes/, 'a stat check alone does not see it (why --deep is needed)')

    const repaired = ok(await install(root, r1, '--deep'), 'install --deep')
    assert.match(repaired.stdout, /repair:api/)
    assert.is(fs.readFileSync(file, 'utf8'), r1.files['nullspace-api'].toString())
    ok(await cli(['doctor', '--deep', '--root', root]), 'doctor --deep after the repair')
    const again = ok(await cli(['apply', '--manifest', r1.manifest, '--deep', '--root', root]), 'apply --deep on a clean host')
    assert.match(again.stdout, /No changes/)
  })()))

test('upgrade --dry-run on a host with nothing installed refuses like the real upgrade, with the same message', () =>
  within(T, 'dry run on empty host', (async () => {
    const { r2 } = await releases()
    const root = tempDir('root')
    const dry = exits(await upgrade(root, r2, '--skip-ingress-smoke', '--dry-run'), 1, 'upgrade --dry-run')
    assert.is(fs.readdirSync(root).length, 0, 'the dry run wrote nothing')
    const real = exits(await upgrade(root, r2, '--skip-ingress-smoke'), 1, 'upgrade')
    assert.is(dry.stderr, real.stderr)
    assert.match(dry.stderr, /install --manifest M first/)
    assert.is(currentOf(root), null)
  })()))

test('plan and apply take the release-rule flags they advise (--allow-downgrade)', () =>
  within(T, 'plan/apply downgrade', (async () => {
    const { r1, r2 } = await releases()
    const root = await installedRoot(r2)
    const refused = exits(await cli(['plan', '--manifest', r1.manifest, '--root', root]), 1, 'plan of a downgrade')
    assert.match(refused.stdout + refused.stderr, /--allow-downgrade/)
    const planned = ok(await cli(['plan', '--manifest', r1.manifest, '--allow-downgrade', '--json', '--root', root]), 'plan --allow-downgrade')
    assert.equal(JSON.parse(planned.stdout).blockers, [])
    exits(await cli(['apply', '--manifest', r1.manifest, '--root', root]), 1, 'apply of a downgrade')
    assert.is(currentOf(root), 'r2')
    ok(await cli(['apply', '--manifest', r1.manifest, '--allow-downgrade', '--accept-snapshot-format-change', '--root', root]), 'apply --allow-downgrade')
    assert.is(currentOf(root), 'r1')
  })()))

test('doctor during a running install says it is in progress (pid, since), not interrupted', () =>
  within(T, 'doctor while installing', (async () => {
    const { r1 } = await releases()
    const root = tempDir('root')
    const gate = path.join(tempDir('gate'), 'go')
    // The hook waits (at most 20 s) for the spec to let it go.
    addHook(root, '10-wait', `#!/bin/sh\ni=0\nwhile [ ! -e '${gate}' ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i+1)); done\n`)
    const running = install(root, r1)
    try {
      const deadline = Date.now() + 20_000
      while (!fs.existsSync(path.join(root, 'var/lib/nullspace/journal.json')) || !fs.existsSync(path.join(root, 'etc/nullspace/appliance.env'))) {
        if (Date.now() > deadline) throw new Error('the install never reached its hooks')
        await new Promise((r) => setTimeout(r, 50))
      }
      const holder = JSON.parse(fs.readFileSync(path.join(root, LOCK), 'utf8')) as { pid: number }
      const d = exits(await cli(['doctor', '--json', '--root', root]), 1, 'doctor during the install')
      const problems = (JSON.parse(d.stdout) as { problems: string[] }).problems.join('\n')
      assert.match(problems, new RegExp(`install to r1 is in progress \\(pid ${holder.pid}, since \\d{4}-`))
      assert.not.match(problems, /run the same command again/)
    } finally {
      fs.writeFileSync(gate, '')
      ok(await running, 'the install')
    }
    ok(await cli(['doctor', '--root', root]), 'doctor after the install')
  })()))

test('a rollback whose post-switch hook fails says the switch happened and how to finish; fixing the hook and rerunning finishes it', () =>
  within(T, 'rollback hook fails', (async () => {
    const { r1, r2 } = await releases()
    const root = await installedRoot(r1)
    ok(await upgrade(root, r2, '--skip-ingress-smoke'), 'upgrade to r2')
    addHook(root, '10-fail', '#!/bin/sh\nexit 3\n')
    const r = exits(await rollback(root), 1, 'rollback with a failing hook')
    assert.match(r.stderr, /Release r1 is active but not proven; fix the cause and run the same command again/)
    assert.equal(r.stderr.trim().split('\n').filter((l) => !l.startsWith('nullspace-host: warning:')).length, 1, 'one line besides warnings')
    assert.is(currentOf(root), 'r1')
    const j = exits(await rollback(root, '--json'), 1, 'the rerun with the hook still failing, --json')
    const doc = failureDocument(j, 'rollback --json')
    assert.is(doc.error.code, 'activation_failed')
    assert.is(doc.release_id, 'r1')
    fs.rmSync(path.join(root, 'etc/nullspace/hooks/post-switch.d/10-fail'))
    ok(await rollback(root), 'rollback again once the hook is fixed')
    assert.is(currentOf(root), 'r1')
    ok(await cli(['doctor', '--root', root]), 'doctor after finishing')
  })()))

test('manifest build warns that an http:// --base-url needs --allow-http on every host, and names every missing or empty artifact', () =>
  within(T, 'manifest build', (async () => {
    const { r1 } = await releases()
    const out = path.join(tempDir('out'), 'manifest.json')
    const base = ['manifest', 'build', '--output', out, '--release-id', 'b1', '--version', '0.1.0', '--arch', 'x86_64', '--source-revision', 'x', '--firecracker-version', 'v1.12.1', '--firecracker-commit', 'c', '--snapshot-data-format', 'f', '--kernel-identity', 'k']
    const http = ok(await cli([...base, '--artifact-dir', r1.dir, '--base-url', 'http://mirror.example/r1']), 'build with an http base URL')
    assert.match(http.stderr, /warning: .*http:.*--allow-http/)
    const https = ok(await cli([...base, '--artifact-dir', r1.dir, '--base-url', 'https://mirror.example/r1']), 'build with an https base URL')
    assert.is(https.stderr, '')

    const dir = tempDir('artifacts')
    for (const f of fs.readdirSync(r1.dir)) if (f !== 'manifest.json') fs.copyFileSync(path.join(r1.dir, f), path.join(dir, f))
    fs.rmSync(path.join(dir, 'vmlinux'))
    fs.rmSync(path.join(dir, 'jailer'))
    fs.writeFileSync(path.join(dir, 'rootfs.ext4'), '')
    const r = exits(await cli([...base, '--artifact-dir', dir]), 65, 'build with two missing and one empty artifact')
    for (const f of ['vmlinux', 'jailer', 'rootfs.ext4']) assert.match(r.stderr, new RegExp(`${f.replace('.', '\\.')}`), `names ${f}`)
    assert.not.ok(fs.existsSync(out.replace('manifest.json', 'x')))
  })()))

test('a held host lock is exit 75 (EX_TEMPFAIL) naming the holder, so scripts can retry', () =>
  within(T, 'host busy', (async () => {
    const { r1 } = await releases()
    const root = await installedRoot(r1)
    holdLock(root)
    const r = exits(await install(root, r1), 75, 'install while the lock is held')
    assert.match(r.stderr, new RegExp(`locked by pid ${process.pid}`))
    exits(await rollback(root, '--to', 'r1'), 75, 'rollback while the lock is held')
    const j = exits(await install(root, r1, '--json'), 75, 'install --json while the lock is held')
    assert.is(failureDocument(j, 'install --json busy').error.code, 'host_busy')
    fs.rmSync(path.join(root, LOCK))
  })()))

test('every failure under --json prints one document: ok false and error {code, message, exit}', () =>
  within(T, 'json failures', (async () => {
    const { r1, r2 } = await releases()
    const root = await installedRoot(r1)
    const empty = tempDir('empty')
    const bad = path.join(tempDir('bad'), 'manifest.json')
    fs.writeFileSync(bad, '{"schema_version": 1}')
    const planFile = path.join(tempDir('plan'), 'plan.json')
    ok(await cli(['plan', '--manifest', r2.manifest, '--out', planFile, '--root', root]), 'plan --out')
    ok(await upgrade(root, r2, '--skip-ingress-smoke'), 'upgrade, making the saved plan stale')
    const sick = await installedRoot(r1)
    fs.rmSync(path.join(sick, 'etc/nullspace/appliance.env'))

    const cases: [string, string[], number, string][] = [
      ['unknown flag', ['doctor', '--bogus', '--json', '--root', root], 64, 'usage'],
      ['unknown command', ['frobnicate', '--json'], 64, 'usage'],
      ['missing --manifest', ['install', '--json', '--root', root], 64, 'usage'],
      ['--root not a directory', ['doctor', '--json', '--root', path.join(empty, 'nope')], 64, 'usage'],
      ['manifest not found', ['install', '--manifest', path.join(empty, 'nope.json'), '--json', '--root', empty], 65, 'bad_manifest'],
      ['invalid manifest', ['manifest', 'validate', '--manifest', bad, '--json'], 65, 'bad_manifest'],
      ['stale saved plan', ['apply', planFile, '--json', '--root', root], 1, 'stale_plan'],
      ['nothing to roll back to', ['rollback', '--json', '--root', empty], 1, 'failed'],
      ['upgrade with nothing installed', ['upgrade', '--manifest', r2.manifest, '--skip-ingress-smoke', '--json', '--root', empty], 1, 'refused'],
      ['dry run with nothing installed', ['upgrade', '--manifest', r2.manifest, '--dry-run', '--json', '--root', empty], 1, 'refused'],
      ['doctor with a problem', ['doctor', '--json', '--root', sick], 1, 'problems'],
      ['a downgrade refused', ['plan', '--manifest', r1.manifest, '--json', '--root', root], 1, 'refused'],
      ['apply with neither a plan nor --manifest', ['apply', '--json', '--root', root], 64, 'usage'],
      ['a flag given twice', ['doctor', '--json', '--root', root, '--root', root], 64, 'usage'],
      ['a saved plan that is not one', ['apply', bad, '--json', '--root', root], 64, 'usage'],
      ['rollback --to an unknown release', ['rollback', '--to', 'nope', '--json', '--root', root], 1, 'failed'],
      ['launch-gate verify of a folder that is no run', ['launch-gate', 'verify', empty, '--json'], 1, 'launch_gate_failed'],
      ['manifest sign with a missing key', ['manifest', 'sign', '--manifest', r1.manifest, '--key', path.join(empty, 'nope.key'), '--json'], 64, 'usage'],
      ['build with no artifacts', ['manifest', 'build', '--artifact-dir', empty, '--output', path.join(empty, 'm.json'), '--release-id', 'x', '--version', '0.1.0', '--arch', 'x86_64', '--source-revision', 'x', '--firecracker-version', 'v1', '--firecracker-commit', 'c', '--snapshot-data-format', 'f', '--kernel-identity', 'k', '--json'], 65, 'bad_manifest'],
    ]
    for (const [what, args, exit, code] of cases) {
      const r = exits(await cli(args), exit, what)
      const doc = failureDocument(r, what)
      assert.is(doc.error.code, code, `${what}: error.code`)
    }
    // Documents that carried their own ok:false keep their fields, now with the error beside them.
    const d = failureDocument(await cli(['doctor', '--json', '--root', sick]), 'doctor')
    assert.ok(Array.isArray(d.problems), 'doctor keeps its report')
    const v = failureDocument(await cli(['manifest', 'validate', '--manifest', bad, '--json']), 'validate')
    assert.ok(Array.isArray(v.problems), 'validate keeps its problems')
    addHook(root, '10-fail', '#!/bin/sh\n[ "$NULLSPACE_OPERATION" = upgrade ] && exit 3\nexit 0\n')
    const u = failureDocument(exits(await upgrade(root, r1, '--allow-downgrade', '--skip-ingress-smoke', '--json'), 1, 'upgrade with a failing hook'), 'failed upgrade')
    assert.is(u.error.code, 'activation_failed')
    assert.is(u.rolled_back_to, 'r2')
  })()))

test.run()
