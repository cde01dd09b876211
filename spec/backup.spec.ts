// `backup create|verify|list|prune` through the real CLI on temp roots (ARCHITECTURE.md section 8.2):
// what the archive holds and leaves out, that verify proves a backup restores and refuses every
// way a backup can lie (a tampered byte, a truncated archive, a record that disagrees, a member
// named ../../etc/passwd, a gzip bomb), and that a failed or killed backup leaves no `<id>.*`.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fs from 'node:fs'
import path from 'node:path'
import zlib from 'node:zlib'
import { spawn, spawnSync } from 'node:child_process'
import { Header } from 'tar'
import { CLI } from './helpers/cli.js'
import { sha256, cli, exits, installedRoot, makeRelease, ok, within, type Rel } from './helpers/hosts.js'
import { tempDir } from './helpers/tmp.js'

const T = 60_000
const BACKUPS = 'var/lib/nullspace/backups'

let rel: Promise<Rel> | undefined
const r1 = () => (rel ??= makeRelease({ id: 'r1', version: '0.1.0' }))

interface CreateJson {
  ok: boolean
  backup_id: string
  dir: string
  release_id: string
  archive: { file: string; sha256: string; size: number }
  entries: number
  signed: boolean
  warnings: string[]
}
interface VerifyJson {
  ok: boolean
  backup_id: string
  problem: string | null
  signature: { status: string; key_id: string | null }
  verified_at: string | null
}
interface RecordJson {
  backup_id: string
  release_id: string
  archive: { file: string; sha256: string; size: number }
  entries: { path: string; type: string; size: number; sha256?: string; mode: number; target?: string }[]
}

function writeFile(root: string, rel: string, content: string, mode = 0o644): void {
  const p = path.join(root, rel)
  fs.mkdirSync(path.dirname(p), { recursive: true, mode: 0o755 })
  fs.writeFileSync(p, content, { mode })
  fs.chmodSync(p, mode)
}
const preBackupHook = (root: string, name: string, script: string) => writeFile(root, `etc/nullspace/hooks/pre-backup.d/${name}`, script, 0o755)
const backupsOf = (root: string) => (fs.existsSync(path.join(root, BACKUPS)) ? fs.readdirSync(path.join(root, BACKUPS)).sort() : [])

async function create(root: string, ...extra: string[]): Promise<CreateJson> {
  return JSON.parse(ok(await cli(['backup', 'create', '--root', root, '--json', ...extra]), 'backup create').stdout) as CreateJson
}
const verify = (root: string, id: string, ...extra: string[]) => cli(['backup', 'verify', id, '--root', root, '--json', ...extra])
const recordOf = (root: string, id: string) => JSON.parse(fs.readFileSync(path.join(root, BACKUPS, `${id}.json`), 'utf8')) as RecordJson

/** A host with data: a pre-backup hook's dump, a data dir holding a link to / and a FIFO, an evidence key. */
async function hostWithData(o: { key?: boolean } = {}): Promise<string> {
  const root = await installedRoot(await r1(), '--service-manager', 'none')
  writeFile(root, 'srv/data/db/table', 'rows\n')
  fs.symlinkSync('/', path.join(root, 'srv/data/everything'))
  execMkfifo(path.join(root, 'srv/data/pipe'))
  writeFile(root, 'etc/nullspace/backup-paths', '# what the appliance keeps\n/srv/data\n')
  preBackupHook(root, '10-dump', '#!/bin/sh\nprintf "dump of %s\\n" "$NULLSPACE_RELEASE_ID" > "$NULLSPACE_BACKUP_DIR/db.sql"\n[ "$NULLSPACE_OPERATION" = backup ]\n')
  if (o.key) {
    const keys = tempDir('keys')
    ok(await cli(['manifest', 'keygen', '--out', keys]), 'keygen')
    const key = fs.readdirSync(keys).find((n) => n.endsWith('.key'))!
    fs.copyFileSync(path.join(keys, key), path.join(root, 'etc/nullspace/evidence-key'))
    fs.chmodSync(path.join(root, 'etc/nullspace/evidence-key'), 0o600)
  }
  return root
}

