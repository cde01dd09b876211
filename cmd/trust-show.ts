import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs'
import { EXIT } from '../lib/errors.js'
import { type GlobalArgs, handler, hostRoot, outputFor } from './common.js'

export const trustShow: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'show',
  describe: 'Show the trust root (version, expiry, threshold, key ids), the trusted keys, and the evidence key beside them',
  builder: (y: Argv<GlobalArgs>) => y.example('$0 trust show --json', 'one document: root, trusted_keys, evidence_key'),
  handler: handler(async (argv: ArgumentsCamelCase<GlobalArgs>) => {
    const { trustReport, renderTrustReport } = await import('../lib/trust/show.js')
    const out = outputFor(argv)
    const report = await trustReport(hostRoot(argv), new Date())
    if (argv.json) out.document({ ok: true, ...report })
    else for (const line of renderTrustReport(report)) out.line(line)
    return EXIT.ok
  }),
}
