import type { Argv, CommandModule } from 'yargs'
import type { GlobalArgs } from './common.js'
import { channelAdd } from './channel-add.js'
import { channelDeadend } from './channel-deadend.js'

export const channelCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'channel <command>',
  describe: 'Publish a release channel: add releases, mark dead ends (sign the file with manifest sign)',
  builder: (y: Argv<GlobalArgs>) => y.command(channelAdd).command(channelDeadend).demandCommand(1, 'name a channel subcommand: add or deadend'),
  handler: () => {},
}
