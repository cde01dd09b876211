// The seven cases of issue 7. Each runs the compiled CLI and its reference side by side,
// rotating which goes first in every rep, with `sync` (untimed) before each timed run so no
// run pays for the previous one's writeback. Both sides read warm sources: nothing is
// dropped from the page cache on this shared machine.
import fs from 'node:fs'
import path from 'node:path'
import { FILES, buildManifest, component, deriveManifest, readManifest, withBaseUrl, writeArtifactDir, writeRandom, type ArtifactSizes } from './artifacts.js'
import { lessFixed, measured, row, type Row } from './report.js'
import { startServer, type BenchServer } from './server.js'
import { newestProfile, renderSummary, summarize, type ProfileSummary } from './profile.js'
import * as util from './util.js'
import { GiB, KiB, MiB, NODE, cli, fmtBytes, fmtMs, fmtRate, log, median, mkTemp, q, rmrf, rotate, run, settle, sh, type Ran } from './util.js'

export interface Config {
  readonly quick: boolean
  /** Reps of the slow cases (tool and reference each). */
  readonly runs: number
  /** Reps of the millisecond cases (no-op plan/doctor). */
  readonly fastRuns: number
  /** Reps of the memory case (per source). */
  readonly rssRuns: number
  /** Reps of the resume case. */
  readonly resumeRuns: number
  readonly sizes: ArtifactSizes
  /** The artifact of the memory case. */
  readonly bigArtifact: number
  /** Size of each of the two images (rootfs and template) of case 8. */
  readonly twoImages: number
  /** Releases on the host of the no-op case. */
  readonly releases: number
  /** Where profiles go when cpuProf is set. */
  readonly profDir: string
  readonly cpuProf: boolean
}

export const FULL = { runs: 5, fastRuns: 15, rssRuns: 3, resumeRuns: 3, sizes: { rootfs: 2 * GiB, template: 64 * MiB, api: 8 * MiB, kernel: 32 * MiB, small: 4 * MiB }, bigArtifact: 4 * GiB, twoImages: 1 * GiB, releases: 20 }
export const QUICK = { runs: 3, fastRuns: 3, rssRuns: 1, resumeRuns: 2, sizes: { rootfs: 256 * MiB, template: 4 * MiB, api: 1 * MiB, kernel: 2 * MiB, small: 256 * KiB }, bigArtifact: 256 * MiB, twoImages: 128 * MiB, releases: 5 }

const releaseDir = (root: string, id: string) => path.join(root, 'opt/nullspace/releases', id)
const partsDir = (root: string) => path.join(root, 'opt/nullspace/releases/.staging/parts')

const installArgs = (manifest: string, root: string, http = false, extra: string[] = []) => ['install', '--manifest', manifest, '--root', root, '--quiet', ...(http ? ['--allow-http'] : []), ...extra]

/** Everything the cases share, made on first use: artifact dirs, manifests, the server, installed hosts. */
export class Fixtures {
  private server?: BenchServer
  private memo = new Map<string, Promise<unknown>>()
  readonly profiles: Record<string, ProfileSummary> = {}

  constructor(
    readonly cfg: Config,
    readonly base: string,
  ) {}

  once<T>(key: string, make: () => Promise<T>): Promise<T> {
    if (!this.memo.has(key)) this.memo.set(key, make())
    return this.memo.get(key) as Promise<T>
  }

  dir(name: string): string {
    const d = path.join(this.base, name)
    fs.mkdirSync(d, { recursive: true })
    return d
  }

  async http(): Promise<BenchServer> {
    this.server ??= await startServer({ a: path.join(this.base, 'src-a'), big: path.join(this.base, 'src-big') })
    return this.server
  }

  async close(): Promise<void> {
    await this.server?.close()
  }

  /** Release A: the artifact dir (2 GiB random rootfs in the full run). */
  srcA(): Promise<string> {
    return this.once('srcA', async () => {
      const dir = this.dir('src-a')
      log(`  making release A artifacts (${fmtBytes(this.cfg.sizes.rootfs)} random rootfs) in ${dir}`)
      writeArtifactDir(dir, this.cfg.sizes)
      return dir
    })
  }

