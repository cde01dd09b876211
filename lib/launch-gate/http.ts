// One GET for the launch gate's console check, with curl's two escape hatches for testing a
// public name before (or without) DNS: `--ca-file` adds a private CA to the system roots,
// and `--resolve HOST[:PORT]:IP` connects to IP while SNI, the Host header and the
// certificate check all keep using HOST. The pin is a custom `lookup`, so nothing else about
// the request differs from a real one.
// It is deliberately not lib/fetch/client.ts's GET: the pin must reach DNS resolution while
// TLS still checks HOST (a per-request lookup, with --ca-file added to the roots), the whole
// answer has one deadline rather than a stall timer, only the first MiB is read, a console
// may be plain http without --allow-http, and its one-line reasons are the gate's own. The
// redirect rule is the same (ARCHITECTURE.md section 4, invariant 8).
import http from 'node:http'
import https from 'node:https'
import net from 'node:net'
import tls from 'node:tls'
import dns from 'node:dns'
import { usageError } from '../errors.js'

export const MAX_REDIRECTS = 5
const MAX_BODY_BYTES = 1024 * 1024

/** `--resolve`: connections to `host` (on `port`, or any port) go to `address`. */
export interface ResolvePin {
  readonly host: string
  readonly port: number | null
  readonly address: string
}

export interface GetOptions {
  /** PEM bundle added to Node's root certificates. */
  readonly ca?: Buffer
  readonly resolve?: readonly ResolvePin[]
  readonly timeoutMs: number
}

export interface GetResult {
  readonly status: number
  readonly contentType: string
  /** The first MiB of the body, as text. */
  readonly body: string
  /** Where the answer came from after redirects. */
  readonly url: string
  /** The address the last connection went to. */
  readonly address: string | null
}

/** Parses curl's `HOST:IP` or `HOST:PORT:IP` (IPv6 in brackets); a bad value is a usage error. */
export function parseResolve(value: string): ResolvePin {
  const m = /^([^:\s[\]]+):(?:(\d{1,5}):)?(\[[0-9A-Fa-f:.]+\]|[0-9.]+)$/.exec(value)
  const address = m?.[3]?.replace(/^\[|\]$/g, '') ?? ''
  const port = m?.[2] === undefined ? null : Number(m[2])
  if (!m || net.isIP(address) === 0 || (port !== null && (port < 1 || port > 65535)))
    throw usageError(`--resolve ${value}: expected HOST:IP or HOST:PORT:IP (an IPv6 address in brackets), as curl takes it`)
  return { host: m[1]!.toLowerCase(), port, address }
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | dns.LookupAddress[], family?: number) => void

/** A `lookup` that answers pinned names itself and asks the resolver for every other name. */
function pinnedLookup(pins: readonly ResolvePin[], port: number) {
  return (hostname: string, options: dns.LookupOptions, callback: LookupCallback): void => {
    const pin = pins.find((p) => p.host === hostname.toLowerCase() && (p.port === null || p.port === port))
    if (!pin) return void dns.lookup(hostname, { ...options, all: options.all === true }, callback as never)
    const family = net.isIP(pin.address)
    if (options.all) callback(null, [{ address: pin.address, family }])
    else callback(null, pin.address, family)
  }
}

const defaultPort = (u: URL) => (u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80)

function once(u: URL, o: GetOptions, deadline: number): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string; address: string | null }> {
  const port = defaultPort(u)
  const common: https.RequestOptions = {
    method: 'GET',
    headers: { accept: 'text/html,application/xhtml+xml;q=0.9,*/*;q=0.1', 'user-agent': 'nullspace-host launch-gate' },
    lookup: pinnedLookup(o.resolve ?? [], port) as never,
    agent: false,
  }
  const options: https.RequestOptions = u.protocol === 'https:' ? { ...common, ca: o.ca ? [...tls.rootCertificates, o.ca.toString('utf8')] : undefined } : common
  const client = u.protocol === 'https:' ? https : http
  return new Promise((resolve, reject) => {
    const left = deadline - Date.now()
    if (left <= 0) return reject(new Error('did not answer in time'))
    // The whole answer, not each pause in it, must come within the deadline: a server sending a
    // byte now and then would hold an idle timer off for ever.
    const timer = setTimeout(() => req.destroy(new Error('did not answer in time')), left)
    const settle = <T>(f: (v: T) => void) => (v: T) => {
      clearTimeout(timer)
      f(v)
    }
    const req = client.request(u, options, (res) => {
      const address = res.socket?.remoteAddress ?? null
      const chunks: Buffer[] = []
      let size = 0
      const done = () => settle(resolve)({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).subarray(0, MAX_BODY_BYTES).toString('utf8'), address })
      res.on('data', (d: Buffer) => {
        chunks.push(d)
        size += d.length
        // The checks read the first MiB: the rest is not waited for (a body may never end).
        if (size >= MAX_BODY_BYTES) {
          res.removeAllListeners('data')
          done()
          req.destroy()
        }
      })
      res.on('end', done)
      res.on('error', settle(reject))
    })
    req.on('error', settle(reject))
    req.end()
  })
}

/**
 * GET `url`, following at most MAX_REDIRECTS redirects and never from https to anything
 * else (ARCHITECTURE.md section 4, invariant 8). Rejects with a one-line reason.
 */
export async function get(url: string, o: GetOptions): Promise<GetResult> {
  let u = new URL(url)
  const deadline = Date.now() + o.timeoutMs
  for (let hops = 0; ; hops++) {
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`${u.href}: only http and https URLs are checked`)
    let r
    try {
      r = await once(u, o, deadline)
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code
      throw new Error(`${u.href}: ${code && !(e as Error).message.includes(code) ? `${code}: ` : ''}${(e as Error).message}`)
    }
    if ([301, 302, 303, 307, 308].includes(r.status)) {
      const location = r.headers.location
      if (!location) throw new Error(`${u.href} answered ${r.status} without a Location`)
      if (hops >= MAX_REDIRECTS) throw new Error(`${url}: more than ${MAX_REDIRECTS} redirects (last to ${location})`)
      const next = new URL(location, u)
      if (u.protocol === 'https:' && next.protocol !== 'https:') throw new Error(`${u.href} redirects from https to ${next.href}; refused`)
      u = next
      continue
    }
    const ct = r.headers['content-type']
    return { status: r.status, contentType: Array.isArray(ct) ? (ct[0] ?? '') : (ct ?? ''), body: r.body, url: u.href, address: r.address }
  }
}
