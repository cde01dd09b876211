#!/usr/bin/env node
// The CLI's entry. `--version` answers before anything else is loaded; every other command
// loads the parser and the command list (cli.ts), and each command loads what it runs.
import { TOOL_VERSION } from '../lib/version.js'

// What yargs' hideBin returns when not in Electron, without loading yargs.
const args = process.argv.slice(2)

// `--version` alone prints the tool's version; `manifest build --version X` is the release version.
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  process.stdout.write(`${TOOL_VERSION}\n`)
} else {
  const { outlastClosedOutput } = await import('../lib/output.js')
  outlastClosedOutput()
  const { cli } = await import('./cli.js')
  await cli(args)
}
