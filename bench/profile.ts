// Summarises a V8 `.cpuprofile` (from `node --cpu-prof`): self time by bucket (idle, GC,
// native, node internals, each package, this project) and the top functions by self time.
// Usable on its own: `node dist/bench/profile.js FILE.cpuprofile [top]`.
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

interface CallFrame {
  functionName: string
  url: string
  lineNumber: number
}
interface ProfileNode {
  id: number
  callFrame: CallFrame
  children?: number[]
}
interface CpuProfile {
  nodes: ProfileNode[]
  startTime: number
  endTime: number
  samples: number[]
  timeDeltas: number[]
}

export interface ProfileSummary {
  readonly file: string
  readonly total_ms: number
  readonly buckets: readonly { readonly bucket: string; readonly ms: number; readonly pct: number }[]
  readonly top: readonly { readonly fn: string; readonly where: string; readonly ms: number; readonly pct: number }[]
}

/**
 * esbuild marks where each inlined module starts with a `// node_modules/yargs/...` or
 * `// lib/fetch/http.ts` line: a frame in the bundled bin is named by the module it came from
 * (`bundled:<module path>`), so buckets still say which package the time went to.
 */
const markers = new Map<string, { line: number; source: string }[]>()
function unbundled(cf: CallFrame): CallFrame {
  if (!/\.mjs$/.test(cf.url)) return cf
  const file = cf.url.replace(/^file:\/\//, '')
  if (!markers.has(file)) {
    const found: { line: number; source: string }[] = []
    const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n') : []
    text.forEach((l, line) => {
      const m = /^\/\/ ((?:node_modules|lib|cmd|state)\/\S+)$/.exec(l)
      if (m) found.push({ line, source: m[1] })
    })
    markers.set(file, found)
  }
  let source: string | undefined
  for (const m of markers.get(file)!) if (m.line <= cf.lineNumber) source = m.source
  return source ? { ...cf, url: `bundled:${source}` } : cf
}

function bucketOf(cf: CallFrame): string {
  const { functionName: fn, url } = cf
  if (fn === '(idle)') return 'idle (waiting on I/O, child processes, timers)'
  if (fn === '(garbage collector)') return 'garbage collector'
  if (fn === '(program)') return 'V8/native (program)'
  if (fn === '(root)') return 'root'
  if (!url) return `native: ${fn || '(anonymous)'}`
  if (url.startsWith('node:')) return 'node internals (node:*)'
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (nm) return `package ${nm[1]}`
  const dist = /(?:\/(?:dist|bench\/out\/cli)\/|^bundled:)([^/]+)\//.exec(url)
  if (dist) return `project ${dist[1]}/`
  return 'other JS'
}

function where(cf: CallFrame): string {
  if (!cf.url) return '(native)'
  const u = cf.url.replace(/^file:\/\//, '')
  const nm = /node_modules\/(.*)$/.exec(u)
  if (u.startsWith('bundled:')) return `${u.slice('bundled:'.length)} (bundle line ${cf.lineNumber + 1})`
  const short = nm ? nm[1] : /\/(?:dist|bench\/out\/cli)\/(.*)$/.exec(u)?.[1] ?? path.basename(u)
  return `${short}:${cf.lineNumber + 1}`
}

export function summarize(file: string, topN = 12): ProfileSummary {
  const p = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile
  const byId = new Map(p.nodes.map((n) => [n.id, n]))
  const self = new Map<number, number>()
  for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0))
  const total = (p.endTime - p.startTime) / 1000
  const buckets = new Map<string, number>()
  const fns = new Map<string, { fn: string; where: string; us: number }>()
  for (const [id, us] of self) {
    const cf = unbundled(byId.get(id)!.callFrame)
    const b = bucketOf(cf)
    buckets.set(b, (buckets.get(b) ?? 0) + us)
    const key = `${cf.functionName}@${cf.url}:${cf.lineNumber}`
    const e = fns.get(key) ?? { fn: cf.functionName || '(anonymous)', where: where(cf), us: 0 }
    e.us += us
    fns.set(key, e)
  }
  const pct = (us: number) => Math.round((us / 1000 / total) * 1000) / 10
  return {
    file,
    total_ms: Math.round(total),
    buckets: [...buckets].sort((a, b) => b[1] - a[1]).map(([bucket, us]) => ({ bucket, ms: Math.round(us / 1000), pct: pct(us) })),
    top: [...fns.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, topN)
      .map((e) => ({ fn: e.fn, where: e.where, ms: Math.round(e.us / 1000), pct: pct(e.us) })),
  }
}

export function renderSummary(s: ProfileSummary, label = path.basename(s.file)): string {
  const lines = [`profile ${label}: ${s.total_ms} ms sampled`, '  by bucket (self time):']
  for (const b of s.buckets.filter((x) => x.ms > 0).slice(0, 10)) lines.push(`    ${String(b.ms).padStart(7)} ms ${b.pct.toFixed(1).padStart(5)}%  ${b.bucket}`)
  lines.push('  top functions (self time):')
  for (const f of s.top) lines.push(`    ${String(f.ms).padStart(7)} ms ${f.pct.toFixed(1).padStart(5)}%  ${f.fn}  ${f.where}`)
  return lines.join('\n')
}

/** The newest .cpuprofile in dir (node names them by pid and time). */
export function newestProfile(dir: string): string | null {
  const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')) : []
  if (files.length === 0) return null
  return files.map((f) => path.join(dir, f)).sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs)[0]
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [file, top] = process.argv.slice(2)
  if (!file) {
    process.stderr.write('usage: node dist/bench/profile.js FILE.cpuprofile [top]\n')
    process.exit(64)
  }
  process.stdout.write(`${renderSummary(summarize(file, top ? Number(top) : 20))}\n`)
}