  /** A's manifest with file:// URLs, from the real `manifest build`. */
  manifestA(): Promise<string> {
    return this.once('mA', async () => buildManifest(await this.srcA(), path.join(this.dir('manifests'), 'a.json'), 'bench-a', '0.1.0'))
  }

  /** A's manifest with http://127.0.0.1 URLs (`--base-url`), same bytes. */
  manifestAHttp(): Promise<string> {
    return this.once('mAhttp', async () => {
      const dir = await this.srcA()
      return buildManifest(dir, path.join(this.dir('manifests'), 'a-http.json'), 'bench-a', '0.1.0', (await this.http()).baseUrl('a'))
    })
  }

  /** B: A with a new api binary (version 0.1.1); everything else the same bytes. */
  manifestB(): Promise<string> {
    return this.once('mB', async () => {
      const api = path.join(this.dir('extra'), 'api-b')
      writeRandom(api, this.cfg.sizes.api)
      return deriveManifest(readManifest(await this.manifestA()), path.join(this.dir('manifests'), 'b.json'), 'bench-b', '0.1.1', api)
    })
  }

  /** A host root with A installed (untimed): the deep doctor reads it, the no-op case grows it. */
  hostA(): Promise<string> {
    return this.once('hostA', async () => {
      const root = mkTemp(this.base, 'host-a')
      await cli(installArgs(await this.manifestA(), root))
      return root
    })
  }

  /**
   * Runs one extra, untimed tool invocation under `node --cpu-prof` (when profiling) and keeps
   * its summary. `prepare` makes the state the command needs (a fresh root for an install).
   */
  async profile(label: string, args: () => Promise<string[]>, ok: number[] = [0]): Promise<void> {
    if (!this.cfg.cpuProf) return
    const dir = path.join(this.cfg.profDir, label)
    rmrf(dir)
    settle()
    await cli(await args(), { ok }, ['--cpu-prof', `--cpu-prof-dir=${dir}`])
    const file = newestProfile(dir)
    if (!file) return log(`  (no profile written for ${label})`)
    this.profiles[label] = summarize(file, 15)
    log(renderSummary(this.profiles[label], label))
  }
}

type Timed = () => Promise<Ran>

/** CPU samples (user+sys, GNU time) of a list of wall-time samples, when measured. */
const CPU = new WeakMap<readonly number[], number[]>()
const mm = (label: string, unit: 'ms', samples: readonly number[]) => measured(label, unit, samples, CPU.get(samples))

/** Runs each variant `reps` times, rotating the order per rep; returns the wall-time samples per variant. */
async function alternate(reps: number, variants: Record<string, Timed>, progress: string): Promise<Record<string, number[]>> {
  const names = Object.keys(variants)
  const out: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]))
  for (const n of names) CPU.set(out[n], [])
  for (let i = 0; i < reps; i++) {
    for (const n of rotate(names, i)) {
      settle()
      const r = await variants[n]()
      out[n].push(r.ms)
      CPU.get(out[n])!.push(r.cpuMs ?? NaN)
    }
    log(`  ${progress} rep ${i + 1}/${reps}: ${names.map((n) => `${n} ${fmtMs(out[n][i])}`).join(', ')}`)
  }
  return out
}

