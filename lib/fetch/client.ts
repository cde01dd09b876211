// The one HTTP client: every GET this tool sends for bytes (artifacts, ranges of them, small
// documents, the ingress smoke) goes through open(), so redirects (at most MAX_REDIRECTS,
// never from https to anything else, http only with --allow-http), the connection agents,
// the user agent and TLS (Node's roots plus NODE_EXTRA_CA_CERTS, Node's own) follow one
// policy. The stall watchdog (watch.ts) is the caller's: its signal is handed to open().
// The launch gate's console GET is the exception; see lib/launch-gate/http.ts for why.
import http from 'node:http'
import https from 'node:https'
import fetch, { type Response } from 'node-fetch'
import { READ_CHUNK } from '../hash.js'
import { TOOL_VERSION } from '../version.js'
import { FetchError, type FetchRequest } from './types.js'

export const MAX_REDIRECTS = 5
const REDIRECTS = new Set([301, 302, 303, 307, 308])

/** Worth another attempt (5xx, reset, refused, stall, short body); the part keeps what arrived. */
export class Transient extends FetchError {}

/** What the URL rules (scheme, redirects) need to know of a request, and name in messages. */
export type UrlRequest = Pick<FetchRequest, 'component' | 'url' | 'allowHttp'>

/** Errors of the connection itself, as Node and node-fetch report them. */
export const TRANSIENT_CODES = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN',
  'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN', 'EHOSTDOWN', 'ERR_STREAM_PREMATURE_CLOSE',
])

// A fresh connection per transfer: an abandoned transfer must never leave a half-read
// socket in a pool, and node-fetch 3's check for a truncated chunked body misfires on
// reused keep-alive sockets (Node 20's global agent keeps them alive).
const agents = { http: new http.Agent({ keepAlive: false }), https: new https.Agent({ keepAlive: false }) }

export interface OpenOptions {
  /**
   * false: a redirect is answered to the caller as it came, not followed. The ingress smoke
   * asks its own local ingress for one fixture: a redirect there is a misconfigured ingress
   * to report ("answered 301"), not a place to go looking for the fixture.
   */
  readonly followRedirects?: boolean
}

/** GET with manual redirects, so each hop is checked against our rules: the one way this tool asks a server for bytes. */
export async function open(req: UrlRequest, signal: AbortSignal, headers: Record<string, string>, opts: OpenOptions = {}): Promise<{ res: Response; url: string }> {
  let url = checkScheme(req, req.url)
  for (let hops = 0; ; hops++) {
    const res = await fetch(url.href, {
      redirect: 'manual',
      compress: false, // the bytes on the wire are the bytes the manifest hashes
      highWaterMark: READ_CHUNK, // node-fetch's body buffer; its 16 KiB default stalls the socket
      signal: signal as never, // node-fetch types an older AbortSignal
      agent: (u: URL) => (u.protocol === 'https:' ? agents.https : agents.http),
      headers: { 'accept-encoding': 'identity', 'user-agent': `nullspace-host/${TOOL_VERSION}`, ...headers },
    })
    // An abort emits 'error' on a body nobody reads; without a listener that would crash the process.
    res.body?.on('error', () => {})
    if (!REDIRECTS.has(res.status) || opts.followRedirects === false) return { res, url: url.href }
    drop(res)
    url = redirectTarget(req, url, res.headers.get('location'), hops)
  }
}

/**
 * Where a redirect may lead (ARCHITECTURE.md section 4, invariant 8): at most MAX_REDIRECTS
 * hops, never from https to anything else, http only when allowed; a relative Location is
 * resolved against the current URL. `hops` counts the redirects already followed.
 */
export function redirectTarget(req: UrlRequest, current: URL, location: string | null, hops: number): URL {
  if (location === null) throw new FetchError(`${req.component}: ${current.href} redirects without a Location`, 'http')
  if (hops >= MAX_REDIRECTS) throw new FetchError(`${req.component}: ${req.url}: more than ${MAX_REDIRECTS} redirects (last to ${location})`, 'http')
  let next: URL
  try {
    next = new URL(location, current)
  } catch {
    throw new FetchError(`${req.component}: ${current.href} redirects to an invalid URL '${location}'`, 'http')
  }
  if (current.protocol === 'https:' && next.protocol !== 'https:') {
    throw new FetchError(`${req.component}: ${current.href} redirects from https to ${next.href}; refused`, 'refused')
  }
  return checkScheme(req, next.href)
}

export function checkScheme(req: UrlRequest, raw: string): URL {
  const url = new URL(raw)
  if (url.protocol === 'https:') return url
  if (url.protocol === 'http:') {
    if (req.allowHttp) return url
    throw new FetchError(`${req.component}: ${raw} is plain http; refused without --allow-http`, 'refused')
  }
  throw new FetchError(`${req.component}: ${raw}: scheme ${url.protocol} is not fetched over http`, 'refused')
}

/** Lets go of a response we will not read (the socket closes; no keep-alive to protect). */
export function drop(res: Response): void {
  const body = res.body as unknown as { destroy?: () => void } | null
  body?.destroy?.()
}

export const isNodeFetchError = (e: unknown) => e instanceof Error && e.name === 'FetchError'
