// `backup restore` through the real CLI (ARCHITECTURE.md section 8.2): --yes or exit 64; only a backup
// of the active release, and only one that verifies; every entry back (a changed file, a removed
// one, a link), the post-restore hooks fed the dump, and with systemd the units stopped around it
// and started and health-checked after (the stand-in systemctl of spec/helpers/systemd.ts).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fs from 'node:fs'
import path from 'node:path'
import { cli, currentOf, exits, installedRoot, makeRelease, ok, upgrade, within, type Rel } from './helpers/hosts.js'
import { tempDir } from './helpers/tmp.js'
import { standInSystemd } from './helpers/systemd.js'
import { apiContents, freePort } from './helpers/stand-in-api.js'

const T = 60_000
const BACKUPS = 'var/lib/nullspace/backups'
const UNIT = 'nullspace-api.service'

let built: Promise<{ r1: Rel; r1b: Rel }> | undefined
const releases = () =>
  (built ??= (async () => ({
    r1: await makeRelease({ id: 'r1', version: '0.1.0', change: apiContents('serve', 'r1') }),
    r1b: await makeRelease({ id: 'r1b', version: '0.1.1', change: apiContents('serve', 'r1b') }),
  }))())

function writeFile(root: string, rel: string, content: string, mode = 0o644): void {
  const p = path.join(root, rel)
  fs.mkdirSync(path.dirname(p), { recursive: true, mode: 0o755 })
  fs.writeFileSync(p, content, { mode })
  fs.chmodSync(p, mode)
}

/** Data, a dump hook, a post-restore hook that logs what it was given, and one backup, verified. */
function prepare(root: string, log: string): void {
  writeFile(root, 'srv/data/db/table', 'rows v1\n', 0o640)
  writeFile(root, 'srv/data/keep', 'keep me\n')
  fs.symlinkSync('db/table', path.join(root, 'srv/data/current'))
  writeFile(root, 'etc/nullspace/backup-paths', '/srv/data\n')
  writeFile(root, 'etc/nullspace/hooks/pre-backup.d/10-dump', '#!/bin/sh\ncp "$NULLSPACE_ROOT/srv/data/db/table" "$NULLSPACE_BACKUP_DIR/db.sql"\n', 0o755)
  writeFile(root, 'etc/nullspace/hooks/post-restore.d/10-load', `#!/bin/sh\nprintf '%s|%s|%s\\n' "$NULLSPACE_OPERATION" "$NULLSPACE_RELEASE_ID" "$(cat "$NULLSPACE_BACKUP_DIR/db.sql")" >> '${log}'\n`, 0o755)
}

async function backedUp(root: string): Promise<string> {
  const c = JSON.parse(ok(await cli(['backup', 'create', '--root', root, '--json']), 'create').stdout) as { backup_id: string }
  ok(await cli(['backup', 'verify', c.backup_id, '--root', root]), 'verify')
  return c.backup_id
}

test('restore needs --yes (exit 64), refuses a backup of another release (rollback --to first) and one that does not verify, changing nothing', () =>
  within(T, 'refusals', (async () => {
    const { r1, r1b } = await releases()
    const root = await installedRoot(r1, '--service-manager', 'none')
    const log = path.join(tempDir('log'), 'hooks.log')
    prepare(root, log)
    const id = await backedUp(root)
    writeFile(root, 'srv/data/db/table', 'rows v2\n', 0o640)
    const no = exits(await cli(['backup', 'restore', id, '--root', root]), 64, 'restore without --yes')
    assert.match(no.stderr, /--yes/)

    const archive = path.join(root, BACKUPS, `${id}.tar.gz`)
    const bytes = fs.readFileSync(archive)
    const bad = Buffer.from(bytes)
    bad[bad.length - 30] ^= 0xff
    fs.writeFileSync(archive, bad)
    const tampered = exits(await cli(['backup', 'restore', id, '--yes', '--root', root, '--service-manager', 'none']), 1, 'restore of a tampered backup')
    assert.match(tampered.stderr, new RegExp(`backup ${id} does not verify: .*sha256.*Nothing was changed`))
    fs.writeFileSync(archive, bytes)

    ok(await upgrade(root, r1b, '--service-manager', 'none', '--skip-ingress-smoke'), 'upgrade to r1b')
    const other = exits(await cli(['backup', 'restore', id, '--yes', '--root', root, '--service-manager', 'none']), 1, 'restore of a backup of r1 while r1b is active')
    assert.match(other.stderr, /rollback --to r1 first/)
    assert.is(fs.readFileSync(path.join(root, 'srv/data/db/table'), 'utf8'), 'rows v2\n', 'nothing restored')
    assert.not.ok(fs.existsSync(log), 'no hook ran')
    assert.is(currentOf(root), 'r1b')
  })()))