function execMkfifo(p: string): void {
  fs.mkdirSync(path.dirname(p), { recursive: true })
  if (spawnSync('mkfifo', [p], { timeout: 5000 }).status !== 0) throw new Error(`mkfifo ${p} failed`)
}

test('backup create writes <id>.tar.gz, <id>.json and <id>.json.sig: the dump, etc/nullspace without the evidence key, state.json, the backup paths; a link to / stays a link, a FIFO is skipped', () =>
  within(T, 'create', (async () => {
    const root = await hostWithData({ key: true })
    const c = await create(root)
    assert.match(c.backup_id, /^\d{8}T\d{6}Z-r1$/)
    assert.equal(backupsOf(root), [`${c.backup_id}.json`, `${c.backup_id}.json.sig`, `${c.backup_id}.tar.gz`])
    assert.ok(c.signed)
    assert.ok(c.warnings.some((w) => w.includes('srv/data/pipe is a FIFO; skipped')), c.warnings.join('\n'))
    const r = recordOf(root, c.backup_id)
    const entries = Object.fromEntries(r.entries.map((e) => [e.path, e]))
    assert.is(entries['dump/db.sql'].sha256, sha256(Buffer.from('dump of r1\n')))
    assert.equal(entries['files/srv/data/everything'], { path: 'files/srv/data/everything', type: 'symlink', size: 0, mode: entries['files/srv/data/everything'].mode, target: '/' })
    assert.is(entries['files/srv/data/db/table'].sha256, sha256(Buffer.from('rows\n')))
    assert.ok(entries['var/lib/nullspace/state.json'])
    assert.ok(entries['etc/nullspace/appliance.env'])
    assert.not.ok(entries['etc/nullspace/evidence-key'], 'the private key must never enter a backup')
    assert.not.ok(entries['files/srv/data/pipe'])
    // Nothing under / was followed: the archive is a few KiB, not the machine.
    assert.ok(r.archive.size < 64 * 1024, `archive of ${r.archive.size} bytes`)
    const listing = execTar(path.join(root, BACKUPS, `${c.backup_id}.tar.gz`))
    assert.not.ok(listing.includes('evidence-key'))
    assert.ok(listing.includes('files/srv/data/everything -> /'), listing)

    const v = JSON.parse(ok(await verify(root, c.backup_id), 'verify').stdout) as VerifyJson
    assert.is(v.ok, true)
    assert.is(v.signature.status, 'valid')
    assert.ok(fs.existsSync(path.join(root, BACKUPS, `${c.backup_id}.verified.json`)))
    // The drill's scratch directory is gone.
    assert.equal(backupsOf(root), [`${c.backup_id}.json`, `${c.backup_id}.json.sig`, `${c.backup_id}.tar.gz`, `${c.backup_id}.verified.json`])

    const history = JSON.parse(ok(await cli(['history', '--root', root, '--json']), 'history').stdout) as { history: { op: string; result: string; backup_id?: string }[] }
    assert.equal(history.history.slice(0, 2).map((h) => `${h.op} ${h.backup_id} ${h.result}`), [`verify ${c.backup_id} ok`, `backup ${c.backup_id} ok`])
  })()))

const execTar = (file: string) => spawnSync('tar', ['tvzf', file], { encoding: 'utf8', timeout: 10_000 }).stdout

/** Verify fails, names `fragment`, and removes the earlier .verified.json. */
async function refused(root: string, id: string, fragment: string | RegExp, ...extra: string[]): Promise<void> {
  const r = exits(await verify(root, id, ...extra), 1, 'verify of a bad backup')
  const doc = JSON.parse(r.stdout) as VerifyJson
  assert.is(doc.ok, false)
  if (typeof fragment === 'string') assert.ok(r.stderr.includes(fragment), r.stderr)
  else assert.match(r.stderr, fragment)
  assert.is(r.stderr.trim().split('\n').length, 1, r.stderr)
  assert.not.ok(fs.existsSync(path.join(root, BACKUPS, `${id}.verified.json`)), 'an earlier .verified.json is removed')
  assert.not.ok(backupsOf(root).some((n) => n.includes('.drill')), `no drill left: ${backupsOf(root).join(' ')}`)
}

