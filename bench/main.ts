// `npm run bench` (full) and `npm run bench -- --quick` (CI smoke, small sizes, under a
// minute). Makes its own artifacts in a temp dir, runs the compiled CLI and the reference
// commands alternately, prints a table of medians and ratios, writes bench/out/results.json.
// Quick mode exits 1 when a figure is off its target by more than 3x; either mode exits 2
// when the harness itself fails.
//
// Flags: --quick, --runs N, --only 1,3,5 (case numbers; 4 runs with 2), --cpu-prof (one
// extra profiled run per tool command, summarised; profiles in bench/out/prof/), --keep
// (leave the temp dir), --tmp DIR (parent of the temp dir, default the OS temp dir),
// --rootfs-mib N (size of the rootfs of cases 1-5 and 7), --cli FILE (bench another build's
// main.mjs, e.g. a copy of dist/bin taken before a change: the "before" column).
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { spawnSync } from 'node:child_process'
import { FULL, QUICK, Fixtures, caseHash, caseInstallFile, caseInstallHttp, caseMemory, caseNoop, caseResume, caseHashTwo, type Config } from './cases.js'
import { cpuTable, notes, table, type Row } from './report.js'
import { GiB, MiB, REPO, fmtBytes, freeBytes, log, rmrf, snapshotCli } from './util.js'

interface Args {
  quick: boolean
  runs?: number
  only?: Set<number>
  cpuProf: boolean
  keep: boolean
  tmp: string
  rootfsMiB?: number
  cli?: string
}

function parseArgs(argv: string[]): Args {
  const a: Args = { quick: false, cpuProf: false, keep: false, tmp: os.tmpdir() }
  for (let i = 0; i < argv.length; i++) {
    const f = argv[i]
    const value = () => {
      const v = argv[++i]
      if (v === undefined) usage(`${f} needs a value`)
      return v
    }
    if (f === '--quick') a.quick = true
    else if (f === '--cpu-prof') a.cpuProf = true
    else if (f === '--keep') a.keep = true
    else if (f === '--tmp') a.tmp = value()
    else if (f === '--cli') a.cli = value()
    else if (f === '--rootfs-mib') {
      a.rootfsMiB = Number(value())
      if (!Number.isInteger(a.rootfsMiB) || a.rootfsMiB < 2) usage('--rootfs-mib must be an integer >= 2')
    }
    else if (f === '--runs') {
      a.runs = Number(value())
      if (!Number.isInteger(a.runs) || a.runs < 1) usage('--runs must be a positive integer')
    } else if (f === '--only') a.only = new Set(value().split(',').map(Number))
    else if (f === '--help' || f === '-h') usage()
    else usage(`unknown flag ${f}`)
  }
  return a
}

function usage(problem?: string): never {
  if (problem) process.stderr.write(`bench: ${problem}\n`)
  process.stderr.write('usage: npm run bench -- [--quick] [--runs N] [--only 1,2,3,5,6,7,8] [--cpu-prof] [--keep] [--tmp DIR] [--rootfs-mib N] [--cli FILE]\n')
  process.exit(problem ? 64 : 0)
}

const CASES: { n: number; run: (fx: Fixtures) => Promise<Row[]> }[] = [
  { n: 1, run: caseHash },
  { n: 2, run: caseInstallFile }, // also case 4 (the upgrade runs on each freshly installed host)
  { n: 3, run: caseInstallHttp },
  { n: 5, run: caseNoop },
  { n: 6, run: caseMemory },
  { n: 7, run: caseResume },
  { n: 8, run: caseHashTwo },
]

