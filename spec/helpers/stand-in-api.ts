// The appliance's API as a release artifact for specs of ARCHITECTURE.md section 8.1: an executable script
// (the `nullspace-api` file of a built release) that the stand-in systemd really starts. It
// answers the ingress fixture with the release id it was started with, so a spec can tell which
// release is running, and which process.
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { KIND_LAYOUT } from '../../lib/manifest/kinds.js'

export type ApiBehaviour =
  /** A real HTTP server on 127.0.0.1:$NULLSPACE_TEST_API_PORT answering the ingress fixture. */
  | 'serve'
  /** As 'serve', but SIGTERM is ignored: stopping it takes the stand-in's SIGKILL. */
  | 'serve-ignoring-sigterm'
  /** Exits with status 1 at once: a crash loop under Restart=on-failure. */
  | 'exit-at-once'
  /** Serves, then exits with status 1 after `crashAfterMs`: looks healthy, then is not. */
  | { crashAfterMs: number }

/**
 * The source of an executable API artifact. It serves GET /.well-known/nullspace/ingress-fixture
 * with 200 and `{"release_id": $NULLSPACE_RELEASE_ID, "pid": <its pid>, "tag": <tag>}`; the port
 * comes from $NULLSPACE_TEST_API_PORT (the stand-in's `extraEnv`), the release id from the
 * rendered appliance.env. `tag` makes two artifacts differ in bytes (and says which one answered).
 */
export function standInApi(behaviour: ApiBehaviour, tag = ''): string {
  const crashAfterMs = typeof behaviour === 'object' ? behaviour.crashAfterMs : null
  const mode = typeof behaviour === 'object' ? 'crash-after' : behaviour
  // Dynamic import(): the file runs as CommonJS or as ESM, whatever package.json is above it.
  return `#!/usr/bin/env node
// Stand-in nullspace-api for specs (spec/helpers/stand-in-api.ts). mode: ${mode}; tag: ${JSON.stringify(tag)}
const MODE = ${JSON.stringify(mode)}
const TAG = ${JSON.stringify(tag)}
const CRASH_AFTER_MS = ${JSON.stringify(crashAfterMs)}
if (MODE === 'exit-at-once') {
  process.stderr.write('stand-in api: exiting at once (status 1)\\n')
  process.exit(1)
}
const port = Number(process.env.NULLSPACE_TEST_API_PORT)
if (!Number.isInteger(port) || port <= 0) {
  process.stderr.write('stand-in api: NULLSPACE_TEST_API_PORT is not set to a port\\n')
  process.exit(2)
}
if (MODE === 'serve-ignoring-sigterm') process.on('SIGTERM', () => process.stderr.write('stand-in api: ignoring SIGTERM\\n'))
import('node:http').then(({ default: http }) => {
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || req.url !== '/.well-known/nullspace/ingress-fixture') return void res.writeHead(404).end()
    const body = JSON.stringify({ release_id: process.env.NULLSPACE_RELEASE_ID ?? null, pid: process.pid, tag: TAG })
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body)
  })
  server.on('error', (e) => {
    process.stderr.write('stand-in api: ' + e.message + '\\n')
    process.exit(1)
  })
  server.listen(port, '127.0.0.1', () => {
    process.stderr.write('stand-in api: pid ' + process.pid + ' serves release ' + process.env.NULLSPACE_RELEASE_ID + ' on 127.0.0.1:' + port + '\\n')
    if (CRASH_AFTER_MS !== null) setTimeout(() => {
      process.stderr.write('stand-in api: crashing (status 1)\\n')
      process.exit(1)
    }, CRASH_AFTER_MS)
  })
})
`
}

/** The artifact file name of the API component, as release builders' `contents`/`change` take it. */
export const API_ARTIFACT = KIND_LAYOUT.find((k) => k.kind === 'api')!.file

/** `{ 'nullspace-api': standInApi(behaviour, tag) }`, to spread into a release's contents. */
export const apiContents = (behaviour: ApiBehaviour, tag = ''): Record<string, string> => ({ [API_ARTIFACT]: standInApi(behaviour, tag) })

/** A loopback port that was free a moment ago (bound to port 0, then released). */
export async function freePort(): Promise<number> {
  const server = http.createServer()
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}