/** A verified backup on a host without an evidence key (an unsigned record, so only the archive and the record can disagree). */
async function verifiedBackup(): Promise<{ root: string; id: string; archive: string; record: string }> {
  const root = await hostWithData()
  const { backup_id: id } = await create(root)
  ok(await verify(root, id), 'verify')
  return { root, id, archive: path.join(root, BACKUPS, `${id}.tar.gz`), record: path.join(root, BACKUPS, `${id}.json`) }
}

const rewriteRecord = (file: string, edit: (r: RecordJson) => void) => {
  const r = JSON.parse(fs.readFileSync(file, 'utf8')) as RecordJson
  edit(r)
  fs.writeFileSync(file, JSON.stringify(r))
}

test('verify: a tampered byte in the archive, a truncated archive, a record that disagrees with the archive', () =>
  within(T, 'tampering', (async () => {
    const b = await verifiedBackup()
    const original = fs.readFileSync(b.archive)
    const flipped = Buffer.from(original)
    flipped[Math.floor(flipped.length / 2)] ^= 0x01
    fs.writeFileSync(b.archive, flipped)
    await refused(b.root, b.id, `${b.id}.tar.gz has sha256`)

    fs.writeFileSync(b.archive, original.subarray(0, original.length - 100))
    await refused(b.root, b.id, `has ${original.length - 100} bytes, recorded ${original.length} (truncated`)

    // The archive intact, the record rewritten to match it, then truncated at the archive level and re-recorded: gzip itself refuses.
    fs.writeFileSync(b.archive, original.subarray(0, original.length - 100))
    rewriteRecord(b.record, (r) => ((r.archive.size = original.length - 100), (r.archive.sha256 = sha256(original.subarray(0, original.length - 100)))))
    await refused(b.root, b.id, /the archive cannot be read|not a readable tar/)

    fs.writeFileSync(b.archive, original)
    rewriteRecord(b.record, (r) => ((r.archive.size = original.length), (r.archive.sha256 = sha256(original))))
    ok(await verify(b.root, b.id), 'restored bytes verify again')
    rewriteRecord(b.record, (r) => (r.entries.find((e) => e.path === 'files/srv/data/db/table')!.sha256 = 'a'.repeat(64)))
    await refused(b.root, b.id, `archive entry files/srv/data/db/table has sha256 ${sha256(Buffer.from('rows\n'))}, recorded ${'a'.repeat(64)}`)
    rewriteRecord(b.record, (r) => {
      r.entries.find((e) => e.path === 'files/srv/data/db/table')!.sha256 = sha256(Buffer.from('rows\n'))
      r.entries.push({ path: 'files/srv/data/missing', type: 'file', size: 0, mode: 0o644, sha256: sha256(Buffer.alloc(0)) })
    })
    await refused(b.root, b.id, 'recorded entry files/srv/data/missing is missing from the archive')
  })()))

test('verify: a signed record changed by one byte, or its signature removed, is refused', () =>
  within(T, 'signature', (async () => {
    const root = await hostWithData({ key: true })
    const { backup_id: id } = await create(root)
    ok(await verify(root, id), 'verify')
    const record = path.join(root, BACKUPS, `${id}.json`)
    const bytes = fs.readFileSync(record)
    fs.writeFileSync(record, bytes.toString('utf8').replace('"version": "0.1.0"', '"version": "0.1.1"'))
    await refused(root, id, 'does not match the bytes')
    fs.writeFileSync(record, bytes)
    ok(await verify(root, id), 'the original record verifies')
    fs.rmSync(`${record}.sig`)
    await refused(root, id, `${id}.json.sig is missing`)
  })()))

