// Delta-upgrade benchmark (issue 9): a rootfs in which CHANGED bytes changed in RUNS places is
// upgraded (1) from a loopback server limited to 100 Mbit/s, against a full download of the
// same image from that server (curl), and (2) from an unthrottled loopback server, against an
// upgrade to the same release built with --no-chunk-index. Bytes are counted by the server.
//   node dist/bench/delta.js [--size-mib N]      (default 2048)
import fs from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import type { AddressInfo } from 'node:net'
import { randomBytes } from 'node:crypto'
import { FILES, buildManifest, writeArtifactDir } from './artifacts.js'
import { GiB, MiB, cli, fmtBytes, fmtMs, log, median, mkTemp, rmrf, run, snapshotCli } from './util.js'

const args = process.argv.slice(2)
const SIZE = Number(args[args.indexOf('--size-mib') + 1] || 2048) * MiB
const RUNS = 10
const CHANGED = Math.round((20 * MiB * SIZE) / (2 * GiB) / 4096) * 4096 // 20 MiB of a 2 GiB image
const RATE = (100 * 1000 * 1000) / 8 // 100 Mbit/s in bytes per second
const REPEAT = 3

/** A static server with an optional rate limit (token bucket per response) and a byte counter. */
async function startServer(dirs: Record<string, string>): Promise<{ url: (p: string) => string; sent: () => number; limit: (bps: number | null) => void; close: () => void }> {
  let total = 0
  let rate: number | null = null
  const server = http.createServer(async (req, res) => {
    const [, prefix, name] = (req.url ?? '/').split('/')
    const file = path.join(dirs[prefix ?? ''] ?? '/nonexistent', name ?? '')
    let st: fs.Stats
    try {
      st = fs.statSync(file)
    } catch {
      return void res.writeHead(404).end()
    }
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '')
    const start = m ? Number(m[1]) : 0
    const end = m && m[2] ? Number(m[2]) : st.size - 1
    res.writeHead(m ? 206 : 200, { 'content-length': end - start + 1, ...(m ? { 'content-range': `bytes ${start}-${end}/${st.size}` } : {}), etag: `"${st.size}-${st.mtimeMs}"` })
    const t0 = Date.now()
    let sent = 0
    for await (const chunk of fs.createReadStream(file, { start, end, highWaterMark: 64 * 1024 })) {
      if (!res.write(chunk)) await new Promise((r) => res.once('drain', r))
      sent += (chunk as Buffer).length
      total += (chunk as Buffer).length
      if (rate !== null) {
        const ahead = (sent / rate) * 1000 - (Date.now() - t0)
        if (ahead > 0) await new Promise((r) => setTimeout(r, ahead))
      }
    }
    res.end()
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as AddressInfo).port
  return { url: (p) => `http://127.0.0.1:${port}/${p}`, sent: () => total, limit: (bps) => (rate = bps), close: () => server.close() }
}

