// `npm start`: the main job on a sandbox. Synthetic artifacts, a manifest built by the real
// CLI, then plan, install, doctor and a second plan that shows "No changes", each through the
// compiled CLI as a child process against `--root .demo/root`, so what you see is what an
// operator sees. The sandbox is reset at every start, so running it twice works.
//
// NULLSPACE_DEMO_DIR moves the sandbox (the specs use a temp dir); the default is `.demo/`
// at the repository root, which git ignores.
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { KIND_LAYOUT } from '../lib/manifest/kinds.js'

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const CLI = path.join(REPO, 'dist/cmd/main.js')
const SANDBOX = path.resolve(process.env.NULLSPACE_DEMO_DIR || path.join(REPO, '.demo'))
const MARKER = '.nullspace-demo'
const STEP_TIMEOUT_MS = 120_000

const RELEASE = { id: '2026.06.10', version: '1.4.0' }
const media = path.join(SANDBOX, 'media', RELEASE.id) // what the release media would hold
const manifest = path.join(media, 'manifest.json')
const root = path.join(SANDBOX, 'root') // the host: every path the CLI writes is under it

/** Paths as a user would type them from the repository root. */
const shown = (p: string) => {
  const rel = path.relative(REPO, p)
  return rel.startsWith('..') || path.isAbsolute(rel) ? p : rel
}

// ---- the steps ------------------------------------------------------------------------------

type Step = { title: string } & ({ cli: string[]; exit?: number } | { run: () => void })

const host = ['--root', shown(root)]
const steps: Step[] = [
  { title: 'Reset the sandbox', run: resetSandbox },
  { title: `Create synthetic artifacts for release ${RELEASE.id}`, run: () => writeArtifacts(media, RELEASE.id) },
  {
    title: 'Build the release manifest',
    cli: [
      'manifest', 'build', '--artifact-dir', shown(media), '--output', shown(manifest),
      '--release-id', RELEASE.id, '--version', RELEASE.version, '--arch', hostArch(), '--source-revision', 'demo',
      '--firecracker-version', 'v1.12.1', '--firecracker-commit', 'demo-firecracker-build',
      '--snapshot-data-format', 'firecracker-v1.12', '--kernel-identity', 'linux-6.1-nullspace',
    ],
  },
  { title: 'Preview the install', cli: [...host, 'plan', '--manifest', shown(manifest)] },
  { title: 'Install the release', cli: [...host, 'install', '--manifest', shown(manifest)] },
  { title: 'Check the host', cli: [...host, 'doctor'] },
  { title: 'Plan again: the host has converged', cli: [...host, 'plan', '--manifest', shown(manifest)] },
]

// ---- helpers --------------------------------------------------------------------------------

function runCli(title: string, args: string[], expectExit: number): void {
  const quoted = args.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", `'\\''`)}'`))
  process.stdout.write(`$ nullspace-host ${quoted.join(' ')}\n`)
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: REPO, stdio: 'inherit', timeout: STEP_TIMEOUT_MS })
  if (r.error) fail(`${title}: ${r.error.message}`)
  if (r.status !== expectExit) fail(`${title}: exited ${r.signal ?? r.status}, expected ${expectExit}`)
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

/** The ten artifact files `manifest build` expects. firecracker and jailer answer --version as the real ones do. */
function writeArtifacts(dir: string, releaseId: string): void {
  fs.mkdirSync(dir, { recursive: true })
  for (const { file, executable } of KIND_LAYOUT) {
    const head = `${file} ${releaseId} (synthetic, made by the nullspace-host demo)\n`
    let body: Buffer
    if (file === 'firecracker' || file === 'jailer') body = Buffer.from(`#!/bin/sh\n# ${head}echo "${file === 'firecracker' ? 'Firecracker' : 'Jailer'} v1.12.1"\n`)
    else body = Buffer.concat([Buffer.from(head), filler(`${file}/${releaseId}`, SIZES[file] ?? 64 << 10)])
    fs.writeFileSync(path.join(dir, file), body, { mode: executable ? 0o755 : 0o644 })
  }
  const total = fs.readdirSync(dir).reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0)
  process.stdout.write(`wrote ${KIND_LAYOUT.length} files, ${(total / (1 << 20)).toFixed(1)} MiB, to ${shown(dir)}\n`)
}

/** The manifest is for this machine, so install's architecture rules and the binary probe apply as on a real host. */
function hostArch(): string {
  return process.arch === 'arm64' ? 'aarch64' : 'x86_64'
}

// ---- run ------------------------------------------------------------------------------------

for (const [i, step] of steps.entries()) {
  process.stdout.write(`\n== ${i + 1}/${steps.length} ${step.title}\n`)
  if ('run' in step) step.run()
  else runCli(step.title, step.cli, step.exit ?? 0)
}
process.stdout.write(`\nDemo finished: the sandbox host ${shown(root)} runs release ${RELEASE.id}.\n`)