// ---------------------------------------------------------------------------------------
// 1. Hashing: doctor --deep vs openssl dgst -sha256 and sha256sum over the same files.
export async function caseHash(fx: Fixtures): Promise<Row[]> {
  const root = await fx.hostA()
  const m = readManifest(await fx.manifestA())
  const files = m.components.map((c) => path.join(releaseDir(root, m.release_id), c.install_path))
  const bytes = m.components.reduce((n, c) => n + c.size, 0)
  log(`case 1: hashing ${fmtBytes(bytes)} in ${files.length} files`)
  await run('openssl', ['dgst', '-sha256', ...files]) // warm the page cache for every side
  const doctor = async () => {
    const r = await cli(['doctor', '--deep', '--json', '--root', root])
    const d = JSON.parse(r.stdout) as { ok: boolean; components: { evidence: string }[] }
    if (!d.ok || d.components.some((c) => c.evidence !== 'sha256')) throw new Error(`doctor --deep did not rehash cleanly: ${r.stdout.slice(0, 500)}`)
    return r
  }
  const s = await alternate(fx.cfg.runs, {
    doctor,
    // The fixed cost of `doctor --deep`: the same command without the rehash.
    'doctor (no --deep)': async () => cli(['doctor', '--json', '--root', root]),
    openssl: async () => (await run('openssl', ['dgst', '-sha256', ...files])),
    sha256sum: async () => (await run('sha256sum', files)),
  }, 'hash')
  await fx.profile('1-doctor-deep', async () => ['doctor', '--deep', '--json', '--root', root])
  const tool = mm(`doctor --deep (${fmtRate(bytes, median(s.doctor))})`, 'ms', s.doctor)
  const rate = (n: string) => fmtRate(bytes, median(s[n]))
  const fixed = median(s['doctor (no --deep)'])
  const versus = (ref: string) => ({ value: median(s[ref]) / median(s.doctor), corrected: median(s[ref]) / lessFixed(median(s.doctor), fixed), note: `fixed cost: doctor without --deep ${fmtMs(fixed)}` })
  return [
    row({ case: 1, name: `hash ${fmtBytes(bytes)}: throughput vs openssl`, tool, reference: mm(`openssl dgst -sha256 (${rate('openssl')})`, 'ms', s.openssl), ...versus('openssl'), kind: 'x', target: { op: '>=', limit: 0.9 }, smokeTarget: { op: '>=', limit: 0.8 } }),
    row({ case: 1, name: `hash ${fmtBytes(bytes)}: throughput vs sha256sum`, tool, reference: mm(`sha256sum (${rate('sha256sum')})`, 'ms', s.sha256sum), ...versus('sha256sum'), kind: 'x', target: { op: '>=', limit: 1 } }),
  ]
}

// ---------------------------------------------------------------------------------------
// 2 + 4. Install from file:// vs cp -r && sync; then, on that host, the upgrade to B (one
// small component changed) vs that full install.
export async function caseInstallFile(fx: Fixtures): Promise<Row[]> {
  const src = await fx.srcA()
  const mA = await fx.manifestA()
  const mB = await fx.manifestB()
  const apiB = component(readManifest(mB), 'api')
  const total = readManifest(mA).components.reduce((n, c) => n + c.size, 0)
  log(`case 2+4: install ${fmtBytes(total)} from file:// vs cp -r && sync; then upgrade to B (api ${fmtBytes(apiB.size)} changed)`)
  const upgrades: number[] = []
  const upgradesCpu: number[] = []
  CPU.set(upgrades, upgradesCpu)
  const upgradeBytes: number[] = []
  const noops: number[] = []
  const s = await alternate(fx.cfg.runs, {
    'cp+sync': async () => {
      const dst = path.join(fx.base, 'cp-dst')
      rmrf(dst)
      const r = await sh(`cp -r ${q(src)} ${q(dst)} && sync ${q(dst)}/*`)
      rmrf(dst)
      return r
    },
    install: async () => {
      const root = mkTemp(fx.base, 'host-install')
      try {
        const r = await cli(installArgs(mA, root))
        settle()
        const u = await cli(['upgrade', '--manifest', mB, '--root', root, '--quiet', '--json', '--skip-ingress-smoke'])
        upgrades.push(u.ms)
        upgradesCpu.push(u.cpuMs ?? NaN)
        upgradeBytes.push((JSON.parse(u.stdout) as { bytes_transferred: number }).bytes_transferred)
        noops.push((await cli(installArgs(mB, root))).ms) // the fixed cost: install on a converged host
        return r
      } finally {
        rmrf(root)
      }
    },
  }, 'install file://')
  log(`  upgrades: ${upgrades.map(fmtMs).join(', ')}; bytes ${upgradeBytes.join(', ')}`)
  let profRoot = ''
  await fx.profile('2-install-file', async () => installArgs(mA, (profRoot = mkTemp(fx.base, 'host-prof'))))
  await fx.profile('4-upgrade', async () => ['upgrade', '--manifest', mB, '--root', profRoot, '--quiet', '--skip-ingress-smoke'])
  if (profRoot) rmrf(profRoot)
  log(`  no-op installs (fixed cost): ${noops.map(fmtMs).join(', ')}`)
  const install = mm('install', 'ms', s.install)
  const perRun = upgrades.map((u, i) => u / s.install[i])
  const bytesMedian = median(upgradeBytes)
  const fixed = median(noops)
  const note = `fixed cost: install on a converged host ${fmtMs(fixed)}`
  return [
    row({ case: 2, name: `install ${fmtBytes(total)} from file://`, tool: install, reference: mm('cp -r && sync', 'ms', s['cp+sync']), value: median(s.install) / median(s['cp+sync']), corrected: lessFixed(median(s.install), fixed) / median(s['cp+sync']), note, kind: 'x', target: { op: '<=', limit: 1.3 }, smokeTarget: { op: '<=', limit: 1.25 } }),
    // Issue 18: the target holds in every run, so the figure is the worst run's ratio (each
    // upgrade against the install it ran on), not the ratio of medians.
    row({ case: 4, name: `upgrade, api (${fmtBytes(apiB.size)}) changed: wall time, worst run`, tool: mm('upgrade', 'ms', upgrades), reference: install, value: Math.max(...perRun), corrected: lessFixed(median(upgrades), fixed) / lessFixed(median(s.install), fixed), note: `${note}; each run: ${perRun.map((x) => x.toFixed(3)).join(', ')}; ratio of medians ${(median(upgrades) / median(s.install)).toFixed(3)}`, kind: 'x', target: { op: '<=', limit: 0.08 }, smokeTarget: { op: '<=', limit: 0.1 } }),
    row({
      case: 4,
      name: 'upgrade: bytes transferred / changed component size',
      tool: measured('bytes_transferred', 'bytes', upgradeBytes),
      reference: measured('api size', 'bytes', [apiB.size]),
      value: Math.max(...upgradeBytes) / apiB.size,
      kind: 'frac',
      target: { op: '=', limit: 1 },
      note: `every run: ${[...new Set(upgradeBytes)].join(', ')} bytes (median ${bytesMedian})`,
    }),
  ]
}

