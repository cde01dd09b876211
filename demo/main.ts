// `npm start`: the main job on a sandbox. Synthetic artifacts, a manifest built by the real
// CLI, then plan, install, doctor and a second plan that shows "No changes"; then an upgrade
// to a release where only the API changed (its ingress smoke answered by a small fixture
// server on 127.0.0.1), an upgrade whose smoke fails and rolls back by itself, and a manual
// rollback. Each command runs the compiled CLI as a child process against
// `--root .demo/root`, so what you see is what an operator sees. The sandbox is reset at
// every start, so running it twice works.
//
// NULLSPACE_DEMO_DIR moves the sandbox (the specs use a temp dir); the default is `.demo/`
// at the repository root, which git ignores.
import { spawn, spawnSync } from 'node:child_process'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { KIND_LAYOUT } from '../lib/manifest/kinds.js'

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
/** The package's `bin`, the tool as it ships. */
const CLI = path.join(REPO, (JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { bin: Record<string, string> }).bin['nullspace-host'])
const SANDBOX = path.resolve(process.env.NULLSPACE_DEMO_DIR || path.join(REPO, '.demo'))
const MARKER = '.nullspace-demo'
const STEP_TIMEOUT_MS = 120_000

const RELEASE = { id: '2026.06.10', version: '1.4.0' }
const NEXT = { id: '2026.07.01', version: '1.5.0' } // only the API changed
const BAD = { id: '2026.08.01', version: '1.6.0' } // its API never answers the ingress smoke
const mediaOf = (id: string) => path.join(SANDBOX, 'media', id) // what the release media would hold
const media = mediaOf(RELEASE.id)
const manifestOf = (id: string) => path.join(mediaOf(id), 'manifest.json')
const manifest = manifestOf(RELEASE.id)
const root = path.join(SANDBOX, 'root') // the host: every path the CLI writes is under it

/** Paths as a user would type them from the repository root. */
const shown = (p: string) => {
  const rel = path.relative(REPO, p)
  return rel.startsWith('..') || path.isAbsolute(rel) ? p : rel
}

// ---- the steps ------------------------------------------------------------------------------

type Step = { title: string } & ({ cli: string[] | (() => string[]); exit?: number; before?: () => void } | { run: () => void })

const host = ['--root', shown(root)]
const build = (r: { id: string; version: string }): string[] => [
  'manifest', 'build', '--artifact-dir', shown(mediaOf(r.id)), '--output', shown(manifestOf(r.id)),
  '--release-id', r.id, '--version', r.version, '--arch', hostArch(), '--source-revision', 'demo',
  '--firecracker-version', 'v1.12.1', '--firecracker-commit', 'demo-firecracker-build',
  '--snapshot-data-format', 'firecracker-v1.12', '--kernel-identity', 'linux-6.1-nullspace',
]
const ingress = { url: '', healthy: true }
const steps: Step[] = [
  { title: 'Reset the sandbox', run: resetSandbox },
  { title: `Create synthetic artifacts for release ${RELEASE.id}; the operator tool is this tool, bundled`, run: () => writeArtifacts(media, RELEASE.id) },
  { title: 'Build the release manifest', cli: build(RELEASE) },
  { title: 'Preview the install', cli: [...host, 'plan', '--manifest', shown(manifest)] },
  { title: 'Install the release', cli: [...host, 'install', '--manifest', shown(manifest)] },
  { title: 'Check the host', cli: [...host, 'doctor'] },
  { title: 'Plan again: the host has converged', cli: [...host, 'plan', '--manifest', shown(manifest)] },
  { title: `Release ${NEXT.id}: only the API changed`, run: () => writeArtifacts(mediaOf(NEXT.id), NEXT.id, ['nullspace-api']) },
  { title: `Build the manifest of ${NEXT.id}`, cli: build(NEXT) },
  { title: 'Preview the upgrade: one fetch, nine hard links', cli: () => [...host, 'upgrade', '--dry-run', '--manifest', shown(manifestOf(NEXT.id)), '--ingress-url', ingress.url] },
  { title: 'Upgrade; the ingress fixture answers for the new release', cli: () => [...host, 'upgrade', '--manifest', shown(manifestOf(NEXT.id)), '--ingress-url', ingress.url] },
  { title: `Release ${BAD.id}: its API will not answer`, run: () => writeArtifacts(mediaOf(BAD.id), BAD.id, ['nullspace-api']) },
  { title: `Build the manifest of ${BAD.id}`, cli: build(BAD) },
  {
    title: 'Upgrade to it: the smoke fails and the upgrade rolls back by itself',
    before: () => (ingress.healthy = false),
    cli: () => [...host, 'upgrade', '--manifest', shown(manifestOf(BAD.id)), '--ingress-url', ingress.url, '--smoke-timeout', '3'],
    exit: 1,
  },
  { title: 'Roll back by hand to the first release', cli: [...host, 'rollback'] },
  { title: 'The releases on the host', cli: [...host, 'releases', 'list'] },
  { title: 'Check the host', cli: [...host, 'doctor'] },
]

// ---- helpers --------------------------------------------------------------------------------

/** Runs the CLI as a child (asynchronously, so the ingress fixture in this process can answer it). */
async function runCli(title: string, args: string[], expectExit: number): Promise<void> {
  const quoted = args.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", `'\\''`)}'`))
  process.stdout.write(`$ nullspace-host ${quoted.join(' ')}\n`)
  const child = spawn(process.execPath, [CLI, ...args], { cwd: REPO, stdio: 'inherit' })
  const timer = setTimeout(() => child.kill('SIGKILL'), STEP_TIMEOUT_MS)
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
    child.on('error', reject)
    child.on('exit', (c, s) => resolve([c, s]))
  }).finally(() => clearTimeout(timer))
  if (code !== expectExit) fail(`${title}: exited ${signal ?? code}, expected ${expectExit}`)
}

