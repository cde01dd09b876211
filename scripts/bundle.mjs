#!/usr/bin/env node
// `npm run bundle`: the operator tool as ONE self-contained executable file (DESIGN.md: the
// operator_tool release component). esbuild inlines every dependency into an ES module for
// Node 20; it runs with no node_modules beside or above it.
//
//   node scripts/bundle.mjs [--outfile FILE]     (default dist/nullspace-host.mjs)
import { build } from 'esbuild'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const at = process.argv.indexOf('--outfile')
const outfile = path.resolve(at > 0 ? process.argv[at + 1] : path.join(REPO, 'dist/nullspace-host.mjs'))

await build({
  entryPoints: [path.join(REPO, 'cmd/main.ts')],
  outfile,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  // ESM builds of dependencies first (jsonc-parser's UMD `main` hides its requires from a bundler).
  mainFields: ['module', 'main'],
  // CommonJS dependencies (cli-progress, semver, ...) call require() for Node's built-ins: give
  // the ES module a real one. The entry's `#!/usr/bin/env node` stays the first line.
  banner: { js: "import { createRequire as __nullspaceCreateRequire } from 'node:module';\nconst require = __nullspaceCreateRequire(import.meta.url);" },
  legalComments: 'none',
  logLevel: 'warning',
})
fs.chmodSync(outfile, 0o755)
const size = fs.statSync(outfile).size
process.stdout.write(`wrote ${path.relative(process.cwd(), outfile) || outfile} (${(size / 1024).toFixed(0)} KiB)\n`)
