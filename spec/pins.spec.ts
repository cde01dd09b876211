// `releases pin|unpin` through the real CLI (ARCHITECTURE.md section 8.3): a pin lives in state.json,
// `releases list` shows it, `prune` never removes a pinned release, and an unpin lets it go.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fs from 'node:fs'
import path from 'node:path'
import { RELEASES, cli, exits, installedRoot, makeRelease, ok, releasesOf, upgrade, within } from './helpers/hosts.js'

const T = 60_000

test('a pinned release survives prune --keep 0 and is shown by releases list; unpinned, the next prune removes it', () =>
  within(T, 'pins', (async () => {
    const r1 = await makeRelease({ id: 'r1', version: '0.1.0' })
    const r2 = await makeRelease({ id: 'r2', version: '0.2.0', change: { 'nullspace-api': 'api r2\n' } })
    const r3 = await makeRelease({ id: 'r3', version: '0.3.0', change: { 'nullspace-api': 'api r3\n' } })
    const root = await installedRoot(r1, '--service-manager', 'none')
    for (const r of [r2, r3]) ok(await upgrade(root, r, '--service-manager', 'none', '--skip-ingress-smoke'), `upgrade to ${r.id}`)
    exits(await cli(['releases', 'pin', 'r9', '--root', root]), 1, 'pin of a release that is not here')
    const pin = JSON.parse(ok(await cli(['releases', 'pin', 'r1', '--reason', 'last before the schema change', '--root', root, '--json']), 'pin').stdout) as { pinned: boolean; changed: boolean }
    assert.equal([pin.pinned, pin.changed], [true, true])
    const listing = await releasesOf(root)
    const row = listing.releases.find((r) => r.release_id === 'r1') as unknown as { pinned: boolean; pin_reason: string }
    assert.equal([row.pinned, row.pin_reason], [true, 'last before the schema change'])
    assert.match(ok(await cli(['releases', 'list', '--root', root]), 'list').stdout, /r1 .*pinned \(last before the schema change\)/)

    const pruned = JSON.parse(ok(await cli(['prune', '--keep', '0', '--root', root, '--json']), 'prune').stdout) as { kept: string[]; removed: string[] }
    assert.equal(pruned.removed, [])
    assert.ok(fs.existsSync(path.join(root, RELEASES, 'r1')), 'the pinned release is still there')

    ok(await cli(['releases', 'unpin', 'r1', '--root', root]), 'unpin')
    const again = JSON.parse(ok(await cli(['prune', '--keep', '0', '--root', root, '--json']), 'prune again').stdout) as { removed: string[] }
    assert.equal(again.removed, ['r1'])
  })()))

test.run()
