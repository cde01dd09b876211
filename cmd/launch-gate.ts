import fs from 'node:fs'
import path from 'node:path'
import { X509Certificate } from 'node:crypto'
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs'
import { EXIT, Failure, usageError } from '../lib/errors.js'
import { DEFAULT_EVIDENCE_DIR, layout } from '../lib/layout.js'
import { DEFAULT_INGRESS_URL } from '../lib/exec/smoke.js'
import { CONFIRM_PHRASE, GATE_MODES, type GateMode } from '../lib/launch-gate/checks.js'
import { type GlobalArgs, handler, outputFor } from './common.js'
import { type HostArgs, hostFlags, manifestOption } from './options.js'
import { numberFlag } from './bounds.js'

interface GateArgs extends HostArgs {
  mode: GateMode
  manifest: string
  'console-url': string
  confirm?: string
  'evidence-dir'?: string
  'public-hostname'?: string
  'evidence-key'?: string
  'ca-file'?: string
  resolve?: string | string[]
}

interface VerifyArgs extends GlobalArgs {
  dir: string
  key?: string
}

/** yargs turns a repeated flag into an array: for a single-valued flag that is a usage error, not a silent pick. */
function once(argv: object, flags: readonly string[]): void {
  for (const f of flags) if (Array.isArray((argv as Record<string, unknown>)[f])) throw usageError(`--${f} is given more than once; give it once`)
}

function readCa(file: string): Buffer {
  let pem: Buffer
  try {
    pem = fs.readFileSync(file)
  } catch (e) {
    throw usageError(`--ca-file ${file}: cannot read it (${(e as Error).message})`)
  }
  try {
    new X509Certificate(pem)
  } catch {
    throw usageError(`--ca-file ${file}: not a PEM certificate`)
  }
  return pem
}

const verifyCommand: CommandModule<GlobalArgs, VerifyArgs> = {
  command: 'verify <dir>',
  describe: 'Check a launch-gate run folder: every SHA256SUMS line, no unlisted file, and SHA256SUMS.sig with --key',
  builder: (y: Argv<GlobalArgs>) =>
    y
      .positional('dir', { type: 'string', demandOption: true, describe: 'The run folder, e.g. /var/lib/nullspace/evidence/launch-gate/20260610T120000.123Z' })
      .option('key', { type: 'string', describe: "The evidence key's public half (SPKI PEM, <key-id>.pub); without it the signature is not checked" })
      .example('$0 launch-gate verify /var/lib/nullspace/evidence/launch-gate/20260610T120000.123Z --key evidence.pub', 'exit 0 when the evidence is intact and signed by that key'),
  handler: handler(async (argv: ArgumentsCamelCase<VerifyArgs>) => {
    const { readPublicKey } = await import('../lib/signature.js')
    const { renderVerify, verifyEvidence } = await import('../lib/launch-gate/evidence.js')
    once(argv, ['key'])
    const out = outputFor(argv)
    let key
    if (argv.key !== undefined) {
      try {
        key = await readPublicKey(argv.key)
      } catch (e) {
        throw usageError(`--key ${argv.key}: not a readable ed25519 public key (SPKI PEM) (${(e as Error).message})`)
      }
    }
    const report = await verifyEvidence(argv.dir, key)
    if (!argv.json) out.line(renderVerify(report, out.c))
    else if (report.ok) out.document(report)
    if (report.ok) return EXIT.ok
    throw new Failure(EXIT.failed, `${report.dir} does not verify: ${report.problems[0]}${report.problems.length > 1 ? ` (and ${report.problems.length - 1} more)` : ''}`, [], { code: 'launch_gate_failed', document: report })
  }),
}

