// README's command reference is generated from the yargs definitions (scripts/docs.mjs runs
// every command's --help): this spec fails when README and --help disagree, and checks that
// the check itself notices a drift.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fs from 'node:fs'
import path from 'node:path'
import { REPO, CLI, runCli, runProcess } from './helpers/cli.js'
import { tempDir } from './helpers/tmp.js'
import { cliLine, runInPty } from './helpers/pty.js'

const DOCS = path.join(REPO, 'scripts/docs.mjs')
const README = path.join(REPO, 'README.md')
const T = 120_000
const check = (readme: string) => runProcess(process.execPath, [DOCS, '--cli', CLI, '--readme', readme, '--check'], { timeoutMs: T })

test('README.md has the command reference --help prints (run `npm run docs` after changing a command)', async () => {
  const r = await check(README)
  assert.is(r.code, 0, r.stderr)
})

test('the reference covers every command and subcommand the CLI lists', async () => {
  const readme = fs.readFileSync(README, 'utf8')
  const top = await runCli(['--help'], { env: { NULLSPACE_ROOT: '' } })
  const commands = [...top.stdout.matchAll(/^  nullspace-host ([a-z-]+)/gm)].map((m) => m[1]).filter((c) => c !== 'completion')
  assert.ok(commands.length >= 10, top.stdout)
  for (const c of commands) assert.match(readme, new RegExp(`^### nullspace-host ${c}$`, 'm'), `README has no section for ${c}`)
  for (const sub of ['manifest build', 'manifest validate', 'manifest keygen', 'manifest sign', 'artifacts fetch', 'releases list', 'launch-gate verify'])
    assert.match(readme, new RegExp(`^### nullspace-host ${sub}$`, 'm'), `README has no section for ${sub}`)
})

test('a README whose reference drifted from --help fails the check, naming the line', async () => {
  const copy = path.join(tempDir('docs'), 'README.md')
  const readme = fs.readFileSync(README, 'utf8')
  fs.writeFileSync(copy, readme.replace('a URL is https:, http: with', 'a URL is https:, http: via'))
  const r = await check(copy)
  assert.is(r.code, 1)
  assert.match(r.stderr, /README\.md:\d+: the command reference differs from --help/)
  assert.match(r.stderr, /npm run docs/)
  // Without --check the script writes the reference back, and then the copy passes.
  const fixed = await runProcess(process.execPath, [DOCS, '--cli', CLI, '--readme', copy], { timeoutMs: T })
  assert.is(fixed.code, 0, fixed.stderr)
  assert.is(fs.readFileSync(copy, 'utf8'), readme)
})

test('through a pipe the help is wrapped at 80 columns, whatever COLUMNS says (README is generated that way)', async () => {
  const narrow = await runCli(['install', '--help'], { env: { COLUMNS: '40' } })
  const wide = await runCli(['install', '--help'], { env: { COLUMNS: '200' } })
  assert.is(narrow.stdout, wide.stdout)
  const widest = Math.max(...narrow.stdout.split('\n').map((l) => l.length))
  assert.ok(widest <= 80 && widest > 70, `widest line ${widest}`)
})

test('on a terminal the help is wrapped to its width', async () => {
  const lines = async (cols: number) => {
    const r = await runInPty(`stty cols ${cols}; ${cliLine(['install', '--help'])}`, {}, T)
    assert.is(r.code, 0, r.transcript)
    return r.transcript.replaceAll('\r\n', '\n').split('\n')
  }
  const wide = Math.max(...(await lines(120)).map((l) => l.length))
  assert.ok(wide > 80 && wide <= 120, `on 120 columns the widest line is ${wide}`)
  const narrow = Math.max(...(await lines(60)).map((l) => l.length))
  assert.ok(narrow <= 60, `on 60 columns the widest line is ${narrow}`)
})

test("a command's help lists its own flags first, then the global ones", async () => {
  const r = await runCli(['install', '--help'])
  const text = r.stdout
  assert.ok(text.indexOf('Flags:\n') >= 0 && text.indexOf('Flags:\n') < text.indexOf('Global flags:'), text)
  /** Where the flag's own line is (a description may name another flag). */
  const at = (help: string, flag: string) => help.search(new RegExp(`^ +${flag} `, 'm'))
  assert.ok(at(text, '--manifest') >= 0 && at(text, '--manifest') < at(text, '--root'), text)
  const build = (await runCli(['manifest', 'build', '--help'])).stdout
  assert.ok(at(build, '--artifact-dir') >= 0 && at(build, '--artifact-dir') < at(build, '--root'), build)
})

test('help COMMAND prints what COMMAND --help prints', async () => {
  for (const words of [['install'], ['manifest', 'build'], ['launch-gate', 'verify'], []]) {
    const viaHelp = await runCli(['help', ...words])
    const viaFlag = await runCli([...words, '--help'])
    assert.is(viaHelp.code, 0, viaHelp.stderr)
    assert.is(viaHelp.stdout, viaFlag.stdout, words.join(' '))
  }
})

test.run()
