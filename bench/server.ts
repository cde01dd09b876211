// A static file server on 127.0.0.1 for the HTTP cases: serves directories by URL prefix
// straight from disk (1 MiB reads), answers Range and If-Range with a strong ETag, and counts
// the body bytes it sends per URL path, so the resume case can say what the second run cost.
import http from 'node:http'
import fs from 'node:fs'
import path from 'node:path'
import type { AddressInfo } from 'node:net'
import { MiB } from './util.js'

export interface BenchServer {
  readonly port: number
  /** `http://127.0.0.1:<port>/<prefix>/`, for `manifest build --base-url`. */
  baseUrl(prefix: string): string
  /** Body bytes sent since the last reset: for one URL path, or for all. */
  bytesSent(urlPath?: string): number
  resetCounters(): void
  close(): Promise<void>
}

export async function startServer(mounts: Record<string, string>): Promise<BenchServer> {
  const sent = new Map<string, number>()
  const count = (p: string, n: number) => sent.set(p, (sent.get(p) ?? 0) + n)

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    const [, prefix, name, ...rest] = decodeURIComponent(url.pathname).split('/')
    const dir = mounts[prefix ?? '']
    if (!dir || !name || rest.length > 0 || name.startsWith('.') || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404).end()
      return
    }
    const file = path.join(dir, name)
    let st: fs.Stats
    try {
      st = fs.statSync(file)
      if (!st.isFile()) throw new Error('not a file')
    } catch {
      res.writeHead(404).end()
      return
    }
    const etag = `"${st.size.toString(16)}-${Math.trunc(st.mtimeMs).toString(16)}"`
    const lastModified = st.mtime.toUTCString()
    let start = 0
    let end = st.size - 1
    let status = 200
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '')
    const ifRange = req.headers['if-range']
    if (range && (ifRange === undefined || ifRange === etag || ifRange === lastModified)) {
      start = Number(range[1])
      if (range[2]) end = Math.min(end, Number(range[2]))
      if (start >= st.size || start > end) {
        res.writeHead(416, { 'content-range': `bytes */${st.size}` }).end()
        return
      }
      status = 206
    }
    const headers: http.OutgoingHttpHeaders = {
      'content-type': 'application/octet-stream',
      'content-length': end - start + 1,
      'accept-ranges': 'bytes',
      etag,
      'last-modified': lastModified,
    }
    if (status === 206) headers['content-range'] = `bytes ${start}-${end}/${st.size}`
    res.writeHead(status, headers)
    if (req.method === 'HEAD' || end < start) {
      res.end()
      return
    }
    const stream = fs.createReadStream(file, { start, end, highWaterMark: MiB })
    stream.on('data', (chunk) => count(url.pathname, chunk.length))
    stream.on('error', () => res.destroy())
    res.on('close', () => stream.destroy())
    stream.pipe(res)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    port,
    baseUrl: (prefix) => `http://127.0.0.1:${port}/${prefix}/`,
    bytesSent: (p) => (p === undefined ? [...sent.values()].reduce((a, b) => a + b, 0) : (sent.get(p) ?? 0)),
    resetCounters: () => sent.clear(),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
