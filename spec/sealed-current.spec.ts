// The active release's manifest is trusted from its seal: a manifest.json changed after the
// seal was written (here: its version lowered, so that an older release would look like an
// upgrade) is not judged against, and the host says which file no longer matches.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fs from 'node:fs'
import path from 'node:path'
import { exits, json, runCli } from './helpers/cli.js'
import { tempDir } from './helpers/tmp.js'
import { buildRelease, type BuiltRelease } from './helpers/artifacts.js'
import { RELEASES } from './helpers/hosts.js'

let active: BuiltRelease
let older: BuiltRelease

test.before(async () => {
  ;[active, older] = await Promise.all([buildRelease({ releaseId: '2026.06.20', version: '3.0.0' }), buildRelease({ releaseId: '2026.06.10', version: '2.0.0' })])
})

/** A root with `active` installed whose sealed manifest.json then says version 0.0.1. */
async function tamperedRoot(): Promise<{ root: string; file: string }> {
  const root = tempDir('root')
  exits(await runCli(['install', '--manifest', active.manifest, '--root', root]), 0, 'install')
  const file = path.join(root, RELEASES, active.releaseId, 'manifest.json')
  const m = JSON.parse(fs.readFileSync(file, 'utf8'))
  fs.chmodSync(file, 0o644)
  fs.writeFileSync(file, `${JSON.stringify({ ...m, version: '0.0.1' }, null, 2)}\n`)
  fs.chmodSync(file, 0o444)
  return { root, file }
}

test('a current manifest.json changed since its seal is not judged against: installing an older release is refused, nothing changes', async () => {
  const { root } = await tamperedRoot()
  const r = exits(await runCli(['install', '--manifest', older.manifest, '--root', root]), 1, 'install of an older release over a tampered active manifest')
  assert.match(r.stderr, `${active.releaseId}/manifest.json does not match its seal`)
  assert.match(r.stderr, 'put back the manifest.json it was sealed with, or roll back')
  assert.is(fs.readlinkSync(path.join(root, RELEASES, 'current')), active.releaseId, 'still the active release')
  assert.not.ok(fs.existsSync(path.join(root, RELEASES, older.releaseId)), 'the older release was not fetched')
})

test('plan --json carries the same blocker; the same manifest again still plans (it changes no release)', async () => {
  const { root } = await tamperedRoot()
  const refused = json<{ ok: false; blockers: { message: string }[] }>(exits(await runCli(['plan', '--manifest', older.manifest, '--root', root, '--json']), 1, 'plan'))
  assert.ok(refused.blockers.some((b) => b.message.includes('does not match its seal')), JSON.stringify(refused.blockers))
  const same = json<{ blockers: unknown[] }>(exits(await runCli(['plan', '--manifest', active.manifest, '--root', root, '--json']), 0, 'plan of the active release'))
  assert.equal(same.blockers, [])
})

test('doctor names the manifest that no longer matches its seal', async () => {
  const { root } = await tamperedRoot()
  const r = await runCli(['doctor', '--root', root, '--json'])
  assert.is.not(r.code, 0, r.stdout)
  const report = json<{ ok: boolean; problems: string[] }>(r)
  assert.ok(report.problems.some((p) => p.startsWith(`${active.releaseId}/manifest.json does not match its seal`)), report.problems.join('\n'))
})

test.run()