const runCommand: CommandModule<HostArgs, GateArgs> = {
  command: '$0',
  describe: 'Run every launch check and write a new evidence run folder: exit 0 only if all pass, 65 when the manifest is invalid or untrusted, else 1',
  builder: (y: Argv<HostArgs>) =>
    y
      .option('mode', { choices: GATE_MODES, demandOption: true, describe: 'localhost, or owned-domain (https console on --public-hostname, signed manifest, signed evidence)' })
      .option('manifest', { ...manifestOption('the release manifest.json the host must be running'), demandOption: true })
      .option('console-url', { type: 'string', demandOption: true, describe: 'URL of the console; must answer 200 with HTML' })
      .option('confirm', { type: 'string', describe: `Must be exactly "${CONFIRM_PHRASE}"` })
      .option('evidence-dir', { type: 'string', describe: `Where run folders are written (default ${DEFAULT_EVIDENCE_DIR} under --root; a given directory is used as is)` })
      .option('public-hostname', { type: 'string', describe: 'owned-domain: the public host name the console is served on' })
      .option('ingress-url', { type: 'string', default: DEFAULT_INGRESS_URL, describe: 'Base URL of the ingress the fixture smoke checks' })
      .option('smoke-timeout', numberFlag('smoke-timeout', { default: 10, describe: 'Seconds the console check and the ingress smoke may take' }))
      .option('evidence-key', { type: 'string', describe: 'ed25519 private key that signs SHA256SUMS (default: etc/nullspace/evidence-key under --root, if present)' })
      .option('ca-file', { type: 'string', describe: 'Extra CA certificate (PEM) trusted for the https console check' })
      .option('resolve', { type: 'string', describe: 'HOST:IP (or HOST:PORT:IP), repeatable: the console check connects to IP for HOST, as curl --resolve; SNI, Host and the certificate check keep HOST' })
      .example(`sudo $0 launch-gate --mode localhost --manifest /mnt/nullspace-release/manifest.json --console-url http://localhost/console/ --confirm "${CONFIRM_PHRASE}" --evidence-dir /var/lib/nullspace/evidence/launch-gate`, 'the localhost launch gate')
      .example(`sudo $0 launch-gate --mode owned-domain --public-hostname console.example.com --console-url https://console.example.com/console/ --manifest M --confirm "${CONFIRM_PHRASE}"`, 'the signed owned-domain preview path'),
  handler: handler(async (argv: ArgumentsCamelCase<GateArgs>) => {
    const { parseResolve } = await import('../lib/launch-gate/http.js')
    const { runGate } = await import('../lib/launch-gate/run.js')
    const { gateDocument, renderGate, resolveEvidenceKey, writeEvidence } = await import('../lib/launch-gate/evidence.js')
    once(argv, ['mode', 'manifest', 'console-url', 'confirm', 'evidence-dir', 'public-hostname', 'ingress-url', 'smoke-timeout', 'evidence-key', 'ca-file'])
    if (argv.confirm !== CONFIRM_PHRASE) throw usageError(`launch-gate needs --confirm "${CONFIRM_PHRASE}" exactly${argv.confirm === undefined ? '' : `, not ${JSON.stringify(argv.confirm)}`}; nothing was checked or written`)
    const publicHostname = argv['public-hostname'] ?? null
    if (argv.mode === 'owned-domain' && !publicHostname) throw usageError('--mode owned-domain needs --public-hostname H, the name the console is served on')
    const out = outputFor(argv)
    const flags = hostFlags(argv)
    if (flags.smokeTimeoutS === 0) throw usageError('--smoke-timeout must be more than 0 seconds')
    const l = layout(flags.root)
    const ca = argv['ca-file'] === undefined ? null : readCa(argv['ca-file'])
    const resolve = ([] as string[]).concat(argv.resolve ?? []).map(parseResolve)
    const key = await resolveEvidenceKey(l, argv['evidence-key'])
    const explicitDir = argv['evidence-dir']
    const evidenceDir = explicitDir === undefined ? l.host(DEFAULT_EVIDENCE_DIR) : path.resolve(explicitDir)

    const run = await runGate({
      mode: argv.mode, flags, manifestPath: argv.manifest, consoleUrl: argv['console-url'], publicHostname,
      ingressUrl: argv['ingress-url'] ?? DEFAULT_INGRESS_URL, timeoutS: argv['smoke-timeout'] ?? 10, ca, resolve, evidenceKey: key.facts,
    })
    const doc = gateDocument(run, key)
    let written
    try {
      written = await writeEvidence(evidenceDir, explicitDir === undefined ? flags.root : null, doc, run, key)
    } catch (e) {
      if (!argv.json) out.line(renderGate(doc, null, out.c))
      throw new Failure(EXIT.failed, `cannot write the evidence under ${evidenceDir}: ${(e as Error).message}; the gate result is not recorded`)
    }
    if (!argv.json) out.line(renderGate(doc, written, out.c))
    else if (doc.ok) out.document({ ...doc, run_dir: written.dir })
    if (doc.ok) return EXIT.ok
    const failed = doc.checks.filter((c) => c.status === 'fail')
    // An invalid or untrusted manifest is exit 65, as for every command that acts on the host's releases.
    const untrusted = doc.failed_checks.includes('manifest.trusted')
    throw new Failure(untrusted ? EXIT.badManifest : EXIT.failed, `launch gate failed: ${failed.map((c) => `${c.name}: ${c.detail}`).join(' | ')}`, [], {
      code: untrusted ? 'bad_manifest' : 'launch_gate_failed',
      document: { ...doc, run_dir: written.dir },
    })
  }),
}

export const launchGateCommand: CommandModule<HostArgs, HostArgs> = {
  command: 'launch-gate',
  describe: 'Run every launch check and write checksummed, signed evidence (exit 0 only if all pass); launch-gate verify DIR checks a run folder',
  builder: (y: Argv<HostArgs>) => y.command(runCommand).command(verifyCommand as unknown as CommandModule<HostArgs, VerifyArgs>),
  handler: () => {},
}
