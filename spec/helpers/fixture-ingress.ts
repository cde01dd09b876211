// A tiny ingress on 127.0.0.1 that answers the ingress fixture smoke
// (GET /.well-known/nullspace/ingress-fixture) the way the active API would, or wrongly on purpose.
import http from 'node:http'
import type { Socket } from 'node:net'

export const FIXTURE_PATH = '/.well-known/nullspace/ingress-fixture'

export interface FixtureAnswer {
  /** HTTP status (default 200). */
  status?: number
  /** The `release_id` in the JSON body; a function is asked on every request (e.g. reads `current`). */
  releaseId?: string | (() => string | null)
  /** A raw body instead of the JSON object. */
  body?: string
  /** Accept the request and never answer. */
  hang?: boolean
  /** 200 and a body that never ends (JSON-looking padding, as fast as the client reads). */
  endless?: boolean
}

export interface FixtureIngress {
  readonly port: number
  /** `http://127.0.0.1:<port>/`: what `--ingress-url` takes. */
  readonly url: string
  /** Requests to the fixture path so far. */
  readonly hits: number
  /** Every request path, in order. */
  readonly paths: string[]
  /** Body bytes the socket accepted, over every answer. */
  readonly bytesSent: number
  /** Changes the answer; `first` answers only the next n requests that way, then `answer` again. */
  answer(a: FixtureAnswer): void
  answerFirst(n: number, a: FixtureAnswer): void
  close(): Promise<void>
}

export async function startFixtureIngress(initial: FixtureAnswer = {}): Promise<FixtureIngress> {
  let answer: FixtureAnswer = initial
  const queue: FixtureAnswer[] = []
  const paths: string[] = []
  const sockets = new Set<Socket>()
  let hits = 0
  let bytesSent = 0

  const server = http.createServer((req, res) => {
    const p = new URL(req.url ?? '/', 'http://x').pathname
    paths.push(p)
    if (p !== FIXTURE_PATH) return void res.writeHead(404).end()
    hits++
    const a = queue.shift() ?? answer
    if (a.hang) return
    if (a.endless) {
      res.writeHead(200, { 'content-type': 'application/json' })
      const piece = Buffer.from(`{"release_id":"${' '.repeat(64 * 1024 - 16)}`)
      const more = () => {
        while (!res.destroyed) {
          bytesSent += piece.length
          if (!res.write(piece)) return void res.once('drain', more)
        }
      }
      return more()
    }
    const id = typeof a.releaseId === 'function' ? a.releaseId() : a.releaseId
    const body = a.body ?? JSON.stringify({ release_id: id ?? null })
    res.writeHead(a.status ?? 200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
    res.end(body)
  })
  server.on('connection', (s: Socket) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const port = (server.address() as { port: number }).port
  return {
    port,
    url: `http://127.0.0.1:${port}/`,
    get hits() {
      return hits
    },
    get bytesSent() {
      return bytesSent
    },
    paths,
    answer: (a) => void (answer = a),
    answerFirst: (n, a) => {
      for (let i = 0; i < n; i++) queue.push(a)
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  }
}

/** A loopback URL where nothing listens: the port was bound once, then released. */
export async function deadIngressUrl(): Promise<string> {
  const server = http.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  const port = (server.address() as { port: number }).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return `http://127.0.0.1:${port}/`
}
