// `npm run bundle`: one self-contained executable file that runs on Node 20 with no
// node_modules (issue 8). The spec bundles into a temp dir, copies the file into an empty
// folder with no node_modules anywhere above it, and installs a real release with it, the
// bundle itself being the release's operator_tool, then runs the installed tool.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { KIND_LAYOUT } from '../lib/manifest/kinds.js'
import { TOOL_VERSION } from '../lib/version.js'
import { buildArgs, writeArtifacts } from './helpers/artifacts.js'
import { REPO, runProcess, json } from './helpers/cli.js'
import { tempDir } from './helpers/tmp.js'

const T = 120_000

let tool: string
/** A PATH with only the system and Node's own directory: no repository tools, no node_modules/.bin. */
const env = { PATH: `${path.dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`, NODE_PATH: undefined, NO_COLOR: '1' }
const run = (file: string, args: string[], cwd: string) => runProcess(file, args, { cwd, env, timeoutMs: T })

test.before(async () => {
  const built = path.join(tempDir('bundle-out'), 'nullspace-host.mjs')
  const r = await runProcess(process.execPath, [path.join(REPO, 'scripts/bundle.mjs'), '--outfile', built], { cwd: REPO, timeoutMs: T })
  assert.is(r.code, 0, `bundle failed: ${r.stderr}`)
  // An empty folder in the system temp dir, checked to have no node_modules above it.
  const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'bundle-run-'))
  process.on('exit', () => fs.rmSync(empty, { recursive: true, force: true }))
  for (let dir = empty; ; dir = path.dirname(dir)) {
    assert.not.ok(fs.existsSync(path.join(dir, 'node_modules')), `${dir} has node_modules; the bundle must run without any`)
    if (path.dirname(dir) === dir) break
  }
  tool = path.join(empty, 'nullspace-host.mjs')
  fs.copyFileSync(built, tool)
  fs.chmodSync(tool, fs.statSync(built).mode & 0o7777)
})

test('the bundle is one executable file with a node shebang', () => {
  const st = fs.statSync(tool)
  assert.is(st.mode & 0o777, 0o755)
  assert.is(fs.readFileSync(tool, 'utf8').split('\n')[0], '#!/usr/bin/env node')
  assert.equal(fs.readdirSync(path.dirname(tool)), ['nullspace-host.mjs'])
})

test('it runs by itself: --version, --help', async () => {
  const v = await run(tool, ['--version'], path.dirname(tool))
  assert.is(v.code, 0, v.stderr)
  assert.is(v.stdout.trim(), TOOL_VERSION)
  const h = await run(tool, ['install', '--help'], path.dirname(tool))
  assert.is(h.code, 0, h.stderr)
  assert.match(h.stdout, /--manifest\s+Path or URL of the release manifest\.json/)
})

test('it builds a manifest and installs a release into a temp root; the installed tool runs', async () => {
  const cwd = path.dirname(tool)
  const releaseDir = path.join(tempDir('bundle-release'), '2026.06.10')
  // The release's operator_tool is the bundle itself, as in a real release.
  writeArtifacts(releaseDir, '2026.06.10', { 'nullspace-host': fs.readFileSync(tool) })
  assert.ok(KIND_LAYOUT.some((k) => k.kind === 'operator_tool' && k.file === 'nullspace-host'))
  const manifest = path.join(releaseDir, 'manifest.json')
  const built = await run(tool, buildArgs(releaseDir, manifest, '2026.06.10', '0.1.0'), cwd)
  assert.is(built.code, 0, built.stderr)

  const root = tempDir('bundle-root')
  const installed = await run(tool, ['install', '--root', root, '--manifest', manifest, '--json'], cwd)
  assert.is(installed.code, 0, installed.stderr)
  assert.is(json(installed).release_id, '2026.06.10')

  const doctor = await run(tool, ['doctor', '--root', root, '--deep', '--json'], cwd)
  const report = json(doctor)
  assert.is(report.active.release_id, '2026.06.10')
  assert.ok(report.components.every((c: { status: string }) => c.status === 'ok'), JSON.stringify(report.problems))

  // The operator tool the release installed, through its compatibility link, is the same tool.
  const installedTool = path.join(root, 'opt/nullspace/bin/nullspace-host')
  const again = await run(installedTool, ['--version'], cwd)
  assert.is(again.code, 0, again.stderr)
  assert.is(again.stdout.trim(), TOOL_VERSION)
})

test.run()