/** A gzip'd tar of `members` (headers by node-tar's codec), then `tail` bytes of zeros. */
function craftArchive(members: { path: string; data?: Buffer; type?: 'File' | 'Directory' }[], tail = 0): Buffer {
  const blocks: Buffer[] = []
  for (const m of members) {
    const data = m.data ?? Buffer.alloc(0)
    const block = Buffer.alloc(512)
    new Header({ path: m.path, type: m.type ?? 'File', size: data.length, mode: 0o644, mtime: new Date(0), uid: 0, gid: 0 }).encode(block, 0)
    blocks.push(block, data, Buffer.alloc((512 - (data.length % 512)) % 512))
  }
  blocks.push(Buffer.alloc(1024))
  return tailGzip(Buffer.concat(blocks), tail)
}
const tailGzip = (head: Buffer, tail: number) => zlib.gzipSync(Buffer.concat([head, Buffer.alloc(tail)]), { level: 9 })

/** Puts `archive` in place of backup `id` with a record that agrees with it at the archive level (an unsigned host: anyone who can write the backups dir can do this). */
function plant(b: { archive: string; record: string }, archive: Buffer, entries: RecordJson['entries']): void {
  fs.writeFileSync(b.archive, archive)
  rewriteRecord(b.record, (r) => {
    r.archive.size = archive.length
    r.archive.sha256 = sha256(archive)
    r.entries = entries
  })
}

test('verify: a member named ../../etc/passwd or /etc/passwd is refused and nothing is written outside the drill; a gzip bomb stops at the recorded size', () =>
  within(T, 'hostile archives', (async () => {
    const b = await verifiedBackup()
    const data = Buffer.from('root::0:0::/root:/bin/sh\n')
    const entry = { path: 'dump/db.sql', type: 'file', size: data.length, mode: 0o644, sha256: sha256(data) }
    for (const name of ['../../etc/passwd', '/etc/passwd', 'dump/../../../etc/passwd']) {
      plant(b, craftArchive([{ path: name, data }]), [entry])
      await refused(b.root, b.id, `archive entry ${JSON.stringify(name)}`)
      assert.not.ok(fs.existsSync(path.join(b.root, 'var/lib/etc/passwd')), 'nothing written beside the backups')
      assert.not.ok(fs.existsSync(path.join(b.root, 'var/lib/nullspace/etc/passwd')))
    }
    // A record naming such a path is refused as a record.
    plant(b, craftArchive([{ path: '../../etc/passwd', data }]), [{ ...entry, path: '../../etc/passwd' }])
    await refused(b.root, b.id, 'is not a consistent backup record')

    // A small record, an archive that inflates to 512 MiB of zeros past it: cut off at the bound, fast.
    const head = (() => {
      const block = Buffer.alloc(512)
      new Header({ path: 'dump/db.sql', type: 'File', size: data.length, mode: 0o644, mtime: new Date(0), uid: 0, gid: 0 }).encode(block, 0)
      return Buffer.concat([block, data, Buffer.alloc(512 - data.length)])
    })()
    const started = Date.now()
    plant(b, tailGzip(head, 512 << 20), [entry])
    await refused(b.root, b.id, /decompresses past the \d+ bytes its record accounts for/)
    assert.ok(Date.now() - started < 20_000, `took ${Date.now() - started} ms`)
  })()))