// ---------------------------------------------------------------------------------------
// 3. Install over HTTP from the local server vs curl -o of the same files + sync.
export async function caseInstallHttp(fx: Fixtures): Promise<Row[]> {
  const m = await fx.manifestAHttp()
  const doc = readManifest(m)
  const total = doc.components.reduce((n, c) => n + c.size, 0)
  log(`case 3: install ${fmtBytes(total)} over http://127.0.0.1 vs curl -o + sync`)
  const noops: number[] = []
  const s = await alternate(fx.cfg.runs, {
    'curl+sync': async () => {
      const dst = path.join(fx.base, 'curl-dst')
      rmrf(dst)
      const gets = doc.components.map((c) => `-o ${q(path.join(dst, path.basename(new URL(c.url).pathname)))} ${q(c.url)}`).join(' ')
      const r = await sh(`mkdir -p ${q(dst)} && curl -sS --fail ${gets} && sync ${q(dst)}/*`)
      rmrf(dst)
      return r
    },
    install: async () => {
      const root = mkTemp(fx.base, 'host-http')
      try {
        const r = await cli(installArgs(m, root, true))
        noops.push((await cli(installArgs(m, root, true))).ms) // the fixed cost: install on a converged host
        return r
      } finally {
        rmrf(root)
      }
    },
  }, 'install http')
  let profRoot = ''
  await fx.profile('3-install-http', async () => installArgs(m, (profRoot = mkTemp(fx.base, 'host-prof')), true))
  if (profRoot) rmrf(profRoot)
  return [
    row({ case: 3, name: `install ${fmtBytes(total)} over HTTP (127.0.0.1)`, tool: mm('install --allow-http', 'ms', s.install), reference: mm('curl -o && sync', 'ms', s['curl+sync']), value: median(s.install) / median(s['curl+sync']), corrected: lessFixed(median(s.install), median(noops)) / median(s['curl+sync']), note: `fixed cost: install on a converged host ${fmtMs(median(noops))}`, kind: 'x', target: { op: '<=', limit: 1.4 } }),
  ]
}

