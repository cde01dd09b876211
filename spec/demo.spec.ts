// `npm start` runs dist/demo/main.js: the main job on a sandbox. It must succeed, end on a
// converged host, and succeed again when run a second time. The sandbox is a temp dir here
// (NULLSPACE_DEMO_DIR), so the spec never touches the repository's .demo/.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { runProcess, type CliResult, show } from './helpers/cli.js'
import { tempDir } from './helpers/tmp.js'

const DEMO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../demo/main.js')
const runDemo = (dir: string): Promise<CliResult> => runProcess(process.execPath, [DEMO], { env: { NULLSPACE_DEMO_DIR: dir }, timeoutMs: 180_000 })

test('the demo installs a release on its sandbox and ends with "No changes", twice in a row', async () => {
  const dir = path.join(tempDir('demo'), 'sandbox')
  for (const run of ['first', 'second']) {
    const r = await runDemo(dir)
    assert.is(r.code, 0, `${run} run: ${show(r)}`)
    assert.match(r.stdout, 'No changes. The host matches release', `${run} run: ${show(r)}`)
    for (const command of ['manifest build', 'plan --manifest', 'install --manifest', 'doctor'])
      assert.match(r.stdout, new RegExp(`^\\$ nullspace-host .*${command}`, 'm'), `${run} run prints the command line of ${command}`)
    assert.match(r.stdout, /Installed release \S+; it is active/)
    assert.match(r.stdout, /No problems found/)
  }
  assert.ok(fs.existsSync(path.join(dir, 'root/opt/nullspace/releases/current')), 'the sandbox host has an active release')
})

test('the demo refuses to reset a directory it did not make', async () => {
  const dir = tempDir('demo')
  fs.writeFileSync(path.join(dir, 'precious.txt'), 'not the demo\'s\n')
  const r = await runDemo(dir)
  assert.is(r.code, 1, show(r))
  assert.match(r.stderr, 'was not made by this demo')
  assert.ok(fs.existsSync(path.join(dir, 'precious.txt')))
})

test.run()
