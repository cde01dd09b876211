// What a manifest path becomes in the rendered files (ARCHITECTURE.md section 3): the systemd unit
// and appliance.env must name exactly the path the manifest gives, whatever systemd or a shell
// would read into it (`%` specifiers, `$` variables, spaces). Judged by systemd's own parser:
// `systemd-analyze verify` (Debian package systemd, ARCHITECTURE.md section 6) on the installed root
// resolves ExecStart and says when the command it finds is not there; and by sh, which reads
// appliance.env with the quoting rules systemd's EnvironmentFile= shares for these characters.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fs from 'node:fs'
import path from 'node:path'
import { execFileSync, spawnSync } from 'node:child_process'
import { API_UNIT, APPLIANCE_ENV, cli, makeRelease, ok, within } from './helpers/hosts.js'
import { tempDir } from './helpers/tmp.js'

const T = 60_000

/** Release r1 whose api link is `activePath` (the manifest patched after `manifest build`). */
async function releaseWithApiAt(activePath: string): Promise<string> {
  const rel = await makeRelease({ id: 'r1', version: '0.1.0' })
  const doc = JSON.parse(fs.readFileSync(rel.manifest, 'utf8')) as { components: { kind: string; active_path?: string }[] }
  doc.components.find((c) => c.kind === 'api')!.active_path = activePath
  const file = path.join(rel.dir, 'patched.json')
  fs.writeFileSync(file, `${JSON.stringify(doc, null, 2)}\n`)
  return file
}

/** systemd-analyze's findings on the root's unit (it needs the system's unit tree under the root). */
function verifyUnit(root: string): { code: number | null; out: string } {
  fs.mkdirSync(path.join(root, 'usr/lib'), { recursive: true })
  execFileSync('cp', ['-a', '/usr/lib/systemd', path.join(root, 'usr/lib/')])
  const r = spawnSync('systemd-analyze', ['verify', '--man=no', `--root=${root}`, `/${API_UNIT}`], { encoding: 'utf8', timeout: 30_000 })
  if (r.error) throw new Error(`systemd-analyze (Debian package systemd) is needed by this spec: ${r.error.message}`)
  return { code: r.status, out: `${r.stdout}${r.stderr}` }
}

test('an api path with a space, % and $ reaches ExecStart and appliance.env as exactly that path', () =>
  within(T, 'special characters', (async () => {
    const apiAt = '/opt/nullspace/api dir/100%n$USER${HOME}'
    const manifest = await releaseWithApiAt(apiAt)
    const root = tempDir('unit-root')
    ok(await cli(['install', '--root', root, '--manifest', manifest]), 'install')
    assert.ok(fs.lstatSync(path.join(root, apiAt)).isSymbolicLink(), 'the link is where the manifest says')

    const unit = fs.readFileSync(path.join(root, API_UNIT), 'utf8')
    // `%` is a specifier (doubled), the space needs quotes; in the program path `$` is literal.
    assert.match(unit, /^ExecStart="\/opt\/nullspace\/api dir\/100%%n\$USER\$\{HOME\}"$/m)
    const v = verifyUnit(root)
    assert.not.match(v.out, /not executable|special characters|bad unit file setting|fatal/, v.out)
    assert.is(v.code, 0, v.out)

    const sourced = execFileSync('sh', ['-c', `set -a; . "$1"; printf '%s' "$NULLSPACE_API_BIN"`, 'sh', path.join(root, APPLIANCE_ENV)], { encoding: 'utf8', env: { PATH: process.env.PATH } })
    assert.is(sourced, apiAt)
  })()))

test('systemd-analyze sees a wrongly escaped unit (the check above can fail)', () =>
  within(T, 'negative control', (async () => {
    const root = tempDir('unit-root')
    fs.mkdirSync(path.join(root, path.dirname(API_UNIT)), { recursive: true })
    fs.mkdirSync(path.join(root, 'opt/nullspace'), { recursive: true })
    fs.writeFileSync(path.join(root, 'opt/nullspace/100%n'), '#!/bin/sh\n', { mode: 0o755 })
    fs.writeFileSync(path.join(root, API_UNIT), '[Unit]\nDescription=x\n[Service]\nExecStart=/opt/nullspace/100%n\n')
    const v = verifyUnit(root)
    assert.match(v.out, /not executable/, v.out)
  })()))

test.run()