// ---------------------------------------------------------------------------------------
// 5. No-op plan and doctor on a converged host holding N releases, with a 2 GiB and a 1 MiB rootfs.
async function growHost(fx: Fixtures, root: string, base: string, prefix: string): Promise<string> {
  const m = readManifest(base)
  let last = base
  for (let i = 1; i < fx.cfg.releases; i++) {
    const id = `${prefix}-${String(i).padStart(2, '0')}`
    const api = path.join(fx.dir('extra'), `api-${id}`)
    writeRandom(api, fx.cfg.sizes.api)
    last = deriveManifest(m, path.join(fx.dir('manifests'), `${id}.json`), id, `0.2.${i}`, api)
    await cli(installArgs(last, root))
  }
  return last
}

export async function caseNoop(fx: Fixtures): Promise<Row[]> {
  const n = fx.cfg.releases
  const small = { ...fx.cfg.sizes, rootfs: 1 * MiB }
  log(`case 5: no-op plan/doctor on hosts with ${n} releases (rootfs ${fmtBytes(fx.cfg.sizes.rootfs)} and ${fmtBytes(small.rootfs)})`)
  // The large host: A plus n-1 releases that change only the api (rootfs hard-linked, as on a real host).
  const large = await fx.hostA()
  const growLarge = fx.once('lastLarge', () => fx.manifestA().then((mA) => growHost(fx, large, mA, 'large')))
  // The small host: the same files but a 1 MiB rootfs. Both hosts grow at once (2 cores).
  const smallRoot = mkTemp(fx.base, 'host-small')
  const growSmall = (async () => {
    const srcS = fx.dir('src-small')
    const srcA = await fx.srcA()
    for (const f of Object.values(FILES)) if (f !== FILES.rootfs && !fs.existsSync(path.join(srcS, f))) fs.linkSync(path.join(srcA, f), path.join(srcS, f))
    writeRandom(path.join(srcS, FILES.rootfs), small.rootfs)
    const mS = await buildManifest(srcS, path.join(fx.dir('manifests'), 'small-00.json'), 'small-00', '0.1.0')
    await cli(installArgs(mS, smallRoot))
    return growHost(fx, smallRoot, mS, 'small')
  })()
  const [lastLarge, lastSmall] = await Promise.all([growLarge, growSmall])
  for (const [root, id] of [[large, `large-${String(n - 1).padStart(2, '0')}`], [smallRoot, `small-${String(n - 1).padStart(2, '0')}`]] as const) {
    const count = fs.readdirSync(path.join(root, 'opt/nullspace/releases')).filter((x) => !x.startsWith('.') && x !== 'current').length
    if (count !== n || fs.readlinkSync(path.join(root, 'opt/nullspace/releases/current')) !== id) throw new Error(`host ${root}: expected ${n} releases with ${id} current, found ${count}`)
  }
  const plan = (m: string, root: string) => ['plan', '--manifest', m, '--root', root, '--quiet', '--detailed-exitcode']
  const doctor = (root: string) => ['doctor', '--root', root, '--quiet']
  const s = await alternate(fx.cfg.fastRuns, {
    'node -e 0': async () => (await run(NODE, ['-e', '0'])),
    'plan big': async () => (await cli(plan(lastLarge, large))), // exit 0 = converged (2 would mean changes)
    'plan small': async () => (await cli(plan(lastSmall, smallRoot))),
    'doctor big': async () => (await cli(doctor(large))),
    'doctor small': async () => (await cli(doctor(smallRoot))),
    // The floor under every command: the same plan refused at its --root check (exit 64), so
    // node's start, loading the tool's modules and parsing the arguments, and nothing read.
    'plan, no root': async () => (await cli(plan(lastLarge, path.join(fx.base, 'no-such-root')), { ok: [64] })),
  }, 'no-op')
  await fx.profile('5-plan-noop', async () => plan(lastLarge, large))
  await fx.profile('5-doctor-noop', async () => doctor(large))
  const node = mm('node -e 0', 'ms', s['node -e 0'])
  const big = fmtBytes(fx.cfg.sizes.rootfs)
  const tiny = fmtBytes(small.rootfs)
  const r = (k: string) => median(s[k])
  const floor = `the floor under it, node's start with the tool's modules loaded and its arguments parsed (the plan refused at --root): ${fmtMs(r('plan, no root'))} = ${(r('plan, no root') / r('node -e 0')).toFixed(2)}x node -e 0`
  return [
    row({ case: 5, name: `no-op plan, ${n} releases, ${big} rootfs`, tool: mm(`plan (${big} rootfs)`, 'ms', s['plan big']), reference: node, value: r('plan big') / r('node -e 0'), kind: 'x', target: { op: '<=', limit: 2.2 }, smokeTarget: { op: '<=', limit: 5 }, note: floor }),
    row({ case: 5, name: `no-op plan, ${n} releases, ${tiny} rootfs`, tool: mm(`plan (${tiny} rootfs)`, 'ms', s['plan small']), reference: node, value: r('plan small') / r('node -e 0'), kind: 'x', target: { op: '<=', limit: 2.2 }, smokeTarget: { op: '<=', limit: 5 }, note: floor }),
    row({ case: 5, name: `doctor, ${n} releases, ${big} rootfs`, tool: mm(`doctor (${big} rootfs)`, 'ms', s['doctor big']), reference: node, value: r('doctor big') / r('node -e 0'), kind: 'x', target: { op: '<=', limit: 2.2 }, smokeTarget: { op: '<=', limit: 5 }, note: floor }),
    row({ case: 5, name: `doctor, ${n} releases, ${tiny} rootfs`, tool: mm(`doctor (${tiny} rootfs)`, 'ms', s['doctor small']), reference: node, value: r('doctor small') / r('node -e 0'), kind: 'x', target: { op: '<=', limit: 2.2 }, smokeTarget: { op: '<=', limit: 5 }, note: floor }),
    row({ case: 5, name: `size independence: plan ${big} / plan ${tiny}`, tool: mm(`plan (${big} rootfs)`, 'ms', s['plan big']), reference: mm(`plan (${tiny} rootfs)`, 'ms', s['plan small']), value: r('plan big') / r('plan small'), kind: 'x', target: { op: '<=', limit: 1.25 }, note: 'target chosen by the bench: "independent of artifact size" read as within 25%' }),
    row({ case: 5, name: `size independence: doctor ${big} / doctor ${tiny}`, tool: mm(`doctor (${big} rootfs)`, 'ms', s['doctor big']), reference: mm(`doctor (${tiny} rootfs)`, 'ms', s['doctor small']), value: r('doctor big') / r('doctor small'), kind: 'x', target: { op: '<=', limit: 1.25 }, note: 'target chosen by the bench: "independent of artifact size" read as within 25%' }),
  ]
}

