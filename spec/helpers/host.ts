// What an operator checks on a root after any command: the invariants of DESIGN.md section 6.
import fs from 'node:fs'
import path from 'node:path'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { json, runCli } from './cli.js'

export const RELEASES = 'opt/nullspace/releases'

/** `current` is absent or names a complete sealed release (invariant 1); returns its target. */
export function currentIsSafe(root: string): string | null {
  const link = path.join(root, RELEASES, 'current')
  let target: string
  try {
    target = fs.readlinkSync(link)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw new Error(`current exists but is not a symlink: ${(e as Error).message}`)
  }
  const dir = path.join(root, RELEASES, target)
  const seal = JSON.parse(fs.readFileSync(path.join(dir, '.nullspace-release.json'), 'utf8')) as { components: { install_path: string; status: string; size: number }[] }
  for (const c of seal.components) {
    if (c.status !== 'installed') continue
    const st = fs.statSync(path.join(dir, c.install_path))
    if (st.size !== c.size) throw new Error(`current -> ${target}: ${c.install_path} has ${st.size} bytes, sealed ${c.size}`)
  }
  return target
}

/** Nothing left in `.staging/`, no temp link beside `current`, no live lock holder. */
export function leftovers(root: string): string[] {
  const found: string[] = []
  const staging = path.join(root, RELEASES, '.staging')
  if (fs.existsSync(staging)) for (const name of fs.readdirSync(staging, { recursive: true }) as string[]) found.push(`.staging/${name}`)
  for (const name of fs.readdirSync(path.join(root, RELEASES))) if (name.includes('.tmp-')) found.push(name)
  const lock = path.join(root, 'var/lib/nullspace/lock')
  if (fs.existsSync(lock)) {
    const holder = JSON.parse(fs.readFileSync(lock, 'utf8')) as { pid: number }
    if (fs.existsSync(`/proc/${holder.pid}`)) found.push(`lock held by live pid ${holder.pid}`)
  }
  return found
}

/** `doctor --deep --json` of the root; the report's problems, empty when clean. */
export async function deepDoctorProblems(root: string): Promise<string[]> {
  const r = await runCli(['doctor', '--deep', '--json', '--root', root])
  const report = json<{ ok: boolean; problems: string[] }>(r)
  return report.problems
}

/**
 * A stand-in for the appliance's API on 127.0.0.1: answers the ingress fixture with the
 * release that `current` names under `root`, as a real API would after a switch.
 */
export async function startIngressFixture(root: string): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    if (req.url !== '/.well-known/nullspace/ingress-fixture') {
      res.writeHead(404).end()
      return
    }
    let id: string | null = null
    try {
      id = fs.readlinkSync(path.join(root, RELEASES, 'current'))
    } catch {
      id = null
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ release_id: id }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
