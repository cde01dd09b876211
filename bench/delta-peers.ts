// Delta upgrades beside zsync and casync (issue 22): the same base and next images, every
// tool against the same nginx on loopback, bytes counted by nginx's $bytes_sent (everything a
// tool asked for: manifest-side files, indexes, chunks, ranges, headers). Medians of --runs
// (default 3), tools in rotated order each rep, page cache warm for all. Not part of `npm run
// bench` (CI's quick bench): it needs the Debian packages nginx-light (or nginx), zsync,
// casync and e2fsprogs, and takes minutes.
//   node dist/bench/delta-peers.js [--runs N] [--only random,insert,ext4] [--size-mib N] [--fixed-4k]
// --fixed-4k adds the tool as it was before format 2: both releases with format-1 indexes
// (fixed 4 KiB chunks, 16-byte hashes), a host of its own.
// Workloads:
//   random  a 2 GiB image (--size-mib), 20 MiB of random bytes rewritten in 10 runs
//   insert  a 512 MiB image, 100 bytes inserted in the middle
//   ext4    two `mkfs.ext4 -d` images (256 MiB) of trees that differ by three rewritten
//           binaries (10% longer) and one new 2 MB file, so later files move by whole blocks
// The random workload also upgrades through a server that answers every closed Range with the
// rest of the file (nginx proxying to itself with the range's end removed).
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { indexFile } from '../lib/chunks/compute.js'
import { encodeIndex } from '../lib/chunks/format.js'
import { FILES, buildManifest, withBaseUrl, writeArtifactDir, writeRandom } from './artifacts.js'
import { GiB, MiB, cli, fmtBytes, fmtMs, log, median, mkTemp, rmrf, rotate, run, sh, q, snapshotCli, REPO } from './util.js'

const args = process.argv.slice(2)
const flag = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined)
const RUNS = Number(flag('--runs') ?? 3)
const ONLY = new Set((flag('--only') ?? 'random,insert,ext4').split(','))
const RANDOM_SIZE = Number(flag('--size-mib') ?? 2048) * MiB
const FIXED = args.includes('--fixed-4k')
const TOOLS = ['nullspace-host', 'zsync', 'casync', 'curl', ...(FIXED ? (['fixed-4k'] as const) : [])] as const
type Tool = 'nullspace-host' | 'zsync' | 'casync' | 'curl' | 'fixed-4k'

/** A copy of a release's manifest whose rootfs index is format 1 (fixed 4 KiB chunks), the index served from `dir`. */
async function format1Manifest(manifest: string, image: string, dir: string, url: string): Promise<string> {
  const ix = encodeIndex(await indexFile(image, { format: 1, chunkSize: 4096 }))
  fs.mkdirSync(dir, { recursive: true })
  fs.writeFileSync(path.join(dir, 'rootfs.ext4.chunks'), ix)
  const m = JSON.parse(fs.readFileSync(manifest, 'utf8'))
  const rootfs = m.components.find((c: { kind: string }) => c.kind === 'rootfs')
  rootfs.chunks = { url, sha256: createHash('sha256').update(ix).digest('hex'), size: ix.length, chunk_size: 4096 }
  const out = path.join(dir, 'manifest.json')
  fs.writeFileSync(out, JSON.stringify(m, null, 2))
  return out
}

interface Nginx {
  readonly port: number
  url(p: string): string
  /** Sum of $bytes_sent over the requests logged since `mark()`. */
  sentSince(mark: number): number
  mark(): number
  stop(): void
}

async function freePort(): Promise<number> {
  const s = net.createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const port = (s.address() as net.AddressInfo).port
  await new Promise((r) => s.close(r))
  return port
}

