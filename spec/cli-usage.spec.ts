// lib/cli-usage.ts: yargs' failure messages rewritten into one actionable line. The CLI-level
// cases are spec/user-mistakes.spec.ts; these pin the matching rules themselves.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { closest, editDistance, positionalWords, usageMessage, type UsageContext } from '../lib/cli-usage.js'

const ctx = (o: Partial<UsageContext>): UsageContext => ({
  commandPath: [],
  args: [],
  flags: ['root', 'json', 'color', 'help', 'h'],
  valueFlags: ['root'],
  subcommands: [],
  positionals: [],
  describe: () => undefined,
  ...o,
})

test('edit distance counts a swap of neighbours as one edit', () => {
  assert.is(editDistance('manfest', 'manifest'), 1)
  assert.is(editDistance('biuld', 'build'), 1)
  assert.is(editDistance('instal', 'install'), 1)
  assert.is(editDistance('', 'abc'), 3)
})

test('closest suggests only near misses', () => {
  assert.is(closest('manfest', ['manifest', 'root']), 'manifest')
  assert.is(closest('status', ['install', 'upgrade', 'doctor']), null)
  assert.is(closest('jsn', ['json', 'root']), 'json')
})

test('values of value flags are not mistaken for commands', () => {
  assert.equal(positionalWords({ args: ['--root', '/tmp/r', 'manifest', 'biuld', '--json'], valueFlags: ['root'] }), ['manifest', 'biuld'])
  assert.equal(positionalWords({ args: ['--root=/tmp/r', 'doctor'], valueFlags: ['root'] }), ['doctor'])
})

test('an unknown flag beats the missing one it was meant to be', () => {
  const c = ctx({ commandPath: ['install'], args: ['install', '--manfest', 'M'], flags: ['manifest', 'root', 'json'], valueFlags: ['manifest', 'root'] })
  assert.is(usageMessage('Missing required argument: manifest', c), 'unknown flag --manfest; did you mean --manifest? See nullspace-host install --help')
})

test('--dry-run where there is none points at plan when the command takes a manifest, and only then', () => {
  const install = ctx({ commandPath: ['install'], args: ['install', '--dryRun'], flags: ['manifest', 'root'], valueFlags: ['manifest', 'root'] })
  assert.is(usageMessage('Unknown argument: dryRun', install), 'unknown flag --dryRun; install has no dry run: nullspace-host plan --manifest M shows what it would change, and changes nothing; see nullspace-host install --help')
  const doctor = ctx({ commandPath: ['doctor'], args: ['doctor', '--dry-run'] })
  assert.is(usageMessage('Unknown argument: dry-run', doctor), 'unknown flag --dry-run; see nullspace-host doctor --help')
})

test('--no-<flag> and camelCase spellings of known flags are known', () => {
  const c = ctx({ commandPath: ['plan'], args: ['plan', '--no-color', '--detailedExitcode', '--bogus'], flags: ['color', 'detailed-exitcode'] })
  assert.is(usageMessage('Unknown argument: bogus', c), 'unknown flag --bogus; see nullspace-host plan --help')
})

test('a multi-line yargs message becomes one line', () => {
  const c = ctx({ commandPath: ['launch-gate'], args: ['launch-gate', '--mode', 'x'], flags: ['mode'], valueFlags: ['mode'] })
  const line = usageMessage('Invalid values:\n  Argument: mode, Given: "x", Choices: "localhost", "owned-domain"', c)
  assert.is(line, '--mode "x" is not one of localhost, owned-domain; see nullspace-host launch-gate --help')
  assert.not.ok(line.includes('\n'))
})

test('anything else keeps its first line and points at the right --help', () => {
  assert.is(usageMessage('Something odd.\nmore', ctx({ commandPath: ['doctor'] })), 'Something odd; see nullspace-host doctor --help')
  assert.is(usageMessage('name a command; see nullspace-host --help', ctx({})), 'name a command; see nullspace-host --help')
})

test.run()
