// The systemd unit `install` renders, checked by systemd's own parser: `systemd-analyze verify
// --man=no --root=DIR <unit>` (Debian package `systemd`) against a temp root holding the installed
// release (so ExecStart's target exists) and a copy of the system's unit directory (so the
// targets the unit names resolve). No systemd is started: verify only loads unit files.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fs from 'node:fs'
import path from 'node:path'
import { runProcess, type CliResult, show } from './helpers/cli.js'
import { API_UNIT, installedRoot, makeRelease } from './helpers/hosts.js'

const SYSTEM_UNITS = '/usr/lib/systemd/system'
const INSTALL_SYSTEMD = 'install the Debian package `systemd` (apt-get install systemd), which provides systemd-analyze and the unit tree it checks against'

/**
 * The unit the lead proposes for a crash loop that ends `failed` inside the 60 s health window
 * (ARCHITECTURE.md section 8.1): the rendered unit plus StartLimitIntervalSec/StartLimitBurst, which systemd
 * reads only in [Unit]. With RestartSec=2, a process that dies within the 3 s settle restarts at
 * most every ~5 s, so the 6th start (refused: Burst=5) comes within ~25 s of the first, inside
 * the 60 s window. systemd's defaults (10 s, 5) are never reached with RestartSec=2: five
 * restarts take over 10 s, and the window starts again.
 */
const SUGGESTED_UNIT = `# Rendered by nullspace-host; changes are overwritten on the next switch.
[Unit]
Description=nullspace API
After=network-online.target
Wants=network-online.target
StartLimitIntervalSec=60
StartLimitBurst=5

[Service]
Type=simple
EnvironmentFile=/etc/nullspace/appliance.env
ExecStart=/opt/nullspace/nullspace-api
Restart=on-failure
RestartSec=2

[Install]
WantedBy=multi-user.target
`

const withoutStartLimits = (unit: string) => unit.replace(/^StartLimit(IntervalSec|Burst)=.*\n/gm, '')

/** A root with a release installed by the real CLI, and the system's unit directory copied under it. */
async function verifiableRoot(): Promise<string> {
  const root = await installedRoot(await makeRelease({ id: 'r1' }))
  if (!fs.existsSync(SYSTEM_UNITS)) throw new Error(`${SYSTEM_UNITS} is missing: ${INSTALL_SYSTEMD}`)
  // Symlinks are copied as they are: systemd resolves them under --root.
  fs.cpSync(SYSTEM_UNITS, path.join(root, SYSTEM_UNITS), { recursive: true, verbatimSymlinks: true })
  return root
}

async function verify(root: string, unitFile: string): Promise<CliResult> {
  try {
    return await runProcess('systemd-analyze', ['verify', '--man=no', `--root=${root}`, unitFile], { timeoutMs: 15_000 })
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`systemd-analyze is not on PATH: ${INSTALL_SYSTEMD}`)
    throw e
  }
}

/** stderr lines that speak of our unit (anything else is about the copied system units, not ours). */
const aboutUnit = (r: CliResult) => r.stderr.split('\n').filter((l) => l.includes('nullspace'))

test('the unit install renders passes systemd-analyze verify: exit 0, no warning about it', async () => {
  const root = await verifiableRoot()
  const unitFile = path.join(root, API_UNIT)
  const r = await verify(root, unitFile)
  assert.is(r.code, 0, `${fs.readFileSync(unitFile, 'utf8')}\n${show(r)}`)
  assert.equal(aboutUnit(r), [], show(r))
})

test('the check can fail: a setting systemd cannot parse is warned about, a missing ExecStart target fails', async () => {
  const root = await verifiableRoot()
  const unitFile = path.join(root, API_UNIT)
  const rendered = fs.readFileSync(unitFile, 'utf8')
  fs.writeFileSync(unitFile, rendered.replace('RestartSec=2', 'RestartSec=two'))
  const bad = await verify(root, unitFile)
  assert.match(aboutUnit(bad).join('\n'), `${unitFile}:`, show(bad))
  assert.match(bad.stderr, 'Failed to parse sec value, ignoring: two')

  fs.writeFileSync(unitFile, rendered)
  fs.rmSync(path.join(root, 'opt/nullspace/nullspace-api'))
  const missing = await verify(root, unitFile)
  assert.is.not(missing.code, 0, show(missing))
  assert.match(missing.stderr, 'Command /opt/nullspace/nullspace-api is not executable', show(missing))
})

test('the suggested unit (StartLimitIntervalSec=60, StartLimitBurst=5 in [Unit]) is the rendered one plus those lines, and passes verify', async () => {
  const root = await verifiableRoot()
  const unitFile = path.join(root, API_UNIT)
  assert.is(withoutStartLimits(SUGGESTED_UNIT), withoutStartLimits(fs.readFileSync(unitFile, 'utf8')), 'the fixture is the rendered unit plus the start limits')
  fs.writeFileSync(unitFile, SUGGESTED_UNIT)
  const r = await verify(root, unitFile)
  assert.is(r.code, 0, show(r))
  assert.equal(aboutUnit(r), [], show(r))

  // Where they do not belong: systemd ignores StartLimitIntervalSec in [Service], with a warning.
  fs.writeFileSync(unitFile, withoutStartLimits(SUGGESTED_UNIT).replace('RestartSec=2\n', 'RestartSec=2\nStartLimitIntervalSec=60\nStartLimitBurst=5\n'))
  const misplaced = await verify(root, unitFile)
  assert.match(misplaced.stderr, "Unknown key 'StartLimitIntervalSec' in section [Service], ignoring.", show(misplaced))
})

test.run()