async function startNginx(base: string, www: string): Promise<Nginx> {
  const [port, backPort] = [await freePort(), await freePort()]
  const logFile = path.join(base, 'access.log')
  const conf = path.join(base, 'nginx.conf')
  fs.writeFileSync(
    conf,
    `daemon off;
user root;
worker_processes 1;
pid ${base}/nginx.pid;
error_log ${base}/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  log_format bytes '$bytes_sent $status "$request"';
  client_body_temp_path ${base}/tmp; proxy_temp_path ${base}/tmp; fastcgi_temp_path ${base}/tmp; uwsgi_temp_path ${base}/tmp; scgi_temp_path ${base}/tmp;
  sendfile on;
  types { }
  default_type application/octet-stream;
  # A closed range "bytes=A-B" becomes "bytes=A-": the backend answers with the rest of the file.
  map $http_range $open_range { "~^bytes=(?<from>[0-9]+)-[0-9]*$" "bytes=$from-"; default $http_range; }
  server {
    listen 127.0.0.1:${port};
    access_log ${logFile} bytes;
    root ${www};
    location /runon/ { proxy_pass http://127.0.0.1:${backPort}/; proxy_set_header Range $open_range; proxy_buffering off; proxy_http_version 1.1; }
  }
  server { listen 127.0.0.1:${backPort}; root ${www}; }
}
`,
  )
  fs.mkdirSync(path.join(base, 'tmp'), { recursive: true })
  fs.writeFileSync(logFile, '')
  const child: ChildProcess = spawn('nginx', ['-c', conf, '-p', base], { stdio: ['ignore', 'ignore', 'inherit'] })
  const deadline = Date.now() + 10_000
  for (;;) {
    const ok = await new Promise<boolean>((r) => {
      const s = net.connect(port, '127.0.0.1', () => (s.destroy(), r(true)))
      s.on('error', () => r(false))
    })
    if (ok) break
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`nginx did not start; see ${base}/error.log`)
    await new Promise((r) => setTimeout(r, 100))
  }
  const read = () => fs.readFileSync(logFile, 'utf8')
  return {
    port,
    url: (p) => `http://127.0.0.1:${port}/${p}`,
    mark: () => fs.statSync(logFile).size,
    sentSince(mark) {
      // nginx logs a request when it ends; a client that closed early is logged a moment later.
      spawnSync('sleep', ['0.3'])
      return read().slice(mark).split('\n').filter(Boolean).reduce((n, line) => n + Number(line.split(' ')[0]), 0)
    },
    stop: () => void child.kill('SIGTERM'),
  }
}

interface Workload {
  readonly name: string
  readonly describe: string
  /** Writes the base image to a and the next image to b. */
  make(a: string, b: string, scratch: string): Promise<void>
}

const WORKLOADS: Workload[] = [
  {
    name: 'random',
    describe: `${fmtBytes(RANDOM_SIZE)} image, ${fmtBytes((20 * MiB * RANDOM_SIZE) / (2 * GiB))} of random bytes rewritten in 10 runs`,
    async make(a, b) {
      writeRandom(a, RANDOM_SIZE)
      fs.copyFileSync(a, b)
      const runs = 10
      const changed = Math.round((20 * MiB * RANDOM_SIZE) / (2 * GiB) / 4096) * 4096
      const fd = fs.openSync(b, 'r+')
      for (let i = 0; i < runs; i++) fs.writeSync(fd, randomBytes(changed / runs), 0, changed / runs, Math.floor(((i + 0.5) * RANDOM_SIZE) / runs / 4096) * 4096)
      fs.closeSync(fd)
    },
  },
  {
    name: 'insert',
    describe: '512 MiB image, 100 bytes inserted in the middle',
    async make(a, b) {
      writeRandom(a, 512 * MiB)
      const img = fs.readFileSync(a)
      const mid = 256 * MiB + 12345
      fs.writeFileSync(b, Buffer.concat([img.subarray(0, mid), randomBytes(100), img.subarray(mid)]))
    },
  },
  {
    name: 'ext4',
    describe: '`mkfs.ext4 -d` 256 MiB images, trees differing by 3 rewritten binaries and a new 2 MB file',
    async make(a, b, scratch) {
      // Tree A: regular files of /usr/bin in name order up to 150 MB. Tree B: three of them
      // (300 KB to 2 MB) rewritten 10% longer, and a new 2 MB file.
      await sh(`set -e
        cd ${q(scratch)}; mkdir -p A/bin A/lib
        total=0
        for f in $(ls /usr/bin | LC_ALL=C sort); do
          p=/usr/bin/$f; [ -f "$p" ] && [ ! -L "$p" ] || continue
          s=$(stat -c %s "$p"); total=$((total+s)); [ $total -gt 150000000 ] && break
          cp "$p" A/bin/
        done
        cp -a A B
        for f in $(cd B/bin && for x in $(ls | LC_ALL=C sort); do s=$(stat -c %s $x); [ $s -gt 300000 ] && [ $s -lt 2000000 ] && echo $x; done | awk 'NR%5==2' | head -3); do
          s=$(stat -c %s B/bin/$f); head -c $((s*11/10)) /dev/urandom > B/bin/$f
        done
        head -c 2000000 /dev/urandom > B/lib/new.bin
        for t in A B; do
          E2FSPROGS_FAKE_TIME=1700000000 mkfs.ext4 -q -b 4096 -U 11111111-2222-3333-4444-555555555555 -E hash_seed=11111111-2222-3333-4444-555555555555 -d $t $t.ext4 256M
        done`)
      fs.renameSync(path.join(scratch, 'A.ext4'), a)
      fs.renameSync(path.join(scratch, 'B.ext4'), b)
    },
  },
]

