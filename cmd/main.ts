#!/usr/bin/env node
// The CLI's entry: global flags, the command list, and one-line usage errors (exit 64).
import yargs from 'yargs'
import { hideBin } from 'yargs/helpers'
import { TOOL_VERSION } from '../lib/version.js'
import { EXIT } from '../lib/errors.js'
import type { GlobalArgs } from './common.js'
import { manifest } from './manifest.js'
import { planCommand } from './plan.js'
import { applyCommand } from './apply.js'
import { installCommand } from './install.js'
import { artifactsCommand } from './artifacts.js'
import { doctorCommand } from './doctor.js'
import { upgradeCommand } from './upgrade.js'
import { rollbackCommand } from './rollback.js'
import { releasesCommand } from './releases.js'
import { pruneCommand } from './prune.js'
import { launchGateCommand } from './launch-gate.js'

const args = hideBin(process.argv)

// `--version` alone prints the tool's version; `manifest build --version X` is the release version.
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  process.stdout.write(`${TOOL_VERSION}\n`)
} else {
  await cli(args)
}

async function cli(argv: string[]): Promise<void> {
  const y = yargs(argv)
    .scriptName('nullspace-host')
    .usage('$0 <command> [flags]\n\nInstall, verify, upgrade and roll back the nullspace single-host appliance from a release manifest.')
    .version(false)
    .option('root', { type: 'string', default: process.env.NULLSPACE_ROOT || '/', describe: 'Host root every path is under (env NULLSPACE_ROOT)', global: true })
    .option('json', { type: 'boolean', default: false, describe: 'Machine-readable output on stdout', global: true })
    .option('color', { type: 'boolean', default: true, describe: 'Colour on a TTY (--no-color or NO_COLOR turn it off)', global: true })
    .option('quiet', { type: 'boolean', default: false, describe: 'Only errors and warnings', global: true })
    .option('lock-timeout', { type: 'number', default: 0, describe: 'Seconds to wait for the host lock', global: true })
    .option('allow-http', { type: 'boolean', default: false, describe: 'Accept http: artifact URLs', global: true })
    .option('allow-expired', { type: 'boolean', default: false, describe: 'Accept a manifest past its expires_at', global: true })
    .option('stall-timeout', { type: 'number', default: 30, describe: 'Seconds without a byte before a transfer is retried', global: true })
    .option('hook-timeout', { type: 'number', default: 120, describe: 'Seconds a post-switch hook may run', global: true })
    .command(manifest)
    .command(planCommand)
    .command(applyCommand)
    .command(installCommand)
    .command(artifactsCommand)
    .command(doctorCommand)
    .command(upgradeCommand)
    .command(rollbackCommand)
    .command(releasesCommand)
    .command(pruneCommand)
    .command(launchGateCommand)
    .demandCommand(1, 'name a command; see nullspace-host --help')
    .recommendCommands()
    .strict()
    .help()
    .alias('help', 'h')
    .wrap(Math.min(110, process.stdout.columns || 110))
    .fail((msg, err) => {
      if (err) throw err
      process.stderr.write(`nullspace-host: ${msg.split('\n')[0]}; see --help\n`)
      process.exit(EXIT.usage)
    })
  await y.parseAsync()
}