async function main(): Promise<void> {
  snapshotCli()
  const base = mkTemp('/tmp', 'nullspace-delta-bench-')
  try {
    log(`delta bench: rootfs ${fmtBytes(SIZE)}, ${fmtBytes(CHANGED)} changed in ${RUNS} runs, limit ${RATE * 8 / 1e6} Mbit/s`)
    const a = path.join(base, 'a')
    writeArtifactDir(a, { rootfs: SIZE, template: 4 * MiB, api: 4 * MiB, kernel: 4 * MiB, small: 256 * 1024 })
    const b = path.join(base, 'b')
    fs.cpSync(a, b, { recursive: true })
    const fd = fs.openSync(path.join(b, FILES.rootfs), 'r+')
    for (let i = 0; i < RUNS; i++) fs.writeSync(fd, randomBytes(CHANGED / RUNS), 0, CHANGED / RUNS, Math.floor(((i + 0.5) * SIZE) / RUNS / 4096) * 4096)
    fs.closeSync(fd)
    const full = path.join(base, 'b-full')
    fs.cpSync(b, full, { recursive: true })
    const server = await startServer({ a, b, full })
    await buildManifest(a, path.join(a, 'manifest.json'), 'r-a', '0.1.0', server.url('a'))
    await buildManifest(b, path.join(b, 'manifest.json'), 'r-b', '0.2.0', server.url('b'))
    await cli(['manifest', 'build', '--quiet', '--no-chunk-index', '--artifact-dir', full, '--output', path.join(full, 'manifest.json'), '--release-id', 'r-b', '--version', '0.2.0', '--arch', process.arch === 'arm64' ? 'aarch64' : 'x86_64', '--source-revision', 'bench', '--firecracker-version', 'v1.12.1', '--firecracker-commit', 'bench-firecracker-build', '--snapshot-data-format', 'firecracker-v1.12', '--kernel-identity', 'linux-6.1-nullspace', '--base-url', server.url('full')])

    // A host with release A, copied (hard links and symlinks intact) for every measured upgrade.
    const template = path.join(base, 'host-a')
    fs.mkdirSync(template)
    await cli(['install', '--quiet', '--allow-http', '--root', template, '--manifest', path.join(a, 'manifest.json')])
    const upgrade = async (manifest: string) => {
      const root = mkTemp(base, 'root-')
      // Hard links keep the inodes the seal recorded (a plain copy would look modified everywhere).
      await run('cp', ['-al', `${template}/.`, root])
      const before = server.sent()
      const r = await cli(['upgrade', '--quiet', '--json', '--allow-http', '--skip-ingress-smoke', '--root', root, '--manifest', manifest])
      const bytes = server.sent() - before
      rmrf(root)
      return { ms: r.ms, bytes }
    }

    server.limit(RATE)
    const deltaSlow = await upgrade(path.join(b, 'manifest.json'))
    const curlSlow = await run('curl', ['-sS', '-o', path.join(base, 'curl.out'), server.url(`b/${FILES.rootfs}`)])
    server.limit(null)
    const deltaFast: number[] = []
    const fullFast: number[] = []
    let fullBytes = 0
    for (let i = 0; i < REPEAT; i++) {
      deltaFast.push((await upgrade(path.join(b, 'manifest.json'))).ms)
      const f = await upgrade(path.join(full, 'manifest.json'))
      fullFast.push(f.ms)
      fullBytes = f.bytes
    }
    server.close()
    const rows = [
      ['delta upgrade at 100 Mbit/s: bytes transferred (manifest, index, chunks)', fmtBytes(deltaSlow.bytes), '<= 40 MiB', deltaSlow.bytes <= 40 * MiB],
      ['delta upgrade at 100 Mbit/s vs curl of the image at 100 Mbit/s', `${fmtMs(deltaSlow.ms)} / ${fmtMs(curlSlow.ms)} = ${(deltaSlow.ms / curlSlow.ms).toFixed(3)}x`, '<= 0.2x', deltaSlow.ms / curlSlow.ms <= 0.2],
      [`unthrottled: delta upgrade vs full upgrade (median of ${REPEAT})`, `${fmtMs(median(deltaFast))} / ${fmtMs(median(fullFast))} = ${(median(deltaFast) / median(fullFast)).toFixed(2)}x (full moved ${fmtBytes(fullBytes)})`, '<= 1x', median(deltaFast) <= median(fullFast)],
    ] as const
    const table = ['| measurement | value | target | holds |', '| --- | --- | --- | --- |', ...rows.map(([m, v, t, ok]) => `| ${m} | ${v} | ${t} | ${ok ? 'yes' : 'NO'} |`)].join('\n')
    process.stdout.write(`\n${table}\n`)
    fs.mkdirSync(path.resolve('bench/out'), { recursive: true })
    fs.writeFileSync(path.resolve('bench/out/delta.md'), `${table}\n`)
    fs.writeFileSync(path.resolve('bench/out/delta.json'), JSON.stringify({ size: SIZE, changed: CHANGED, runs: RUNS, deltaSlow, curlSlowMs: curlSlow.ms, deltaFast, fullFast, fullBytes }, null, 2))
  } finally {
    rmrf(base)
  }
}

await main()