test('a failing or hanging pre-backup hook fails the backup and leaves no <id>.* and no temp file', () =>
  within(T, 'hooks', (async () => {
    const root = await hostWithData()
    preBackupHook(root, '20-fails', '#!/bin/sh\necho "database is locked" >&2\nexit 3\n')
    const r = exits(await cli(['backup', 'create', '--root', root]), 1, 'a failing hook')
    assert.match(r.stderr, /pre-backup hook 20-fails failed \(exit 3\)/)
    assert.equal(backupsOf(root), [])
    fs.rmSync(path.join(root, 'etc/nullspace/hooks/pre-backup.d/20-fails'))
    preBackupHook(root, '20-hangs', '#!/bin/sh\nsleep 30\n')
    const started = Date.now()
    const h = exits(await cli(['backup', 'create', '--root', root, '--hook-timeout', '1']), 1, 'a hanging hook')
    assert.match(h.stderr, /pre-backup hook 20-hangs did not finish within 1 s \(--hook-timeout\)/)
    assert.ok(Date.now() - started < 15_000)
    assert.equal(backupsOf(root), [])
    const history = JSON.parse((await cli(['history', '--root', root, '--json'])).stdout) as { history: { op: string; result: string; reason?: string }[] }
    assert.equal(history.history.slice(0, 2).map((x) => `${x.op} ${x.result}`), ['backup failed', 'backup failed'])
  })()))

test('kill -9 during backup create, then create again: no partial <id>.* is left and the second backup verifies', () =>
  within(T, 'kill', (async () => {
    const root = await hostWithData()
    const marker = path.join(tempDir('marker'), 'hook-started')
    // The hook writes most of the dump, then waits: the kill lands mid-backup, with the work directory populated.
    preBackupHook(root, '20-slow', `#!/bin/sh\nhead -c 1048576 /dev/zero > "$NULLSPACE_BACKUP_DIR/big"\necho $$ > '${marker}.tmp' && mv '${marker}.tmp' '${marker}'\nexec sleep 30\n`)
    const child = spawn(process.execPath, [CLI, 'backup', 'create', '--root', root], { stdio: 'ignore', env: { ...process.env, NULLSPACE_ROOT: '' } })
    const deadline = Date.now() + 20_000
    while (!fs.existsSync(marker)) {
      if (Date.now() > deadline) throw new Error('the hook never started')
      await new Promise((r) => setTimeout(r, 50))
    }
    child.kill('SIGKILL')
    await new Promise((r) => child.once('exit', r))
    // The hook's own process group outlives a kill -9 of the tool (nothing can catch it): end it by its id, as an operator would.
    process.kill(-Number(fs.readFileSync(marker, 'utf8').trim()), 'SIGKILL')
    const left = backupsOf(root)
    assert.not.ok(left.some((n) => /^\d{8}T/.test(n)), `a killed create leaves no <id>.*: ${left.join(' ')}`)
    fs.rmSync(path.join(root, 'etc/nullspace/hooks/pre-backup.d/20-slow'))
    const c = await create(root)
    assert.equal(backupsOf(root), [`${c.backup_id}.json`, `${c.backup_id}.tar.gz`], 'the rerun swept the dead run\'s temp files')
    ok(await verify(root, c.backup_id), 'the new backup verifies')
  })()))

test('backup list and prune --keep N: newest first, and the newest verified backup is always kept', () =>
  within(T, 'list and prune', (async () => {
    const root = await hostWithData()
    const ids: string[] = []
    for (let i = 0; i < 3; i++) {
      ids.push((await create(root)).backup_id)
      if (i === 0) ok(await verify(root, ids[0]), 'verify the oldest')
      await new Promise((r) => setTimeout(r, 1100))
    }
    const list = JSON.parse(ok(await cli(['backup', 'list', '--root', root, '--json']), 'list').stdout) as { dir: string; backups: { backup_id: string; verified_at: string | null; release_id: string; size: number; signed: boolean }[] }
    assert.equal(list.backups.map((b) => b.backup_id), [...ids].reverse())
    assert.equal(list.backups.map((b) => b.verified_at !== null), [false, false, true])
    const p = JSON.parse(ok(await cli(['backup', 'prune', '--keep', '1', '--root', root, '--json']), 'prune').stdout) as { kept: string[]; removed: string[] }
    assert.equal(p.kept, [ids[2], ids[0]])
    assert.equal(p.removed, [ids[1]])
    assert.not.ok(backupsOf(root).some((n) => n.startsWith(ids[1])))
    assert.ok(fs.existsSync(path.join(root, BACKUPS, `${ids[0]}.tar.gz`)))
  })()))

test.run()
