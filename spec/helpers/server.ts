// A real HTTP(S) server on 127.0.0.1 that serves files with ranges and validators, counts
// the body bytes it sends, logs requests, and misbehaves on purpose per path.
import http from 'node:http'
import https from 'node:https'
import type { Socket } from 'node:net'
import { createHash, randomBytes } from 'node:crypto'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { tempDir } from './tmp.js'

export type Fault =
  | 'wrong-bytes' // same length, every byte flipped
  | 'short-body' // full Content-Length, half the body, then the connection closes
  | 'extra-bytes' // no Content-Length, the body plus 4 KiB more
  | 'endless' // no Content-Length, the body repeated until the client hangs up
  | 'stall' // full Content-Length, half the body, then silence
  | 'slow-drip' // small chunks with pauses (FaultOptions.dripBytes/dripMs), but complete
  | 'reset' // half the body, then a TCP reset
  | '500-then-ok' // HTTP 500 (`times`, default 1), then normal
  | 'status' // FaultOptions.status with an empty body
  | '404'
  | 'redirect' // 301 to FaultOptions.to (a path, kept relative, or an absolute URL)
  | 'redirect-host' // 301 to http://localhost:<port><to>: another host name, same server
  | 'ignore-range' // 200 with the whole file whatever Range says
  | 'wrong-content-range' // answers a Range with 206 labelled and filled from byte 0
  | 'run-on-range' // answers a closed Range with 206 from its start to the end of the file: the asked bytes at once, the rest paced as slow-drip
  | 'lying-content-length' // Content-Length 1000 more than the body, then the connection closes

export interface FaultOptions {
  /** Requests the fault applies to before the path behaves again (default: forever; 1 for 500-then-ok). */
  times?: number
  to?: string
  status?: number
  dripBytes?: number
  dripMs?: number
}

export interface RequestRecord {
  method: string
  path: string
  range?: string
  ifRange?: string
}

export interface TestServer {
  readonly port: number
  /** `http://127.0.0.1:<port>` (https:// with tls). */
  readonly origin: string
  url(path: string): string
  setFile(path: string, data: Buffer): void
  setFault(path: string, fault: Fault | null, options?: FaultOptions): void
  /** The strong ETag and the Last-Modified the server sends for a path. */
  etag(path: string): string
  lastModified(path: string): string
  /** Body bytes written for one path, or for all. */
  bytesSent(path?: string): number
  /** The most responses that were in progress at one time. */
  readonly maxInFlight: number
  readonly requests: RequestRecord[]
  close(): Promise<void>
}

interface Entry {
  data: Buffer
  etag: string
  lastModified: string
}

const CHUNK = 64 * 1024

/** startServer over TLS with a fresh self-signed certificate for 127.0.0.1 (openssl); `certFile` is the CA a child process trusts through NODE_EXTRA_CA_CERTS. */
export async function startTlsServer(): Promise<{ server: TestServer; certFile: string }> {
  const dir = tempDir('tls')
  const key = path.join(dir, 'key.pem')
  const certFile = path.join(dir, 'cert.pem')
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', certFile,
    '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'pipe' })
  return { server: await startServer({ tls: { key: fs.readFileSync(key), cert: fs.readFileSync(certFile) } }), certFile }
}