// ---------------------------------------------------------------------------------------
// 6. Peak RSS while installing a release with a 4 GiB (sparse) artifact, file:// and HTTP.
/** Peak RSS in decimal MB: GNU time's maximum resident set size, else VmHWM polled from /proc. */
async function peakRss(args: string[]): Promise<{ mb: number; ms: number }> {
  if (util.HAS_GNU_TIME) {
    const r = await cli(args)
    return { mb: ((r.maxRssKiB ?? NaN) * 1024) / 1e6, ms: r.ms }
  }
  let hwmKb = 0
  const r = await cli(args, {
    rusage: false,
    onSpawn: (child) => {
      const poll = setInterval(() => {
        try {
          const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'))
          if (m) hwmKb = Math.max(hwmKb, Number(m[1]))
        } catch {
          /* exited */
        }
      }, 5)
      child.on('exit', () => clearInterval(poll))
    },
  })
  return { mb: (hwmKb * 1024) / 1e6, ms: r.ms }
}

export async function caseMemory(fx: Fixtures): Promise<Row[]> {
  const dir = fx.dir('src-big')
  const size = fx.cfg.bigArtifact
  log(`case 6: peak RSS installing a ${fmtBytes(size)} (sparse) rootfs, file:// and http:// (${util.HAS_GNU_TIME ? 'GNU time' : 'VmHWM polling'})`)
  writeArtifactDir(dir, { ...fx.cfg.sizes, rootfs: size, sparseRootfs: true })
  const mFile = await buildManifest(dir, path.join(fx.dir('manifests'), 'big.json'), 'bench-big', '0.1.0')
  // What `manifest build --base-url` writes for the same directory (A's http manifest is built
  // for real; this one saves a hash of the big file and a CLI start).
  const mHttp = withBaseUrl(mFile, path.join(fx.dir('manifests'), 'big-http.json'), (await fx.http()).baseUrl('big'))
  const out: Record<'file' | 'http', { mb: number[]; ms: number[] }> = { file: { mb: [], ms: [] }, http: { mb: [], ms: [] } }
  for (let i = 0; i < fx.cfg.rssRuns; i++) {
    for (const via of rotate(['file', 'http'] as const, i)) {
      const root = mkTemp(fx.base, 'host-big')
      try {
        settle()
        const r = await peakRss(installArgs(via === 'file' ? mFile : mHttp, root, via === 'http'))
        out[via].mb.push(r.mb)
        out[via].ms.push(r.ms)
        log(`  memory rep ${i + 1}/${fx.cfg.rssRuns} ${via}: peak RSS ${r.mb.toFixed(1)} MB, ${fmtMs(r.ms)}`)
      } finally {
        rmrf(root)
      }
    }
  }
  rmrf(dir)
  return (['file', 'http'] as const).map((via) =>
    row({ case: 6, name: `peak RSS, install ${fmtBytes(size)} artifact via ${via === 'file' ? 'file://' : 'HTTP'}`, tool: measured(`install (${fmtMs(median(out[via].ms))})`, 'MB', out[via].mb), reference: null, value: median(out[via].mb), kind: 'MB', target: { op: '<=', limit: 150 } }),
  )
}

