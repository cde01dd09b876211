import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { runCli } from './helpers/cli.js'
import { TOOL_VERSION } from '../lib/version.js'

const pkg = JSON.parse(fs.readFileSync(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../package.json'), 'utf8'))

test('--version prints the tool version, equal to package.json', async () => {
  const r = await runCli(['--version'])
  assert.is(r.code, 0)
  assert.is(r.stdout.trim(), pkg.version)
  assert.is(TOOL_VERSION, pkg.version)
})

test('an unknown command is a one-line usage error, exit 64', async () => {
  const r = await runCli(['instal'])
  assert.is(r.code, 64)
  assert.is(r.stderr.trim().split('\n').length, 1)
  assert.match(r.stderr, /^nullspace-host: /)
})

test('no command at all is a usage error that points at --help', async () => {
  const r = await runCli([])
  assert.is(r.code, 64)
  assert.match(r.stderr, /--help/)
})

test.run()