test('restore with systemd: stop, every entry back (changed, removed, relinked), post-restore hooks given the dump, start and health-check; a restore event in history', () =>
  within(T, 'restore', (async () => {
    const { r1 } = await releases()
    const root = tempDir('root')
    const port = await freePort()
    const sd = standInSystemd(root, { extraEnv: { NULLSPACE_TEST_API_PORT: String(port) } })
    const run = (...args: string[]) => cli([...args, '--root', root, '--service-manager', 'systemd', '--service-settle', '0.5'], { env: sd.env, timeoutMs: 60_000 })
    try {
      ok(await run('install', '--manifest', r1.manifest), 'install r1 with systemd')
      const log = path.join(tempDir('log'), 'hooks.log')
      prepare(root, log)
      const id = await backedUp(root)
      writeFile(root, 'srv/data/db/table', 'rows v2 after a bad migration\n', 0o600)
      fs.rmSync(path.join(root, 'srv/data/keep'))
      fs.rmSync(path.join(root, 'srv/data/current'))
      fs.symlinkSync('/etc/passwd', path.join(root, 'srv/data/current'))
      const pidBefore = sd.mainPid(UNIT)
      const callsBefore = sd.calls().length

      const r = ok(await run('backup', 'restore', id, '--yes', '--json'), 'restore')
      const doc = JSON.parse(r.stdout) as { ok: boolean; backup_id: string; release_id: string; restored: number; hooks: string[]; services: string }
      assert.equal([doc.ok, doc.backup_id, doc.release_id, doc.services, doc.hooks], [true, id, 'r1', 'restarted', ['10-load']])
      assert.is(fs.readFileSync(path.join(root, 'srv/data/db/table'), 'utf8'), 'rows v1\n')
      assert.is(fs.statSync(path.join(root, 'srv/data/db/table')).mode & 0o777, 0o640)
      assert.is(fs.readFileSync(path.join(root, 'srv/data/keep'), 'utf8'), 'keep me\n')
      assert.is(fs.readlinkSync(path.join(root, 'srv/data/current')), 'db/table')
      assert.is(fs.readFileSync(log, 'utf8'), 'restore|r1|rows v1\n')
      const verbs = sd.calls().slice(callsBefore).map((c) => c.join(' ')).filter((c) => !c.startsWith('show'))
      assert.equal(verbs, [`stop ${UNIT}`, `start ${UNIT}`])
      assert.ok(sd.mainPid(UNIT) > 0 && sd.mainPid(UNIT) !== pidBefore, 'a new process runs')
      assert.equal(fs.readdirSync(path.join(root, BACKUPS)).filter((n) => n.startsWith('.')), [], 'no drill or temp left')
      const history = JSON.parse(ok(await cli(['history', '--root', root, '--json', '--limit', '1']), 'history').stdout) as { history: { op: string; result: string; backup_id: string }[] }
      assert.equal(history.history.map((h) => `${h.op} ${h.backup_id} ${h.result}`), [`restore ${id} ok`])
    } finally {
      await sd.stopAll()
    }
  })()))

test.run()