// ---------------------------------------------------------------------------------------
// 7. Resume: SIGKILL the HTTP install once half of the rootfs is in its part file, rerun,
// count what the server sends the second time.
export async function caseResume(fx: Fixtures): Promise<Row[]> {
  const m = await fx.manifestAHttp()
  const server = await fx.http()
  const doc = readManifest(m)
  const rootfs = component(doc, 'rootfs')
  const rootfsPath = new URL(rootfs.url).pathname
  const part = (root: string) => path.join(partsDir(root), `${rootfs.sha256}.part`)
  log(`case 7: resume after SIGKILL at 50% of a ${fmtBytes(rootfs.size)} download`)
  const killedAt: number[] = []
  const second: number[] = []
  const secondAll: number[] = []
  const secondMs: number[] = []
  for (let i = 0; i < fx.cfg.resumeRuns; i++) {
    const root = mkTemp(fx.base, 'host-resume')
    try {
      settle()
      let at = -1
      const first = await cli(installArgs(m, root, true), {
        allowSignal: true,
        rusage: false, // the child must be the CLI itself, so the SIGKILL reaches it
        onSpawn: (child) => {
          const poll = setInterval(() => {
            let n: number
            try {
              n = fs.statSync(part(root)).size
            } catch {
              return
            }
            if (n >= rootfs.size / 2) {
              child.kill('SIGKILL')
              clearInterval(poll)
              at = n
            }
          }, 1)
          child.on('exit', () => clearInterval(poll))
        },
      })
      if (first.signal !== 'SIGKILL') throw new Error(`the first install finished (exit ${first.code}) before half of the rootfs arrived; cannot test resume`)
      const left = fs.statSync(part(root)).size
      killedAt.push(left / rootfs.size)
      server.resetCounters()
      settle()
      const r = await cli([...installArgs(m, root, true), '--json'])
      secondMs.push(r.ms)
      second.push(server.bytesSent(rootfsPath))
      secondAll.push(server.bytesSent())
      log(`  resume rep ${i + 1}: killed with ${(at / rootfs.size * 100).toFixed(1)}% seen, part kept ${((left / rootfs.size) * 100).toFixed(1)}%; rerun sent ${((server.bytesSent(rootfsPath) / rootfs.size) * 100).toFixed(1)}% of the rootfs (${fmtBytes(server.bytesSent())} in all, bytes_transferred ${(JSON.parse(r.stdout) as { bytes_transferred: number }).bytes_transferred}) in ${fmtMs(r.ms)}`)
    } finally {
      rmrf(root)
    }
  }
  const frac = second.map((b) => b / rootfs.size)
  return [
    row({
      case: 7,
      name: `resume: 2nd run's share of the ${fmtBytes(rootfs.size)} rootfs`,
      tool: measured(`rerun sent (${fmtMs(median(secondMs))})`, 'bytes', second),
      reference: measured('rootfs', 'bytes', [rootfs.size]),
      value: median(frac),
      kind: 'frac',
      target: { op: '<=', limit: 0.52 },
      note: `killed with ${killedAt.map((k) => `${(k * 100).toFixed(1)}%`).join(', ')} of the rootfs in the part; whole release in the rerun: ${secondAll.map(fmtBytes).join(', ')}`,
    }),
  ]
}