interface Measured {
  bytes: number[]
  ms: number[]
}

async function main(): Promise<void> {
  for (const tool of ['nginx', 'zsync', 'zsyncmake', 'casync', 'mkfs.ext4', 'curl'])
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) throw new Error(`${tool} is missing: apt-get install nginx-light zsync casync e2fsprogs curl`)
  snapshotCli()
  const base = mkTemp('/tmp', 'nullspace-delta-peers')
  const www = path.join(base, 'www')
  fs.mkdirSync(www)
  const nginx = await startNginx(base, www)
  const results: { w: Workload; m: Record<Tool | 'runon', Measured>; fetchBytes: number }[] = []
  try {
    for (const w of WORKLOADS.filter((x) => ONLY.has(x.name))) {
      log(`workload ${w.name}: ${w.describe}`)
      const dir = path.join(www, w.name)
      const [a, b] = [path.join(dir, 'a'), path.join(dir, 'b')]
      const small = { rootfs: 1, template: 1 * MiB, api: 1 * MiB, kernel: 1 * MiB, small: 64 * 1024 }
      writeArtifactDir(a, small)
      await w.make(path.join(a, FILES.rootfs), path.join(b + '.rootfs'), mkTemp(base, 'scratch'))
      fs.cpSync(a, b, { recursive: true, filter: (p) => !p.endsWith(FILES.rootfs) })
      fs.renameSync(b + '.rootfs', path.join(b, FILES.rootfs))
      await buildManifest(a, path.join(a, 'manifest.json'), `${w.name}-a`, '0.1.0', nginx.url(`${w.name}/a`))
      await buildManifest(b, path.join(b, 'manifest.json'), `${w.name}-b`, '0.2.0', nginx.url(`${w.name}/b`))
      withBaseUrl(path.join(b, 'manifest.json'), path.join(dir, 'runon-manifest.json'), nginx.url(`runon/${w.name}/b`))
      const next = path.join(b, FILES.rootfs)
      const seed = path.join(a, FILES.rootfs)
      await run('zsyncmake', ['-o', path.join(dir, 'rootfs.zsync'), '-u', nginx.url(`${w.name}/b/${FILES.rootfs}`), next], { cwd: dir })
      await run('casync', ['make', `--store=${path.join(dir, 'store.castr')}`, path.join(dir, 'rootfs.caibx'), next])
      const want = (await run('sha256sum', [next])).stdout.split(' ')[0]

      const host = path.join(base, `host-${w.name}`)
      fs.mkdirSync(host)
      await cli(['install', '--quiet', '--allow-http', '--root', host, '--manifest', path.join(a, 'manifest.json')])
      const host1 = path.join(base, `host1-${w.name}`)
      let b1 = ''
      if (FIXED) {
        const a1 = await format1Manifest(path.join(a, 'manifest.json'), seed, path.join(dir, 'a1'), nginx.url(`${w.name}/a1/rootfs.ext4.chunks`))
        b1 = await format1Manifest(path.join(b, 'manifest.json'), next, path.join(dir, 'b1'), nginx.url(`${w.name}/b1/rootfs.ext4.chunks`))
        fs.mkdirSync(host1)
        await cli(['install', '--quiet', '--allow-http', '--root', host1, '--manifest', a1])
      }
      const out = path.join(base, 'out.img')
      const checked = new Set<Tool>()
      const check = async (tool: Tool, file: string) => {
        if (checked.has(tool)) return
        const got = (await run('sha256sum', [file])).stdout.split(' ')[0]
        if (got !== want) throw new Error(`${tool} produced ${got}, not ${want}`)
        checked.add(tool)
      }
      const upgrade = async (manifest: string, from = host) => {
        const root = mkTemp(base, 'root')
        await run('cp', ['-al', `${from}/.`, root])
        const mark = nginx.mark()
        const r = await cli(['upgrade', '--quiet', '--allow-http', '--skip-ingress-smoke', '--root', root, '--manifest', manifest])
        const bytes = nginx.sentSince(mark)
        const file = path.join(root, 'opt/nullspace/releases', `${w.name}-b`, 'artifacts/rootfs.ext4')
        await check('nullspace-host', file)
        rmrf(root)
        return { ms: r.ms, bytes }
      }
      const measure: Record<Tool, () => Promise<{ ms: number; bytes: number }>> = {
        'nullspace-host': () => upgrade(path.join(b, 'manifest.json')),
        'fixed-4k': () => upgrade(b1, host1),
        zsync: async () => {
          const mark = nginx.mark()
          const r = await run('zsync', ['-q', '-i', seed, '-o', out, nginx.url(`${w.name}/rootfs.zsync`)], { cwd: base })
          const bytes = nginx.sentSince(mark)
          await check('zsync', out)
          rmrf(out)
          rmrf(`${out}.zs-old`)
          return { ms: r.ms, bytes }
        },
        casync: async () => {
          const mark = nginx.mark()
          const r = await run('casync', ['extract', `--store=${nginx.url(`${w.name}/store.castr`)}`, `--seed=${seed}`, nginx.url(`${w.name}/rootfs.caibx`), out])
          const bytes = nginx.sentSince(mark)
          await check('casync', out)
          rmrf(out)
          return { ms: r.ms, bytes }
        },
        curl: async () => {
          const mark = nginx.mark()
          const r = await run('curl', ['-sS', '-o', out, nginx.url(`${w.name}/b/${FILES.rootfs}`)])
          const bytes = nginx.sentSince(mark)
          rmrf(out)
          return { ms: r.ms, bytes }
        },
      }
      const m = Object.fromEntries([...TOOLS, 'runon'].map((t) => [t, { bytes: [], ms: [] }])) as unknown as Record<Tool | 'runon', Measured>
      for (let rep = 0; rep < RUNS; rep++) {
        for (const tool of rotate(TOOLS, rep)) {
          spawnSync('sync')
          const r = await measure[tool]()
          m[tool].bytes.push(r.bytes)
          m[tool].ms.push(r.ms)
          log(`  ${w.name} rep ${rep + 1}: ${tool} ${fmtBytes(r.bytes)} in ${fmtMs(r.ms)}`)
        }
      }
      // What the plan says the delta fetches: the yardstick of the run-on server's row.
      const plan = JSON.parse((await cli(['upgrade', '--dry-run', '--json', '--allow-http', '--skip-ingress-smoke', '--root', host, '--manifest', path.join(b, 'manifest.json')])).stdout)
      const fetchBytes = plan.steps.find((s: { action: string }) => s.action === 'delta')?.bytes ?? NaN
      if (w.name === 'random') {
        spawnSync('sync')
        const r = await upgrade(path.join(dir, 'runon-manifest.json'))
        m.runon.bytes.push(r.bytes)
        m.runon.ms.push(r.ms)
        log(`  ${w.name}: nullspace-host against a run-on server ${fmtBytes(r.bytes)} in ${fmtMs(r.ms)} (plan: ${fmtBytes(fetchBytes)} of chunks)`)
      }
      results.push({ w, m, fetchBytes })
      rmrf(dir)
      rmrf(host)
      rmrf(host1)
    }
  } finally {
    nginx.stop()
    if (!args.includes('--keep')) rmrf(base)
  }
  const cell = (x: Measured) => `${(median(x.bytes) / MiB).toFixed(1)} MiB, ${(median(x.ms) / 1000).toFixed(2)} s`
  const lines = [
    `| workload | nullspace-host upgrade | zsync 0.6.2 | casync 2 | curl, whole image |`,
    `|---|---|---|---|---|`,
    ...results.map((r) => `| ${r.w.describe} | ${cell(r.m['nullspace-host'])} | ${cell(r.m.zsync)} | ${cell(r.m.casync)} | ${cell(r.m.curl)} |`),
  ]
  const runon = results.find((r) => r.m.runon.bytes.length)
  if (FIXED) lines.push('', 'Format 1 (fixed 4 KiB chunks, the tool before format 2), same run:', ...results.map((r) => `- ${r.w.name}: ${cell(r.m['fixed-4k'])}; format 2 moves ${(median(r.m['nullspace-host'].bytes) / median(r.m['fixed-4k'].bytes)).toFixed(2)}x its bytes`))
  if (runon) lines.push('', `Against a server that answers closed ranges with the rest of the file (random workload): ${fmtBytes(median(runon.m.runon.bytes))} moved in ${fmtMs(median(runon.m.runon.ms))}, for ${fmtBytes(runon.fetchBytes)} of changed chunks and ${fmtBytes(median(runon.m['nullspace-host'].bytes))} against nginx as is.`)
  const table = lines.join('\n')
  process.stdout.write(`\n${table}\n`)
  fs.mkdirSync(path.join(REPO, 'bench/out'), { recursive: true })
  fs.writeFileSync(path.join(REPO, 'bench/out/delta-peers.md'), `${table}\n`)
  fs.writeFileSync(path.join(REPO, 'bench/out/delta-peers.json'), JSON.stringify(results.map((r) => ({ workload: r.w.name, fetchBytes: r.fetchBytes, ...r.m })), null, 2))
}

await main()
