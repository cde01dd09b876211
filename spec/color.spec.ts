// Colour only on a TTY; NO_COLOR, FORCE_COLOR and --no-color respected (issue 8). The rules
// are lib/output.ts colorLevel; the CLI is also run on a real pseudo-terminal and through pipes.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { colorLevel } from '../lib/output.js'
import { buildRelease, type BuiltRelease } from './helpers/artifacts.js'
import { runCli } from './helpers/cli.js'
import { cliLine, runInPty } from './helpers/pty.js'
import { tempDir } from './helpers/tmp.js'

const T = 60_000
const COLOUR = /\x1b\[3\dm/
const tty = { isTTY: true } as NodeJS.WriteStream
const pipe = { isTTY: false } as NodeJS.WriteStream

let release: BuiltRelease
test.before(async () => {
  release = await buildRelease({ releaseId: '2026.06.10' })
})

test('colorLevel: a TTY gets colour, a pipe does not', () => {
  assert.is(colorLevel(true, tty, {}), 1)
  assert.is(colorLevel(true, pipe, {}), 0)
  assert.is(colorLevel(true, tty, { TERM: 'dumb' }), 0)
})

test('colorLevel: --no-color and NO_COLOR turn it off, even with FORCE_COLOR', () => {
  assert.is(colorLevel(false, tty, {}), 0)
  assert.is(colorLevel(false, pipe, { FORCE_COLOR: '1' }), 0)
  assert.is(colorLevel(true, tty, { NO_COLOR: '1' }), 0)
  assert.is(colorLevel(true, tty, { NO_COLOR: '1', FORCE_COLOR: '3' }), 0)
  assert.is(colorLevel(true, tty, { NO_COLOR: '' }), 1, 'an empty NO_COLOR is unset (no-color.org)')
})

test('colorLevel: FORCE_COLOR turns it on in a pipe, at the level asked; 0 and false turn it off', () => {
  assert.is(colorLevel(true, pipe, { FORCE_COLOR: '1' }), 1)
  assert.is(colorLevel(true, pipe, { FORCE_COLOR: 'true' }), 1)
  assert.is(colorLevel(true, pipe, { FORCE_COLOR: '2' }), 2)
  assert.is(colorLevel(true, pipe, { FORCE_COLOR: '3' }), 3)
  assert.is(colorLevel(true, tty, { FORCE_COLOR: '0' }), 0)
  assert.is(colorLevel(true, tty, { FORCE_COLOR: 'false' }), 0)
  assert.is(colorLevel(true, pipe, { FORCE_COLOR: '' }), 0, 'an empty FORCE_COLOR is unset')
})

const plan = (...extra: string[]) => ['plan', '--root', tempDir('color-root'), '--manifest', release.manifest, ...extra]

test('plan on a terminal is coloured', async () => {
  const r = await runInPty(cliLine(plan()), {}, T)
  assert.is(r.code, 0, r.transcript)
  assert.match(r.transcript, COLOUR)
})

test('plan on a terminal with --no-color, or NO_COLOR=1, is not', async () => {
  const flag = await runInPty(cliLine(plan('--no-color')), {}, T)
  assert.is(flag.code, 0, flag.transcript)
  assert.not.match(flag.transcript, COLOUR)
  const env = await runInPty(cliLine(plan()), { NO_COLOR: '1' }, T)
  assert.is(env.code, 0, env.transcript)
  assert.not.match(env.transcript, COLOUR)
})

test('plan through a pipe is plain, unless FORCE_COLOR', async () => {
  const plain = await runCli(plan(), { env: { NO_COLOR: undefined, FORCE_COLOR: undefined }, timeoutMs: T })
  assert.is(plain.code, 0, plain.stderr)
  assert.match(plain.stdout, /fetch/)
  assert.not.match(plain.stdout, COLOUR)
  const forced = await runCli(plan(), { env: { NO_COLOR: undefined, FORCE_COLOR: '1' }, timeoutMs: T })
  assert.match(forced.stdout, COLOUR)
})

test('--json is never coloured, even with FORCE_COLOR or on a terminal', async () => {
  const forced = await runCli(plan('--json'), { env: { NO_COLOR: undefined, FORCE_COLOR: '1' }, timeoutMs: T })
  assert.is(forced.code, 0, forced.stderr)
  assert.not.match(forced.stdout, COLOUR)
  JSON.parse(forced.stdout)
  const onTty = await runInPty(cliLine(plan('--json')), {}, T)
  assert.not.match(onTty.transcript, COLOUR)
})

test.run()