/**
 * Stands in for the appliance's API on 127.0.0.1: answers the ingress fixture with the release
 * `current` names (as the real API would after a switch), or 503 once told it is unhealthy.
 */
async function startIngressFixture(): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    if (!ingress.healthy || req.url !== '/.well-known/nullspace/ingress-fixture') return void res.writeHead(503).end()
    const id = fs.readlinkSync(path.join(root, 'opt/nullspace/releases/current'))
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ release_id: id }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  ingress.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
  return server
}

function fail(message: string): never {
  process.stderr.write(`demo: ${message}\n`)
  process.exit(1)
}

/** Removes the sandbox, but only one this demo made (it holds the marker) or an empty one. */
function resetSandbox(): void {
  const entries = fs.existsSync(SANDBOX) ? fs.readdirSync(SANDBOX) : []
  if (entries.length > 0 && !entries.includes(MARKER)) fail(`${SANDBOX} is not empty and was not made by this demo; move it aside or set NULLSPACE_DEMO_DIR`)
  // Installed artifacts are read-only, but their directories are ours: rm can remove them.
  fs.rmSync(SANDBOX, { recursive: true, force: true })
  fs.mkdirSync(root, { recursive: true })
  // doctor judges the root and everything under it: it must not be group/other-writable.
  for (const d of [SANDBOX, root]) fs.chmodSync(d, 0o755)
  fs.writeFileSync(path.join(SANDBOX, MARKER), 'made by nullspace-host demo/main.ts; removed at every start\n')
  process.stdout.write(`sandbox ${shown(SANDBOX)}, host root ${shown(root)}\n`)
}

/** Deterministic filler: a sha256 stream seeded by `seed`, so every run builds the same bytes. */
function filler(seed: string, size: number): Buffer {
  const out = Buffer.alloc(size)
  let block = createHash('sha256').update(seed).digest()
  for (let at = 0; at < size; at += block.length) {
    block.copy(out, at)
    block = createHash('sha256').update(block).digest()
  }
  return out
}

const SIZES: Record<string, number> = { 'rootfs.ext4': 4 << 20, 'template.ext4': 2 << 20, vmlinux: 1 << 20 }

/**
 * The ten artifact files `manifest build` expects. firecracker and jailer answer --version as
 * the real ones do. Files not in `changed` keep the first release's bytes, so an upgrade
 * hard-links them instead of fetching them.
 */
function writeArtifacts(dir: string, releaseId: string, changed?: readonly string[]): void {
  fs.mkdirSync(dir, { recursive: true })
  for (const { file, executable } of KIND_LAYOUT) {
    const contentOf = changed === undefined || changed.includes(file) ? releaseId : RELEASE.id
    const head = `${file} ${contentOf} (synthetic, made by the nullspace-host demo)\n`
    let body: Buffer
    if (file === 'nullspace-host') {
      // The operator_tool component is the real one-file bundle of this tool (npm run bundle).
      bundleTool(path.join(dir, file))
      continue
    }
    if (file === 'firecracker' || file === 'jailer') body = Buffer.from(`#!/bin/sh\n# ${head}echo "${file === 'firecracker' ? 'Firecracker' : 'Jailer'} v1.12.1"\n`)
    else body = Buffer.concat([Buffer.from(head), filler(`${file}/${contentOf}`, SIZES[file] ?? 64 << 10)])
    fs.writeFileSync(path.join(dir, file), body, { mode: executable ? 0o755 : 0o644 })
  }
  const total = fs.readdirSync(dir).reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0)
  process.stdout.write(`wrote ${KIND_LAYOUT.length} files, ${(total / (1 << 20)).toFixed(1)} MiB, to ${shown(dir)}\n`)
}

/** Bundled once per demo run; later releases carry the same bytes, so upgrades hard-link it. */
let bundled: string | null = null
function bundleTool(dest: string): void {
  if (bundled === null) {
    bundled = path.join(SANDBOX, 'nullspace-host.bundle.mjs')
    const r = spawnSync(process.execPath, [path.join(REPO, 'scripts/bundle.mjs'), '--outfile', bundled], { cwd: REPO, stdio: ['ignore', 'ignore', 'inherit'], timeout: STEP_TIMEOUT_MS })
    if (r.status !== 0) fail(`bundling the operator tool failed (exit ${r.status ?? r.signal})`)
  }
  fs.copyFileSync(bundled, dest)
  fs.chmodSync(dest, 0o755)
}

/** The manifest is for this machine, so install's architecture rules and the binary probe apply as on a real host. */
function hostArch(): string {
  return process.arch === 'arm64' ? 'aarch64' : 'x86_64'
}

// ---- run ------------------------------------------------------------------------------------

const fixture = await startIngressFixture()
try {
  for (const [i, step] of steps.entries()) {
    process.stdout.write(`\n== ${i + 1}/${steps.length} ${step.title}\n`)
    if ('run' in step) step.run()
    else {
      step.before?.()
      await runCli(step.title, typeof step.cli === 'function' ? step.cli() : step.cli, step.exit ?? 0)
    }
  }
} finally {
  fixture.close()
}
process.stdout.write(`\nDemo finished: the sandbox host ${shown(root)} runs release ${RELEASE.id} again, after an upgrade, a failed upgrade that rolled itself back, and a rollback.\n`)
