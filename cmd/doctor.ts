import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs'
import { EXIT, Failure } from '../lib/errors.js'
import { layout } from '../lib/layout.js'
import { type GlobalArgs, handler, hostRoot, outputFor } from './common.js'
import { serviceManagerOf, serviceManagerOption } from './options.js'
import { hashProgress } from './reporter.js'

interface Args extends GlobalArgs {
  deep: boolean
  'service-manager': string
}

export const doctorCommand: CommandModule<GlobalArgs, Args> = {
  command: 'doctor',
  describe: "Report the host's verified state: active release, checksums, links, compatibility, problems",
  builder: (y: Argv<GlobalArgs>) =>
    y
      .option('service-manager', serviceManagerOption('Report the API unit and a process older than the last switch'))
      .option('deep', { type: 'boolean', default: false, describe: 'Rehash every installed byte instead of trusting the seal and a stat check' })
      .example('sudo $0 doctor --json', 'machine-readable report; exit 1 on any problem'),
  handler: handler(async (argv: ArgumentsCamelCase<Args>) => {
    const { runDoctor } = await import('../lib/doctor.js')
    const { renderDoctor } = await import('../lib/doctor-render.js')
    const out = outputFor(argv)
    const root = hostRoot(argv)
    const report = await runDoctor(layout(root), argv.deep, await hashProgress(out), serviceManagerOf(argv, root))
    if (!argv.json) out.line(renderDoctor(report, out.c))
    if (report.ok) {
      if (argv.json) out.document(report)
      return EXIT.ok
    }
    // The report lists every problem; stderr gets the one line that says what to do first (with --json, beside the report).
    throw new Failure(EXIT.failed, `${report.problems[0]}${report.problems.length > 1 ? ` (and ${report.problems.length - 1} more problem(s) in the report)` : ''}`, [], { code: 'problems', document: report })
  }),
}