function machine() {
  const cpu = os.cpus()[0]?.model ?? 'unknown'
  const fsType = spawnSync('findmnt', ['-n', '-o', 'FSTYPE', '-T', os.tmpdir()], { encoding: 'utf8' }).stdout?.trim() || 'unknown'
  return { nproc: os.availableParallelism(), cpu, node: process.version, kernel: os.release(), memory: fmtBytes(os.totalmem()), tmp_fs: fsType }
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2))
  const preset = args.quick ? QUICK : FULL
  const outDir = path.join(REPO, 'bench/out')
  const cfg: Config = {
    quick: args.quick,
    runs: args.runs ?? preset.runs,
    fastRuns: args.runs ? Math.max(args.runs, preset.fastRuns) : preset.fastRuns,
    rssRuns: args.runs ? Math.min(args.runs, preset.rssRuns) : preset.rssRuns,
    resumeRuns: args.runs ? Math.min(args.runs, preset.resumeRuns) : preset.resumeRuns,
    sizes: args.rootfsMiB ? { ...preset.sizes, rootfs: args.rootfsMiB * MiB } : preset.sizes,
    bigArtifact: preset.bigArtifact,
    twoImages: preset.twoImages,
    releases: preset.releases,
    profDir: path.join(outDir, 'prof'),
    cpuProf: args.cpuProf,
  }
  const selected = CASES.filter((c) => !args.only || args.only.has(c.n) || (c.n === 2 && args.only.has(4)))

  // Peak disk: release A and its installed host, one cp copy and one install root at a time,
  // and the memory case's artifact with its installed copy.
  const need = cfg.sizes.rootfs * 4 + cfg.bigArtifact * 1.1 + 2 * GiB * (args.quick ? 0.1 : 1) + cfg.twoImages * 4
  const free = freeBytes(args.tmp)
  if (free < need) {
    log(`bench: ${args.tmp} has ${fmtBytes(free)} free; this run needs about ${fmtBytes(need)}`)
    return 2
  }
  const base = fs.mkdtempSync(path.join(args.tmp, 'nullspace-bench-'))
  const cleanup = () => {
    if (!args.keep) rmrf(base)
  }
  process.on('SIGINT', () => {
    cleanup()
    process.exit(130)
  })

  const started = Date.now()
  const loadStart = os.loadavg().map((x) => x.toFixed(1)).join(' ')
  const m = machine()
  const cliPath = snapshotCli(args.cli)
  const rev = spawnSync('git', ['-C', REPO, 'describe', '--always', '--dirty'], { encoding: 'utf8' }).stdout?.trim() || 'unknown'
  log(`nullspace-host bench (${args.quick ? 'quick' : 'full'}): ${cfg.runs} runs per side, rootfs ${fmtBytes(cfg.sizes.rootfs)}, ${m.nproc} cpus, node ${m.node}, temp ${base}, tool ${cliPath} (git ${rev})`)
  const fx = new Fixtures(cfg, base)
  const rows: Row[] = []
  let failure: unknown = null
  try {
    for (const c of selected) rows.push(...(await c.run(fx)))
  } catch (e) {
    failure = e
  } finally {
    await fx.close()
    cleanup()
  }
  const seconds = Math.round((Date.now() - started) / 1000)
  if (failure) {
    log(`bench: ${failure instanceof Error ? failure.message : String(failure)}`)
    if (failure instanceof Error && process.env.BENCH_DEBUG) log(failure.stack ?? '')
  }

  const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`
  const noted = notes(rows)
  const text = `${table(rows)}${noted ? `\n\n${noted}` : ''}`
  const cpu = cpuTable(rows)
  const load = `load average ${loadStart} at start, ${os.loadavg().map((x) => x.toFixed(1)).join(' ')} at end`
  process.stdout.write(`\n${text}\n\n${cpu}\n\n${command} · ${m.nproc} cpus (${m.cpu}) · node ${m.node} · ${m.tmp_fs} · ${load} · ${seconds} s\n`)
  fs.mkdirSync(outDir, { recursive: true })
  const results = {
    command,
    mode: args.quick ? 'quick' : 'full',
    finished_at: new Date().toISOString(),
    seconds,
    machine: m,
    git: rev,
    load_average: { start: loadStart, end: os.loadavg().map((x) => x.toFixed(1)).join(' ') },
    config: { runs: cfg.runs, fast_runs: cfg.fastRuns, rss_runs: cfg.rssRuns, resume_runs: cfg.resumeRuns, sizes: cfg.sizes, big_artifact: cfg.bigArtifact, releases: cfg.releases },
    rows,
    profiles: fx.profiles,
    error: failure ? String(failure instanceof Error ? failure.message : failure) : null,
  }
  fs.writeFileSync(path.join(outDir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`)
  fs.writeFileSync(path.join(outDir, 'table.md'), `${text}\n\n${cpu}\n`)
  log(`wrote ${path.join(outDir, 'results.json')}`)

  if (failure) return 2
  const off = rows.filter((r) => !r.within3x)
  const missed = rows.filter((r) => !r.holds)
  if (missed.length) log(`targets missed: ${missed.map((r) => `[${r.case}] ${r.name}`).join('; ')}`)
  if (args.quick && off.length) {
    log(`CI smoke fails: off its target by more than 3x (less the fixed cost, where measured): ${off.map((r) => `[${r.case}] ${r.name}`).join('; ')}`)
    return 1
  }
  return 0
}

process.exitCode = await main()