// ---------------------------------------------------------------------------------------
// 8. doctor --deep over a release with two large images (rootfs and template, 1 GiB each in
// the full run) vs one `openssl dgst -sha256` over the same files: openssl hashes one file
// after the other on one core; the tool may hash both at once.
export async function caseHashTwo(fx: Fixtures): Promise<Row[]> {
  const size = fx.cfg.twoImages
  const src = fx.dir('src-two')
  const srcA = await fx.srcA()
  for (const f of Object.values(FILES)) if (f !== FILES.rootfs && f !== FILES.template && !fs.existsSync(path.join(src, f))) fs.linkSync(path.join(srcA, f), path.join(src, f))
  writeRandom(path.join(src, FILES.rootfs), size)
  writeRandom(path.join(src, FILES.template), size)
  const mPath = await buildManifest(src, path.join(fx.dir('manifests'), 'two.json'), 'bench-two', '0.1.0')
  const m = readManifest(mPath)
  const root = mkTemp(fx.base, 'host-two')
  await cli(installArgs(mPath, root))
  const images = ['rootfs', 'template'].map((n) => path.join(releaseDir(root, m.release_id), component(m, n).install_path))
  const all = m.components.map((c) => path.join(releaseDir(root, m.release_id), c.install_path))
  const bytes = m.components.reduce((n, c) => n + c.size, 0)
  log(`case 8: doctor --deep over two ${fmtBytes(size)} images (${fmtBytes(bytes)} in ${all.length} files) vs openssl dgst -sha256`)
  await run('openssl', ['dgst', '-sha256', ...all]) // warm the page cache for every side
  const s = await alternate(fx.cfg.runs, {
    doctor: async () => {
      const r = await cli(['doctor', '--deep', '--json', '--root', root])
      const d = JSON.parse(r.stdout) as { ok: boolean; components: { evidence: string }[] }
      if (!d.ok || d.components.some((c) => c.evidence !== 'sha256')) throw new Error(`doctor --deep did not rehash cleanly: ${r.stdout.slice(0, 500)}`)
      return r
    },
    openssl: async () => run('openssl', ['dgst', '-sha256', ...all]),
    // The floor of one core: openssl over the two images alone, then the two at once (2 processes).
    'openssl x2': async () => sh(images.map((f) => `openssl dgst -sha256 ${q(f)} >/dev/null &`).join(' ') + ' wait'),
  }, 'hash two images')
  await fx.profile('8-doctor-deep-two', async () => ['doctor', '--deep', '--json', '--root', root])
  rmrf(root)
  rmrf(src)
  const rate = (n: string) => fmtRate(bytes, median(s[n]))
  return [
    row({ case: 8, name: `hash two ${fmtBytes(size)} images (${fmtBytes(bytes)}): throughput vs one openssl`, tool: mm(`doctor --deep (${rate('doctor')})`, 'ms', s.doctor), reference: mm(`openssl dgst -sha256 (${rate('openssl')})`, 'ms', s.openssl), value: median(s.openssl) / median(s.doctor), kind: 'x', target: { op: '>=', limit: 1.5 }, smokeTarget: { op: '>=', limit: 0.8 }, note: `two openssl processes at once, one per image: ${fmtMs(median(s['openssl x2']))} (${(median(s.openssl) / median(s['openssl x2'])).toFixed(2)}x one openssl)` }),
  ]
}
