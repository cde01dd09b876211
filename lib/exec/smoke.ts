// The ingress fixture smoke: the active API must answer
// GET <ingress-url>/.well-known/nullspace/ingress-fixture with 200 and {"release_id": <active>}.
import { ActivationFailed } from './hooks.js'

export const FIXTURE_PATH = '.well-known/nullspace/ingress-fixture'
export const DEFAULT_INGRESS_URL = 'http://127.0.0.1/'

export function fixtureUrl(ingressUrl: string): string {
  return new URL(FIXTURE_PATH, ingressUrl.endsWith('/') ? ingressUrl : `${ingressUrl}/`).href
}

/** The fixture answer is a JSON object of a few fields: a body past this is not the fixture, and is not read on. */
export const MAX_FIXTURE_BODY = 64 * 1024

/** The body as text, or null once it passes `cap` bytes (the rest is not read: the connection is dropped). */
async function readCapped(body: (AsyncIterable<Buffer> & { destroy(): void }) | null, cap: number): Promise<string | null> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of body ?? []) {
    size += chunk.length
    if (size > cap) {
      body?.destroy()
      return null
    }
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}

async function probe(url: string, releaseId: string, timeoutMs: number): Promise<string | null> {
  // Loaded by the first probe, not with the commands that only name DEFAULT_INGRESS_URL.
  const { open } = await import('../fetch/client.js')
  try {
    // The ingress is this host's own (http by default), and a redirect from it is reported, not
    // followed (client.ts, OpenOptions.followRedirects).
    const { res } = await open({ component: 'ingress smoke', url, allowHttp: true }, AbortSignal.timeout(timeoutMs), {}, { followRedirects: false })
    const body = await readCapped(res.body as (AsyncIterable<Buffer> & { destroy(): void }) | null, MAX_FIXTURE_BODY)
    if (body === null) return `answered with more than ${MAX_FIXTURE_BODY / 1024} KiB (the fixture is a small JSON object)`
    if (res.status !== 200) return `answered ${res.status}`
    let json: unknown
    try {
      json = JSON.parse(body)
    } catch {
      return 'answered 200 but not with JSON'
    }
    const got = typeof json === 'object' && json !== null ? (json as { release_id?: unknown }).release_id : undefined
    return got === releaseId ? null : `reports release_id ${JSON.stringify(got)}, not ${JSON.stringify(releaseId)}`
  } catch (e) {
    return (e as Error).name === 'TimeoutError' || (e as Error).name === 'AbortError' ? 'did not answer in time' : `unreachable (${(e as Error).message})`
  }
}

/** Retries with backoff until the fixture answers or `timeoutS` passes. */
export async function smokeIngress(ingressUrl: string, releaseId: string, timeoutS: number): Promise<void> {
  const url = fixtureUrl(ingressUrl)
  const deadline = Date.now() + timeoutS * 1000
  let delay = 250
  for (;;) {
    const left = deadline - Date.now()
    const problem = await probe(url, releaseId, Math.max(500, Math.min(5000, left)))
    if (problem === null) return
    if (Date.now() + delay >= deadline) throw new ActivationFailed(`ingress smoke failed: ${url} ${problem} (gave up after ${timeoutS} s)`, 'smoke')
    await new Promise((r) => setTimeout(r, delay))
    delay = Math.min(delay * 2, 4000)
  }
}
