// README's "Try it on a sandbox root" script, run exactly as written: a new operator following
// README gets from nothing to an installed, upgraded and rolled-back sandbox host.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fs from 'node:fs'
import path from 'node:path'
import { REPO, CLI, json, runCli, runProcess } from './helpers/cli.js'
import { tempDir } from './helpers/tmp.js'

const T = 180_000

/** The first ```sh block after the heading `## <title>`. */
function shBlock(readme: string, title: string): string {
  const at = readme.indexOf(`\n## ${title}\n`)
  assert.ok(at >= 0, `README has no "## ${title}" section`)
  const m = /```sh\n([\s\S]*?)```/.exec(readme.slice(at))
  assert.ok(m, `no sh block under "## ${title}"`)
  return m[1]
}

test('the sandbox walk-through installs, upgrades and rolls back', async () => {
  const script = shBlock(fs.readFileSync(path.join(REPO, 'README.md'), 'utf8'), 'Try it on a sandbox root')
  // nullspace-host on PATH, as README's "Get the tool onto a host" leaves it; mktemp under our temp dir.
  const bin = tempDir('readme-bin')
  fs.writeFileSync(path.join(bin, 'nullspace-host'), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} "$@"\n`, { mode: 0o755 })
  const tmp = tempDir('readme-tmp')
  const r = await runProcess('bash', ['-euo', 'pipefail', '-c', `${script}\necho "SANDBOX_ROOT=$NULLSPACE_ROOT"`], {
    env: { PATH: `${bin}:${process.env.PATH}`, TMPDIR: tmp, NULLSPACE_ROOT: undefined },
    timeoutMs: T,
  })
  assert.is(r.code, 0, `the README script failed:\n${r.stdout}\n${r.stderr}`)
  assert.match(r.stdout, /Installed release 2026\.06\.10/)
  assert.match(r.stdout, /Upgraded to 2026\.07\.01 \(from 2026\.06\.10\)/)
  assert.match(r.stdout, /Rolled back from 2026\.07\.01 to 2026\.06\.10/)
  const root = /^SANDBOX_ROOT=(.*)$/m.exec(r.stdout)?.[1]
  assert.ok(root && root.startsWith(tmp), `the sandbox is not under TMPDIR: ${root}`)
  const doctor = json(await runCli(['doctor', '--json', '--root', root], { timeoutMs: T }))
  assert.is(doctor.active.release_id, '2026.06.10')
  assert.equal(doctor.releases.map((x: { release_id: string }) => x.release_id).sort(), ['2026.06.10', '2026.07.01'])
})

test.run()
