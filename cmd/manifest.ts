import type { Argv, CommandModule } from 'yargs'
import type { GlobalArgs } from './common.js'
import { manifestBuild } from './manifest-build.js'
import { manifestValidate } from './manifest-validate.js'
import { manifestKeygen } from './manifest-keygen.js'
import { manifestSign } from './manifest-sign.js'

export const manifest: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'manifest <command>',
  describe: 'Build, validate, sign release manifests',
  builder: (y: Argv<GlobalArgs>) =>
    y
      .command(manifestBuild)
      .command(manifestValidate)
      .command(manifestKeygen)
      .command(manifestSign)
      .demandCommand(1, 'name a manifest subcommand: build, validate, keygen or sign'),
  handler: () => {},
}
