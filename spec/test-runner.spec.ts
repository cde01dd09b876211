// scripts/test.mjs, what `npm test` runs after the build: spec files in parallel uvu
// processes, each file's output whole with uvu's own Total/Passed lines (which .ci/run adds
// up), and a failing, dying or crashing file makes the run fail. Driven on spec files written
// to a temp dir, as the real runner with the real uvu.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fs from 'node:fs'
import path from 'node:path'
import { createRequire } from 'node:module'
import { pathToFileURL } from 'node:url'
import { REPO, runProcess } from './helpers/cli.js'
import { tempDir } from './helpers/tmp.js'

const RUNNER = path.join(REPO, 'scripts/test.mjs')
const UVU = pathToFileURL(createRequire(path.join(REPO, 'package.json')).resolve('uvu')).href
const ASSERT = pathToFileURL(createRequire(path.join(REPO, 'package.json')).resolve('uvu/assert')).href

/** A uvu spec file whose tests are `body` (statements using test and assert). */
const specFile = (body: string) => `import { test } from ${JSON.stringify(UVU)}\nimport * as assert from ${JSON.stringify(ASSERT)}\nimport fs from 'node:fs'\n${body}\ntest.run()\n`

/** What .ci/run reads from the log: the sums of the `Total:` and `Passed:` lines. */
function ciCounts(log: string): { total: number; passed: number } {
  const sum = (word: string) => [...log.matchAll(new RegExp(`^\\s*${word}:\\s+(\\d+)`, 'gm'))].reduce((n, m) => n + Number(m[1]), 0)
  return { total: sum('Total'), passed: sum('Passed') }
}

const run = (dir: string, ...args: string[]) => runProcess(process.execPath, [RUNNER, '--dir', dir, ...args], { env: { ...process.env, NO_COLOR: '1', TEST_JOBS: '2' }, timeoutMs: 60_000 })

test('every file runs; the Total/Passed lines add up to the tests of all files; a failing and a dying file fail the run, by name', async () => {
  const dir = tempDir('runner')
  fs.writeFileSync(path.join(dir, 'a.spec.js'), specFile(`test('one', () => assert.ok(true))\ntest('two', () => assert.is(1, 1))`))
  fs.writeFileSync(path.join(dir, 'b.spec.js'), specFile(`test('passes', () => {})\ntest('fails', () => assert.is(1, 2, 'b fails on purpose'))`))
  fs.writeFileSync(path.join(dir, 'c.spec.js'), specFile(`test('never counted', () => {})\nprocess.exit(3)`))
  fs.writeFileSync(path.join(dir, 'not-a-spec.js'), 'throw new Error("the runner ran a file that is not a spec")\n')
  const r = await run(dir)
  assert.is(r.code, 1, r.stdout + r.stderr)
  assert.equal(ciCounts(r.stdout), { total: 4, passed: 3 }, r.stdout)
  assert.ok(r.stdout.includes('b fails on purpose'), 'the failure is printed')
  assert.match(r.stdout, /spec files failed: .*b\.spec\.js \(exit 1\)/)
  assert.match(r.stdout, /c\.spec\.js \(exit 3\)/)
  assert.not.match(r.stdout, /a\.spec\.js \(exit/)
  assert.not.ok(r.stdout.includes('not a spec'))
  // The runner's own last line is no count .ci/run could add up or take for its own.
  const last = r.stdout.trim().split('\n').at(-1) ?? ''
  assert.match(last, /^3 spec files, 2 at a time, \d+ s; 2 failed$/)
})

test('files run side by side: two files that each wait for the other both pass with two at a time', async () => {
  const dir = tempDir('runner')
  const meet = (me: string, other: string) =>
    specFile(`test('meets ${other}', async () => {
  fs.writeFileSync(${JSON.stringify(path.join(dir, `started-${me}`))}, '')
  const until = Date.now() + 20000
  while (!fs.existsSync(${JSON.stringify(path.join(dir, `started-${other}`))})) {
    assert.ok(Date.now() < until, '${other} did not start while ${me} ran')
    await new Promise((r) => setTimeout(r, 20))
  }
})`)
  fs.writeFileSync(path.join(dir, 'x.spec.js'), meet('x', 'y'))
  fs.writeFileSync(path.join(dir, 'y.spec.js'), meet('y', 'x'))
  const r = await run(dir)
  assert.is(r.code, 0, r.stdout + r.stderr)
  assert.equal(ciCounts(r.stdout), { total: 2, passed: 2 })
  assert.match(r.stdout.trim().split('\n').at(-1) ?? '', /^2 spec files, 2 at a time, \d+ s; all passed$/)
})

test('a name pattern selects files; a pattern that matches none fails rather than passing with nothing run', async () => {
  const dir = tempDir('runner')
  fs.writeFileSync(path.join(dir, 'a.spec.js'), specFile(`test('one', () => {})`))
  fs.writeFileSync(path.join(dir, 'b.spec.js'), specFile(`test('fails', () => assert.ok(false))`))
  const only = await run(dir, '^a\\.spec\\.js$')
  assert.is(only.code, 0, only.stdout + only.stderr)
  assert.equal(ciCounts(only.stdout), { total: 1, passed: 1 })
  const none = await run(dir, '^zzz')
  assert.is(none.code, 1)
  assert.match(none.stderr, /no spec file in .* matches/)
})

test.run()
