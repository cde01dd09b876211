// Every error a user can cause prints ONE line on stderr that says what went wrong and what to
// do next, never a stack trace (issue 8). Each case is a mistake as a new operator makes it,
// through the real CLI; the assertion is on the exit code and the exact advice.
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import fs from 'node:fs'
import path from 'node:path'
import { KIND_LAYOUT } from '../lib/manifest/kinds.js'
import { buildArgs, buildRelease, writeArtifacts, type BuiltRelease } from './helpers/artifacts.js'
import { CLI, runCli, runProcess, type CliResult } from './helpers/cli.js'
import { tempDir } from './helpers/tmp.js'

const T = 60_000
const test = suite('user mistakes')

let release: BuiltRelease
let installed: string

test.before(async () => {
  release = await buildRelease({ releaseId: '2026.06.10' })
  installed = tempDir('mistakes-installed')
  const r = await runCli(['install', '--root', installed, '--manifest', release.manifest], { timeoutMs: T })
  assert.is(r.code, 0, r.stderr)
})

const emptyRoot = () => tempDir('mistakes-root')
const cli = (args: string[]) => runCli(args, { timeoutMs: T })

/** Exit code `exit` and exactly one stderr line, `nullspace-host: ...`, matching every pattern. */
function oneLine(r: CliResult, exit: number, ...patterns: RegExp[]): void {
  const lines = r.stderr.replace(/\n$/, '').split('\n')
  assert.is(r.code, exit, `exit ${r.code}, expected ${exit}; stderr:\n${r.stderr}`)
  assert.is(lines.length, 1, `expected one line on stderr, got:\n${r.stderr}`)
  assert.match(lines[0], /^nullspace-host: \S/)
  assert.not.match(r.stderr, /^\s+at |Error:|node:internal/m, 'a stack trace leaked')
  for (const p of patterns) assert.match(lines[0], p)
}

test('a misspelt flag: install --manfest M', async () => {
  const r = await cli(['install', '--manfest', release.manifest])
  oneLine(r, 64, /^nullspace-host: unknown flag --manfest; did you mean --manifest\? See nullspace-host install --help$/)
})

test('a dry run asked of install: install --dry-run --manifest M points at plan', async () => {
  const r = await cli(['install', '--dry-run', '--manifest', release.manifest])
  oneLine(r, 64, /^nullspace-host: unknown flag --dry-run; install has no dry run: nullspace-host plan --manifest M shows what it would change, and changes nothing; see nullspace-host install --help$/)
})

test('a flag that exists nowhere: doctor --verbose', async () => {
  oneLine(await cli(['doctor', '--verbose']), 64, /unknown flag --verbose; see nullspace-host doctor --help$/)
})

test('no --manifest: install', async () => {
  oneLine(await cli(['install']), 64, /^nullspace-host: install needs --manifest \(path or URL of the release manifest\.json; a URL is https:, http: with --allow-http, or file:\); see nullspace-host install --help$/)
})

test('a manifest path that does not exist', async () => {
  oneLine(await cli(['install', '--root', emptyRoot(), '--manifest', '/mnt/nullspace-release/manifest.jsn']), 65, /manifest\.jsn: no such manifest file; check the --manifest path/)
})

test('a directory as the manifest', async () => {
  oneLine(await cli(['install', '--root', emptyRoot(), '--manifest', release.dir]), 65, /not a regular file; pass the manifest\.json path with --manifest/)
})

