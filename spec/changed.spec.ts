// Every command that changes a host says so (ARCHITECTURE.md section 8.6): its --json outcome carries
// `changed`, true only when something on the host changed, so a fleet engine (Ansible's
// changed_when) reads it instead of guessing. Each test runs the real CLI on a temp root and
// checks the claim against the tree: `changed: false` leaves every file, link and mode as it was.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { RELEASES, addHook, cli, currentOf, exits, installedRoot, makeRelease, ok, treeOf, upgrade, within, type Rel } from './helpers/hosts.js'
import type { CliResult } from './helpers/cli.js'
import { tempDir } from './helpers/tmp.js'

const T = 60_000
const NONE = ['--service-manager', 'none']
const UPGRADE = [...NONE, '--skip-ingress-smoke']

let built: Promise<{ r1: Rel; r2: Rel; r3: Rel }> | undefined
const releases = () =>
  (built ??= (async () => ({
    r1: await makeRelease({ id: 'r1', version: '0.1.0' }),
    r2: await makeRelease({ id: 'r2', version: '0.2.0', change: { 'nullspace-api': 'api r2\n' } }),
    r3: await makeRelease({ id: 'r3', version: '0.3.0', change: { 'nullspace-api': 'api r3\n' } }),
  }))())

/** The `changed` of a --json outcome (success or failure document), which must be a boolean. */
function changedOf(r: CliResult, what: string): boolean {
  let doc: { changed?: unknown }
  try {
    doc = JSON.parse(r.stdout) as { changed?: unknown }
  } catch {
    throw new Error(`${what}: stdout is not one JSON document (exit ${r.code}):\n${r.stdout}\nstderr: ${r.stderr}`)
  }
  assert.type(doc.changed, 'boolean', `${what}: --json has a changed boolean: ${r.stdout}`)
  return doc.changed as boolean
}

/** Runs `args` with --json, expects exit `code` and `changed`; with changed false, the tree under the root is as it was. */
async function expectChanged(root: string, args: string[], changed: boolean, what: string, code = 0): Promise<CliResult> {
  const before = treeOf(root)
  const r = exits(await cli([...args, '--root', root, '--json']), code, what)
  assert.is(changedOf(r, what), changed, `${what}: changed`)
  if (!changed) assert.equal(treeOf(root), before, `${what}: changed false, and nothing under the root changed`)
  else assert.not.equal(treeOf(root), before, `${what}: changed true, and something under the root did`)
  return r
}

test('install, apply and artifacts fetch: changed true when they did something, false when the host already matched', () =>
  within(T, 'install, apply, fetch', (async () => {
    const { r1, r2 } = await releases()
    const root = tempDir('root')
    await expectChanged(root, ['install', '--manifest', r1.manifest, ...NONE], true, 'install r1 on an empty root')
    await expectChanged(root, ['install', '--manifest', r1.manifest, ...NONE], false, 'install of the active r1 again')
    await expectChanged(root, ['apply', '--manifest', r1.manifest, ...NONE], false, 'apply of the active r1')
    await expectChanged(root, ['artifacts', 'fetch', '--manifest', r2.manifest], true, 'artifacts fetch of r2')
    await expectChanged(root, ['artifacts', 'fetch', '--manifest', r2.manifest], false, 'artifacts fetch of the sealed r2 again')
    assert.is(currentOf(root), 'r1', 'a fetch switches nothing')
    await expectChanged(root, ['apply', '--manifest', r2.manifest, ...NONE], true, 'apply of r2')
    assert.is(currentOf(root), 'r2')
  })()))

