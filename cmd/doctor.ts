import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs'
import { EXIT } from '../lib/errors.js'
import { layout } from '../lib/layout.js'
import { type GlobalArgs, handler, hashProgress, hostRoot, outputFor } from './common.js'

interface Args extends GlobalArgs {
  deep: boolean
}

export const doctorCommand: CommandModule<GlobalArgs, Args> = {
  command: 'doctor',
  describe: "Report the host's verified state: active release, checksums, links, compatibility, problems",
  builder: (y: Argv<GlobalArgs>) =>
    y
      .option('deep', { type: 'boolean', default: false, describe: 'Rehash every installed byte instead of trusting the seal and a stat check' })
      .example('sudo $0 doctor --json', 'machine-readable report; exit 1 on any problem'),
  handler: handler(async (argv: ArgumentsCamelCase<Args>) => {
    const { runDoctor } = await import('../lib/doctor.js')
    const { renderDoctor } = await import('../lib/doctor-render.js')
    const out = outputFor(argv)
    const report = await runDoctor(layout(hostRoot(argv)), argv.deep, await hashProgress(out))
    if (argv.json) out.document(report)
    else out.line(renderDoctor(report, out.c))
    // The report lists every problem; stderr gets the one line that says what to do first.
    if (!report.ok) process.stderr.write(`nullspace-host: ${report.problems[0]}${report.problems.length > 1 ? ` (and ${report.problems.length - 1} more problem(s) in the report)` : ''}\n`)
    return report.ok ? EXIT.ok : EXIT.failed
  }),
}