test('no permission on the root: an unprivileged user installs into a root-owned 0755 --root', async () => {
  assert.is(process.getuid?.(), 0, 'this case needs root to make a root-owned --root (CI runs as root)')
  const root = emptyRoot() // owned by root, 0755
  const r = await runProcess('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, CLI, 'install', '--root', root, '--manifest', release.manifest], { timeoutMs: T })
  oneLine(r, 1, /permission denied/i, /are you root|run as root|sudo/)
  assert.equal(fs.readdirSync(root), [], 'nothing was written')
})

test('doctor on a host that is not installed yet', async () => {
  oneLine(await cli(['doctor', '--root', emptyRoot()]), 1, /no active release: this host is not installed yet; run install --manifest M/)
})

test('rollback with nothing to roll back to', async () => {
  oneLine(await cli(['rollback', '--root', installed]), 1, /no previous release to roll back to/, /pass --to ID|releases list/)
})

test('rollback --to a release that is not there', async () => {
  oneLine(await cli(['rollback', '--root', installed, '--to', '2026.01.01']), 1, /--to 2026\.01\.01: no sealed release with that id on this host; see releases list/)
})

test('a typo in a command: nullspace-host instal', async () => {
  oneLine(await cli(['instal', '--manifest', release.manifest]), 64, /^nullspace-host: unknown command "instal"; did you mean install\? See nullspace-host --help$/)
})

test('a typo in a subcommand: manifest biuld', async () => {
  oneLine(await cli(['manifest', 'biuld']), 64, /^nullspace-host: unknown command "manifest biuld"; did you mean manifest build\? See nullspace-host manifest --help$/)
})

test('a command that does not exist: nullspace-host status', async () => {
  oneLine(await cli(['status']), 64, /unknown command "status"; the commands here are manifest, plan, apply, install, .*; see nullspace-host --help$/)
})

test('no command at all', async () => {
  oneLine(await cli([]), 64, /name a command; see nullspace-host --help/)
})

test('a command group without its subcommand: releases', async () => {
  oneLine(await cli(['releases']), 64, /name a releases command: list, pin, unpin; see nullspace-host releases --help$/)
})

test('plan without a manifest', async () => {
  oneLine(await cli(['plan', '--root', emptyRoot()]), 64, /plan needs --manifest .*; see nullspace-host plan --help$/)
})

test('--manifest given no value', async () => {
  oneLine(await cli(['plan', '--root', emptyRoot(), '--manifest']), 64, /--manifest needs a value; see nullspace-host plan --help$/)
})

test('--root or --lock-timeout given no value is refused, never read as the default (/ or 0)', async () => {
  // An unset shell variable (`--root $ROOT`) leaves the flag bare: it must not mean the real host.
  oneLine(await cli(['doctor', '--root']), 64, /--root needs a value; see nullspace-host doctor --help$/)
  oneLine(await cli(['plan', '--root', '--manifest', release.manifest]), 64, /--root needs a value; see nullspace-host plan --help$/)
  oneLine(await cli(['install', '--manifest', release.manifest, '--root', emptyRoot(), '--lock-timeout']), 64, /--lock-timeout needs a value/)
})

test('--manifest given twice', async () => {
  oneLine(await cli(['install', '--manifest', release.manifest, '--manifest', release.manifest]), 64, /--manifest is given more than once .*; give it once/)
})

test('apply with both a plan file and --manifest', async () => {
  const planFile = path.join(tempDir('mistakes-plan'), 'plan.json')
  oneLine(await cli(['apply', planFile, '--manifest', release.manifest, '--root', emptyRoot()]), 64, /give either a saved plan file \(apply PLAN\) or --manifest M, not both or neither/)
})

test('apply with a plan file that does not exist', async () => {
  const planFile = path.join(tempDir('mistakes-plan'), 'plan.json')
  oneLine(await cli(['apply', planFile, '--root', emptyRoot()]), 64, /plan\.json: no such plan file; save one with plan --out/)
})

test('--root is a file, not a directory', async () => {
  oneLine(await cli(['doctor', '--root', release.manifest]), 64, /--root .*manifest\.json: not a directory; give the directory the host's paths are under/)
})

test('--root does not exist', async () => {
  oneLine(await cli(['doctor', '--root', path.join(emptyRoot(), 'nope')]), 64, /--root .*nope: no such directory; create it \(mkdir -m 755 .*\)/)
})

test('--stall-timeout -1', async () => {
  oneLine(await cli(['install', '--stall-timeout', '-1', '--root', emptyRoot(), '--manifest', release.manifest]), 64, /--stall-timeout must be a number of seconds more than 0, at most 86400, got -1; e\.g\. --stall-timeout 30/)
})

test('--stall-timeout that is not a number', async () => {
  oneLine(await cli(['install', '--stall-timeout', 'soon', '--root', emptyRoot(), '--manifest', release.manifest]), 64, /--stall-timeout must be a number, got "soon"; see nullspace-host install --help/)
})

test('prune --keep -2', async () => {
  oneLine(await cli(['prune', '--keep', '-2', '--root', installed]), 64, /--keep must be a whole number of releases, got -2/)
})

test('upgrade on an empty root', async () => {
  oneLine(await cli(['upgrade', '--root', emptyRoot(), '--manifest', release.manifest]), 1, /no active release to upgrade: this host is not installed yet; run install --manifest M first/)
})

test('manifest build with an artifact missing', async () => {
  const dir = path.join(tempDir('mistakes-artifacts'), 'r')
  writeArtifacts(dir, 'r')
  fs.rmSync(path.join(dir, 'vmlinux'))
  assert.ok(KIND_LAYOUT.some((k) => k.file === 'vmlinux'))
  oneLine(await cli(buildArgs(dir, path.join(dir, 'manifest.json'), 'r', '0.1.0')), 65, /missing kernel artifact; --artifact-dir must hold vmlinux/)
})

test('manifest build with an unknown --arch', async () => {
  const dir = path.join(tempDir('mistakes-artifacts'), 'r')
  writeArtifacts(dir, 'r')
  oneLine(await cli(buildArgs(dir, path.join(dir, 'manifest.json'), 'r', '0.1.0', { arch: 'sparc' })), 64, /--arch: unknown architecture "sparc"; use x86_64 or aarch64/)
})

// Node's timers wrap past 2^31 ms (about 24.8 days): --hook-timeout 1e9 would fire after 1 ms.
test('every seconds, days and speed flag past its bound is refused, naming the flag, and its --help states the bound', async () => {
  const dir = path.join(tempDir('mistakes-artifacts'), 'r')
  writeArtifacts(dir, 'r')
  const gate = ['launch-gate', '--mode', 'localhost', '--manifest', release.manifest, '--console-url', 'http://localhost/console/', '--root', installed]
  // [the command, how many of its words name it (for its --help), the flag, a value past the bound]
  const cases: [string[], number, string, string][] = [
    [['doctor', '--root', installed], 1, '--lock-timeout', '1e9'],
    [['doctor', '--root', installed], 1, '--stall-timeout', '86401'],
    [['doctor', '--root', installed], 1, '--hook-timeout', '1e9'],
    [['doctor', '--root', installed], 1, '--speed-time', '0'],
    [['doctor', '--root', installed], 1, '--speed-limit', '1.5'],
    [['upgrade', '--root', installed, '--manifest', release.manifest], 1, '--smoke-timeout', '3e6'],
    [['install', '--root', installed, '--manifest', release.manifest], 1, '--smoke-timeout', 'Infinity'],
    [gate, 1, '--smoke-timeout', '1e9'],
    [buildArgs(dir, path.join(dir, 'manifest.json'), 'r', '0.1.0'), 2, '--expires-in', '1e9'],
  ]
  for (const [command, words, flag, value] of cases) {
    oneLine(await cli([...command, flag, value]), 64, new RegExp(`^nullspace-host: ${flag} must be a (whole )?number of (seconds|days|bytes per second) .*at most \\d+, got`))
    const help = await cli([...command.slice(0, words), '--help'])
    assert.match(help.stdout.replace(/\s+/g, ' '), new RegExp(`${flag} .*?at most \\d+\\)`), `${command.slice(0, words).join(' ')} --help states the bound of ${flag}`)
  }
  assert.ok(!fs.existsSync(path.join(dir, 'manifest.json')), 'manifest build wrote nothing')
})

test('launch-gate without the confirm phrase', async () => {
  const r = await cli(['launch-gate', '--mode', 'localhost', '--manifest', release.manifest, '--console-url', 'http://localhost/console/', '--root', installed])
  oneLine(r, 64, /launch-gate needs --confirm "run nullspace launch gate" exactly; nothing was checked or written/)
})

test('launch-gate with a mode that does not exist', async () => {
  const r = await cli(['launch-gate', '--mode', 'public', '--manifest', release.manifest, '--console-url', 'http://localhost/console/'])
  oneLine(r, 64, /--mode "public" is not one of localhost, owned-domain; see nullspace-host launch-gate --help$/)
})

test('launch-gate verify without the run folder', async () => {
  oneLine(await cli(['launch-gate', 'verify']), 64, /launch-gate verify needs <dir> \(the run folder, .*\); see nullspace-host launch-gate verify --help$/)
})

test('a stray word after a command: doctor now', async () => {
  oneLine(await cli(['doctor', 'now', '--root', installed]), 64, /unexpected argument "now"; see nullspace-host doctor --help$/)
})

test.run()
