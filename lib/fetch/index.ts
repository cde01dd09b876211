// The one entry point the executor calls: picks the fetcher by URL scheme.
import path from 'node:path'
import { fetchFile } from './file.js'
import { FetchError, type FetchRequest, type FetchResult } from './types.js'

export { FetchError, type FetchRequest, type FetchResult } from './types.js'

/** The http fetcher, and node-fetch with it, is loaded only when an http(s) URL is fetched. */
const fetchHttp = async (req: FetchRequest): Promise<FetchResult> => (await import('./http.js')).fetchHttp(req)

/** Fetches in flight per part file: two components with the same bytes must not write one part at once. */
const inFlight = new Map<string, Promise<unknown>>()

export async function fetchArtifact(req: FetchRequest): Promise<FetchResult> {
  let scheme: string
  try {
    scheme = new URL(req.url).protocol
  } catch {
    throw new FetchError(`${req.component}: '${req.url}' is not a URL`, 'refused')
  }
  const run = scheme === 'file:' ? fetchFile : scheme === 'http:' || scheme === 'https:' ? fetchHttp : undefined
  if (!run) throw new FetchError(`${req.component}: ${req.url}: scheme ${scheme} is not supported (file:, https:, http: with --allow-http)`, 'refused')
  return serialized(path.join(req.partsDir, req.sha256), () => run(req))
}

async function serialized<T>(key: string, job: () => Promise<T>): Promise<T> {
  const before = inFlight.get(key) ?? Promise.resolve()
  const mine = before.catch(() => undefined).then(job)
  inFlight.set(key, mine)
  try {
    return await mine
  } finally {
    if (inFlight.get(key) === mine) inFlight.delete(key)
  }
}
