import type { Argv, CommandModule } from 'yargs'
import type { GlobalArgs } from './common.js'
import { trustInit } from './trust-init.js'
import { trustUpdate } from './trust-update.js'
import { trustShow } from './trust-show.js'

export const trustCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'trust <command>',
  describe: 'The trust root: which keys sign manifests, how many must, until when (etc/nullspace/trust/root.json)',
  builder: (y: Argv<GlobalArgs>) => y.command(trustInit).command(trustUpdate).command(trustShow).demandCommand(1, 'name a trust subcommand: init, update or show'),
  handler: () => {},
}