test('upgrade: a dry run is changed false, an upgrade true, the same upgrade again false, and a failed upgrade that rolled back true', () =>
  within(T, 'upgrade', (async () => {
    const { r1, r2, r3 } = await releases()
    const root = await installedRoot(r1, ...NONE)
    await expectChanged(root, ['upgrade', '--manifest', r2.manifest, '--dry-run', ...UPGRADE], false, 'upgrade --dry-run to r2')
    await expectChanged(root, ['upgrade', '--manifest', r2.manifest, ...UPGRADE], true, 'upgrade to r2')
    await expectChanged(root, ['upgrade', '--manifest', r2.manifest, ...UPGRADE], false, 'upgrade to the active r2 again')
    await expectChanged(root, ['upgrade', '--manifest', r2.manifest, '--dry-run', ...UPGRADE], false, 'upgrade --dry-run to the active r2')
    addHook(root, '50-fail', '#!/bin/sh\n[ "$NULLSPACE_RELEASE_ID" = r3 ] && exit 3\nexit 0\n')
    // Rolled back: the release is where it was, but r3 was sealed, switched to and marked failed.
    await expectChanged(root, ['upgrade', '--manifest', r3.manifest, ...UPGRADE], true, 'upgrade to r3 whose hook fails', 1)
    assert.is(currentOf(root), 'r2')
  })()))

test('rollback: changed true when it switched, false for a rollback to the release that is already active', () =>
  within(T, 'rollback', (async () => {
    const { r1, r2 } = await releases()
    const root = await installedRoot(r1, ...NONE)
    ok(await upgrade(root, r2, ...UPGRADE), 'upgrade to r2')
    await expectChanged(root, ['rollback', ...NONE], true, 'rollback to r1')
    await expectChanged(root, ['rollback', '--to', 'r1', ...NONE], false, 'rollback --to the active r1')
  })()))

test('prune: a dry run is changed false, a prune that removed a release true, nothing left to remove false', () =>
  within(T, 'prune', (async () => {
    const { r1, r2, r3 } = await releases()
    const root = await installedRoot(r1, ...NONE)
    for (const r of [r2, r3]) ok(await upgrade(root, r, ...UPGRADE), `upgrade to ${r.id}`)
    await expectChanged(root, ['prune', '--keep', '0', '--dry-run'], false, 'prune --dry-run')
    const pruned = await expectChanged(root, ['prune', '--keep', '0'], true, 'prune --keep 0')
    assert.equal((JSON.parse(pruned.stdout) as { removed: string[] }).removed, ['r1'])
    await expectChanged(root, ['prune', '--keep', '0'], false, 'prune --keep 0 again')
  })()))

test('releases pin and unpin: changed true only when the pin was set or removed', () =>
  within(T, 'pins', (async () => {
    const { r1, r2 } = await releases()
    const root = await installedRoot(r1, ...NONE)
    ok(await upgrade(root, r2, ...UPGRADE), 'upgrade to r2')
    await expectChanged(root, ['releases', 'pin', 'r1'], true, 'pin r1')
    await expectChanged(root, ['releases', 'pin', 'r1'], false, 'pin of the pinned r1')
    await expectChanged(root, ['releases', 'unpin', 'r1'], true, 'unpin r1')
    await expectChanged(root, ['releases', 'unpin', 'r1'], false, 'unpin of the unpinned r1')
  })()))

test('backup create, verify and restore are changed true; backup prune true only when it removed a backup', () =>
  within(T, 'backups', (async () => {
    const { r1 } = await releases()
    const root = await installedRoot(r1, ...NONE)
    const first = JSON.parse((await expectChanged(root, ['backup', 'create'], true, 'backup create')).stdout) as { backup_id: string }
    await expectChanged(root, ['backup', 'verify', first.backup_id], true, 'backup verify (writes its .verified.json)')
    await expectChanged(root, ['backup', 'prune', '--keep', '1'], false, 'backup prune --keep 1 with one backup')
    await expectChanged(root, ['backup', 'restore', first.backup_id, '--yes', ...NONE], true, 'backup restore')
    // Backup ids have a one-second resolution: the second backup needs its own second.
    await new Promise((resolve) => setTimeout(resolve, 1100))
    await expectChanged(root, ['backup', 'create'], true, 'a second backup create')
    const pruned = await expectChanged(root, ['backup', 'prune', '--keep', '0'], true, 'backup prune --keep 0 (keeps the newest verified only)')
    assert.is((JSON.parse(pruned.stdout) as { removed: string[] }).removed.length, 1)
    assert.ok(treeOf(root)[`${RELEASES}/r1`], 'r1 is still there')
  })()))

test.run()