export async function startServer(o: { files?: Record<string, Buffer>; tls?: { key: string | Buffer; cert: string | Buffer } } = {}): Promise<TestServer> {
  const files = new Map<string, Entry>()
  const faults = new Map<string, { fault: Fault; o: FaultOptions; left: number }>()
  const sent = new Map<string, number>()
  const requests: RequestRecord[] = []
  const sockets = new Set<Socket>()
  let port = 0

  const setFile = (p: string, data: Buffer) => {
    // Last-Modified in the past and second-aligned, as HTTP dates are.
    const lastModified = new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000).toUTCString()
    files.set(p, { data, etag: `"${createHash('sha256').update(data).digest('hex').slice(0, 32)}"`, lastModified })
  }
  for (const [p, d] of Object.entries(o.files ?? {})) setFile(p, d)

  const takeFault = (p: string) => {
    const f = faults.get(p)
    if (!f) return undefined
    if (--f.left <= 0) faults.delete(p)
    return f
  }

  /** Writes `buf` in chunks, respecting backpressure, counting what the socket accepted. */
  async function send(res: http.ServerResponse, p: string, buf: Buffer, chunk = CHUNK, pauseMs = 0): Promise<void> {
    for (let at = 0; at < buf.length && !res.destroyed; at += chunk) {
      const piece = buf.subarray(at, at + chunk)
      sent.set(p, (sent.get(p) ?? 0) + piece.length)
      if (!res.write(piece)) await drained(res)
      if (pauseMs) await new Promise((r) => setTimeout(r, pauseMs))
    }
  }
  /** Resolves once everything written so far has been handed to the kernel. */
  const flushed = (res: http.ServerResponse) => new Promise<void>((r) => res.write('', () => r()))

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const p = new URL(req.url ?? '/', 'http://x').pathname
    requests.push({ method: req.method ?? '', path: p, range: req.headers.range, ifRange: header(req, 'if-range') })
    const f = takeFault(p)
    switch (f?.fault) {
      case '404':
        return void res.writeHead(404).end()
      case '500-then-ok':
        return void res.writeHead(500).end()
      case 'status':
        return void res.writeHead(f.o.status ?? 500).end()
      case 'redirect':
        return void res.writeHead(301, { location: f.o.to ?? '/' }).end()
      case 'redirect-host':
        return void res.writeHead(301, { location: `${o.tls ? 'https' : 'http'}://localhost:${port}${f.o.to ?? p}` }).end()
    }
    const file = files.get(p)
    if (!file) return void res.writeHead(404).end()
    const len = file.data.length
    const headers: http.OutgoingHttpHeaders = {
      'content-type': 'application/octet-stream',
      'accept-ranges': 'bytes',
      etag: file.etag,
      'last-modified': file.lastModified,
    }
    let status = 200
    let body = file.data
    let asked = 0
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '')
    const ifRange = header(req, 'if-range')
    const rangeApplies = range && f?.fault !== 'ignore-range' && (ifRange === undefined || ifRange === file.etag || ifRange === file.lastModified)
    if (rangeApplies) {
      const start = Number(range[1])
      const end = range[2] ? Math.min(Number(range[2]), len - 1) : len - 1
      if (start >= len || start > end) return void res.writeHead(416, { 'content-range': `bytes */${len}` }).end()
      status = 206
      body = file.data.subarray(start, end + 1)
      headers['content-range'] = `bytes ${start}-${end}/${len}`
      if (f?.fault === 'run-on-range') {
        asked = body.length
        body = file.data.subarray(start)
        headers['content-range'] = `bytes ${start}-${len - 1}/${len}`
      }
      if (f?.fault === 'wrong-content-range') {
        body = file.data
        headers['content-range'] = `bytes 0-${len - 1}/${len}`
      }
    }
    if (f?.fault === 'wrong-bytes') body = Buffer.from(body.map((b) => b ^ 0xff))
    const chunked = f?.fault === 'extra-bytes' || f?.fault === 'endless'
    if (!chunked) headers['content-length'] = body.length + (f?.fault === 'lying-content-length' ? 1000 : 0)
    res.writeHead(status, headers)
    if (req.method === 'HEAD') return void res.end()
    const half = body.subarray(0, Math.floor(body.length / 2))
    switch (f?.fault) {
      case 'extra-bytes':
        await send(res, p, Buffer.concat([body, randomBytes(4096)]))
        return void res.end()
      case 'endless':
        while (!res.destroyed) await send(res, p, body.length ? body : Buffer.alloc(CHUNK))
        return
      case 'short-body':
        await send(res, p, half)
        await flushed(res)
        return void res.socket?.destroy() // FIN after the data: the client sees a premature end
      case 'lying-content-length':
        await send(res, p, body)
        await flushed(res)
        return void res.socket?.destroy()
      case 'reset':
        await send(res, p, half)
        await flushed(res)
        return void res.socket?.resetAndDestroy()
      case 'stall':
        return send(res, p, half) // and nothing more, until the client or close() gives up
      case 'run-on-range':
        // A request without a range (the full download a failed delta falls back to) is served as usual.
        await send(res, p, body.subarray(0, asked || body.length))
        await send(res, p, body.subarray(asked), f.o.dripBytes ?? 1024, f.o.dripMs ?? 20)
        return void res.end()
      case 'slow-drip':
        await send(res, p, body, f.o.dripBytes ?? 1024, f.o.dripMs ?? 20)
        return void res.end()
      default:
        await send(res, p, body)
        return void res.end()
    }
  }

  let inFlight = 0
  let maxInFlight = 0
  const listener = (req: http.IncomingMessage, res: http.ServerResponse) => {
    maxInFlight = Math.max(maxInFlight, ++inFlight)
    res.on('close', () => inFlight--)
    handle(req, res).catch(() => res.destroy())
  }
  const server = o.tls ? https.createServer({ key: o.tls.key, cert: o.tls.cert }, listener) : http.createServer(listener)
  server.on('connection', (s: Socket) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  port = (server.address() as { port: number }).port
  const origin = `${o.tls ? 'https' : 'http'}://127.0.0.1:${port}`

  return {
    port,
    origin,
    url: (p) => origin + p,
    setFile,
    setFault(p, fault, opts = {}) {
      if (fault === null) return void faults.delete(p)
      faults.set(p, { fault, o: opts, left: opts.times ?? (fault === '500-then-ok' ? 1 : Infinity) })
    },
    etag: (p) => files.get(p)?.etag ?? '',
    lastModified: (p) => files.get(p)?.lastModified ?? '',
    bytesSent: (p) => (p === undefined ? [...sent.values()].reduce((a, b) => a + b, 0) : (sent.get(p) ?? 0)),
    requests,
    get maxInFlight() {
      return maxInFlight
    },
    close: () =>
      new Promise<void>((resolve) => {
        // Stalled and endless responses hold their sockets open: destroy them so close() returns.
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  }
}

/** Waits for 'drain' or 'close', whichever comes first, and leaves no listener behind. */
const drained = (res: http.ServerResponse) =>
  new Promise<void>((resolve) => {
    const done = () => {
      res.off('drain', done)
      res.off('close', done)
      resolve()
    }
    res.on('drain', done)
    res.on('close', done)
  })

const header = (req: http.IncomingMessage, name: string) => {
  const v = req.headers[name]
  return Array.isArray(v) ? v[0] : v
}

/** Runs `body` against a fresh server and closes the server however the body ends. */
export async function withServer<T>(body: (server: TestServer) => Promise<T>): Promise<T> {
  const server = await startServer()
  try {
    return await body(server)
  } finally {
    await server.close()
  }
}
