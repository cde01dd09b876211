// The layers of ARCHITECTURE.md section 1: cmd -> lib -> state -> formats and primitives. A
// module imports only from its own layer or the ones below it, so a reader of the host (state/)
// never depends on a feature (lib/), and nothing below cmd/ depends on the command line. Read
// from the sources (static and dynamic relative imports), as a newcomer would check it by hand.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fs from 'node:fs'
import path from 'node:path'
import { REPO } from './helpers/cli.js'

/** The format definitions and filesystem/error primitives every layer may read (no I/O policy, no feature). */
const BELOW_STATE = /^lib\/(fsx|hash|hash-thread|errors|layout|commonjs|bytes|manifest\/(codec|problems|kinds|loaded)|chunks\/(format|cdc))\.c?ts$/
const RANK = { cmd: 3, lib: 2, state: 1, formats: 0 } as const
type Layer = keyof typeof RANK

function layerOf(rel: string): Layer {
  if (BELOW_STATE.test(rel)) return 'formats'
  return rel.split('/')[0] as Layer
}

function sources(dir: string): string[] {
  return fs.readdirSync(path.join(REPO, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = `${dir}/${e.name}`
    if (e.isDirectory()) return sources(rel)
    return /\.c?ts$/.test(e.name) && !e.name.endsWith('.d.ts') ? [rel] : []
  })
}

/** Every relative module a file imports, statically or with import(), as a repository path of its source. */
function importsOf(rel: string): string[] {
  const text = fs.readFileSync(path.join(REPO, rel), 'utf8')
  const found = [...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*)'(\.\.?\/[^']+)'/g)].map((m) => m[1]!)
  return found.map((spec) => path.posix.normalize(path.posix.join(path.posix.dirname(rel), spec)).replace(/\.js$/, '.ts').replace(/\.cjs$/, '.cts'))
}

const files = ['cmd', 'lib', 'state'].flatMap(sources)

test('the layers are what the test reads: every source file is in cmd/, lib/ or state/, and there are many', () => {
  assert.ok(files.length > 100, `only ${files.length} source files found`)
  assert.ok(files.some((f) => layerOf(f) === 'formats'))
})

test('no import points up a layer (cmd -> lib -> state -> formats and primitives)', () => {
  const upward: string[] = []
  for (const file of files) {
    for (const target of importsOf(file)) {
      if (!fs.existsSync(path.join(REPO, target))) continue
      if (RANK[layerOf(target)] > RANK[layerOf(file)]) upward.push(`${file} (${layerOf(file)}) imports ${target} (${layerOf(target)})`)
    }
  }
  assert.equal(upward, [], `imports against the layers:\n${upward.join('\n')}`)
})

test('the check sees an upward import when there is one', () => {
  // state/read.ts reads the host; a lib/ feature module is above it.
  assert.ok(RANK[layerOf('lib/doctor.ts')] > RANK[layerOf('state/read.ts')])
  assert.ok(RANK[layerOf('state/read.ts')] > RANK[layerOf('lib/manifest/codec.ts')])
  assert.equal(importsOf('lib/doctor.ts').filter((t) => t.startsWith('state/')).length > 0, true, 'lib/doctor.ts reads state/: the import parser found none')
})

test.run()
