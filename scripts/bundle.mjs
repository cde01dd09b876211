#!/usr/bin/env node
// The tool's two compiled forms, both with every dependency inlined by esbuild, for Node 20,
// running with no node_modules beside or above them:
//
//   node scripts/bundle.mjs [--outfile FILE]   `npm run bundle`: ONE self-contained executable
//                                              file (default dist/nullspace-host.mjs), the
//                                              release's operator_tool component (README)
//   node scripts/bundle.mjs --bin              part of `npm run build`: the package `bin`,
//                                              dist/bin/main.mjs plus chunks; a command reads
//                                              only the chunks it runs, where the one file
//                                              is parsed whole (~35 ms of every start)
import { build } from 'esbuild'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const at = process.argv.indexOf('--outfile')
const bin = process.argv.includes('--bin')
const outfile = path.resolve(at > 0 ? process.argv[at + 1] : path.join(REPO, 'dist/nullspace-host.mjs'))
const outdir = path.join(REPO, 'dist/bin')

/**
 * yargs imports its help renderer eagerly: cliui and two copies of string-width, which build an
 * Intl.Segmenter and compile Unicode-property regexes (RGI_Emoji) at module top, about 23 ms
 * of every command (measured with --cpu-prof positionTicks). Here their imports from yargs and
 * cliui become a stub that require()s the real module on first call: esbuild initialises a
 * require()d module lazily, so only help and usage errors pay for it.
 */
const lazyHelpRenderer = {
  name: 'lazy-help-renderer',
  setup(b) {
    b.onResolve({ filter: /^(cliui|string-width)$/ }, (args) => {
      if (args.namespace === 'lazy' || !/node_modules\/(yargs|cliui)\//.test(args.importer)) return undefined
      return { path: `${args.path}@${args.resolveDir}`, namespace: 'lazy', pluginData: { name: args.path, resolveDir: args.resolveDir } }
    })
    b.onLoad({ filter: /.*/, namespace: 'lazy' }, ({ pluginData: { name, resolveDir } }) => ({
      contents: `let real\nexport default function (...args) {\n  real ??= require(${JSON.stringify(name)}).default\n  return real(...args)\n}\n`,
      resolveDir,
    }))
  },
}

if (bin) fs.rmSync(outdir, { recursive: true, force: true })
await build({
  entryPoints: [path.join(REPO, 'cmd/main.ts')],
  ...(bin ? { outdir, splitting: true, chunkNames: 'chunks/[name]-[hash]', outExtension: { '.js': '.mjs' } } : { outfile }),
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  // ESM builds of dependencies first (jsonc-parser's UMD `main` hides its requires from a bundler).
  mainFields: ['module', 'main'],
  // CommonJS dependencies (cli-progress, semver, ...) call require() for Node's built-ins: give
  // the ES module a real one. The entry's `#!/usr/bin/env node` stays the first line.
  banner: { js: "import { createRequire as __nullspaceCreateRequire } from 'node:module';\nconst require = __nullspaceCreateRequire(import.meta.url);" },
  plugins: [lazyHelpRenderer],
  legalComments: 'none',
  logLevel: 'warning',
})
const entry = bin ? path.join(outdir, 'main.mjs') : outfile
fs.chmodSync(entry, 0o755)
if (!bin) process.stdout.write(`wrote ${path.relative(process.cwd(), outfile) || outfile} (${(fs.statSync(outfile).size / 1024).toFixed(0)} KiB)\n`)
