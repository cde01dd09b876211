// `nullspace-host completion` prints a bash or zsh completion script (yargs .completion()), and
// the script really completes: bash sources it and asks the tool, as a shell does on TAB.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fs from 'node:fs'
import path from 'node:path'
import { CLI, runCli, runProcess } from './helpers/cli.js'
import { tempDir } from './helpers/tmp.js'

const T = 30_000

test('completion prints a bash script that registers a completion function for nullspace-host', async () => {
  const r = await runCli(['completion'], { env: { SHELL: '/bin/bash', ZSH_NAME: undefined }, timeoutMs: T })
  assert.is(r.code, 0, r.stderr)
  assert.match(r.stdout, /^###-begin-nullspace-host-completions-###/)
  assert.match(r.stdout, /complete -o bashdefault -o default -F _nullspace-host_yargs_completions nullspace-host/)
  assert.match(r.stdout, /nullspace-host --get-yargs-completions/)
  assert.is(r.stderr, '')
})

test('with SHELL=zsh it prints a zsh script (compdef)', async () => {
  const r = await runCli(['completion'], { env: { SHELL: '/usr/bin/zsh' }, timeoutMs: T })
  assert.is(r.code, 0, r.stderr)
  assert.match(r.stdout, /#compdef nullspace-host/)
  assert.match(r.stdout, /compdef _nullspace-host_yargs_completions nullspace-host/)
})

test('the tool answers completion queries: commands, subcommands, flags', async () => {
  const top = await runCli(['--get-yargs-completions', 'nullspace-host', ''], { env: { SHELL: '/bin/bash' }, timeoutMs: T })
  for (const c of ['install', 'upgrade', 'rollback', 'doctor', 'manifest', 'launch-gate', 'completion']) assert.ok(top.stdout.split('\n').includes(c), `${c} not offered:\n${top.stdout}`)
  const sub = await runCli(['--get-yargs-completions', 'nullspace-host', 'manifest', ''], { env: { SHELL: '/bin/bash' }, timeoutMs: T })
  for (const c of ['build', 'validate', 'keygen', 'sign']) assert.ok(sub.stdout.split('\n').includes(c), `${c} not offered:\n${sub.stdout}`)
  const flags = await runCli(['--get-yargs-completions', 'nullspace-host', 'upgrade', '--'], { env: { SHELL: '/bin/bash' }, timeoutMs: T })
  for (const f of ['--manifest', '--dry-run', '--skip-ingress-smoke', '--root']) assert.ok(flags.stdout.split('\n').includes(f), `${f} not offered:\n${flags.stdout}`)
})

const ask = async (...words: string[]) => {
  const r = await runCli(['--get-yargs-completions', 'nullspace-host', ...words], { env: { SHELL: '/bin/bash' }, timeoutMs: T })
  assert.is(r.code, 0, r.stderr)
  return r.stdout.split('\n').filter(Boolean)
}

test('after a path flag the tool offers nothing, so the shell completes file names (bash -o default, zsh _default)', async () => {
  for (const words of [['install', '--manifest', ''], ['plan', '--out', 'pl'], ['manifest', 'build', '--artifact-dir', ''], ['doctor', '--root', '/t'], ['launch-gate', '--evidence-dir', '']])
    assert.equal(await ask(...words), [], `nothing offered after ${words.join(' ')}`)
  const bash = await runCli(['completion'], { env: { SHELL: '/bin/bash', ZSH_NAME: undefined }, timeoutMs: T })
  assert.match(bash.stdout, /if no match was found, fall back to filename completion/)
  assert.match(bash.stdout, /complete -o bashdefault -o default -F/)
  const zsh = await runCli(['completion'], { env: { SHELL: '/usr/bin/zsh' }, timeoutMs: T })
  assert.match(zsh.stdout, /_default/)
})

test('after --mode and --service-manager the tool offers their values', async () => {
  assert.equal(await ask('launch-gate', '--mode', ''), ['localhost', 'owned-domain'])
  assert.equal(await ask('install', '--service-manager', ''), ['auto', 'systemd', 'none'])
  assert.equal(await ask('upgrade', '--service-manager', 'sy'), ['systemd'])
})

test('no literal $0 is offered (launch-gate runs by default and has verify)', async () => {
  const offered = await ask('launch-gate', '')
  assert.ok(offered.includes('verify'), offered.join(' '))
  assert.not.ok(offered.includes('$0'), offered.join(' '))
  for (const words of [[''], ['manifest', ''], ['upgrade', '--']]) assert.not.ok((await ask(...words)).includes('$0'), words.join(' '))
})

test('bash, having sourced the script, completes "nullspace-host inst" to install and "manifest b" to build', async () => {
  // nullspace-host on PATH, as after installing the bundle.
  const bin = tempDir('completion-bin')
  fs.writeFileSync(path.join(bin, 'nullspace-host'), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} "$@"\n`, { mode: 0o755 })
  const script = [
    'source <(nullspace-host completion)',
    'COMP_WORDS=(nullspace-host inst); COMP_CWORD=1; _nullspace-host_yargs_completions; echo "1:${COMPREPLY[*]}"',
    'COMP_WORDS=(nullspace-host manifest b); COMP_CWORD=2; _nullspace-host_yargs_completions; echo "2:${COMPREPLY[*]}"',
  ].join('\n')
  const r = await runProcess('bash', ['-c', script], { env: { PATH: `${bin}:${process.env.PATH}`, SHELL: '/bin/bash' }, timeoutMs: T })
  assert.is(r.code, 0, r.stderr)
  assert.match(r.stdout, /^1:install$/m)
  assert.match(r.stdout, /^2:build$/m)
})

test.run()
