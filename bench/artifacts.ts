// Artifact directories and manifests for the bench. Large files are random data (a random
// block written over and over with its offset stamped in, so no page is a zero page and no
// two blocks are equal) or sparse where only memory matters. Manifests come from the real
// `manifest build`; the many releases of the no-op case are derived from one built
// manifest by swapping the api component, so their 2 GiB rootfs is not rehashed 20 times.
import fs from 'node:fs'
import path from 'node:path'
import { createHash, randomBytes } from 'node:crypto'
import { pathToFileURL } from 'node:url'
import { cli, MiB } from './util.js'

/** The artifact file names `manifest build` expects (ARCHITECTURE.md section 7). */
export const FILES = {
  api: 'nullspace-api',
  console: 'console.tar.gz',
  guest_agent: 'nullspace-guest-agent',
  rootfs: 'rootfs.ext4',
  template: 'template.ext4',
  kernel: 'vmlinux',
  firecracker: 'firecracker',
  jailer: 'jailer',
  migration_bundle: 'migrations.tar.gz',
  operator_tool: 'nullspace-host',
} as const

export const FIRECRACKER_VERSION = 'v1.12.1'

export interface ArtifactSizes {
  readonly rootfs: number
  readonly template: number
  readonly api: number
  readonly kernel: number
  /** console, guest agent, migrations, operator tool. */
  readonly small: number
  /** rootfs as a sparse file (memory case) instead of random data. */
  readonly sparseRootfs?: boolean
}

const BLOCK = 8 * MiB

/** Writes `size` bytes of random-looking data: one random block, offset-stamped per 4 KiB page. */
export function writeRandom(file: string, size: number): void {
  const block = randomBytes(BLOCK)
  const salt = randomBytes(8)
  const fd = fs.openSync(file, 'w', 0o644)
  try {
    for (let off = 0; off < size; off += BLOCK) {
      const n = Math.min(BLOCK, size - off)
      for (let p = 0; p < n; p += 4096) {
        block.writeDoubleLE(off + p, p)
        salt.copy(block, p + 8)
      }
      let done = 0
      while (done < n) done += fs.writeSync(fd, block, done, n - done, off + done)
    }
  } finally {
    fs.closeSync(fd)
  }
}

export function writeSparse(file: string, size: number): void {
  fs.writeFileSync(file, '')
  fs.truncateSync(file, size)
}

/** A stand-in that answers `--version` like Firecracker, so the install's probe passes. */
const versionScript = (name: string) => `#!/bin/sh\n# ${name} stand-in for nullspace-host benchmarks\necho "${name === 'firecracker' ? 'Firecracker' : 'Jailer'} ${FIRECRACKER_VERSION}"\n`

export function writeArtifactDir(dir: string, s: ArtifactSizes): void {
  fs.mkdirSync(dir, { recursive: true })
  const f = (name: string) => path.join(dir, name)
  if (s.sparseRootfs) writeSparse(f(FILES.rootfs), s.rootfs)
  else writeRandom(f(FILES.rootfs), s.rootfs)
  writeRandom(f(FILES.template), s.template)
  writeRandom(f(FILES.api), s.api)
  writeRandom(f(FILES.kernel), s.kernel)
  for (const name of [FILES.console, FILES.guest_agent, FILES.migration_bundle, FILES.operator_tool]) writeRandom(f(name), s.small)
  for (const name of [FILES.firecracker, FILES.jailer]) fs.writeFileSync(f(name), versionScript(name), { mode: 0o755 })
}

export const hostArch = () => (process.arch === 'arm64' ? 'aarch64' : 'x86_64')

/** Runs the real `manifest build` over dir. */
export async function buildManifest(dir: string, output: string, releaseId: string, version: string, baseUrl?: string): Promise<string> {
  await cli([
    'manifest', 'build', '--quiet',
    '--artifact-dir', dir,
    '--output', output,
    '--release-id', releaseId,
    '--version', version,
    '--arch', hostArch(),
    '--source-revision', 'bench',
    '--firecracker-version', FIRECRACKER_VERSION,
    '--firecracker-commit', 'bench-firecracker-build',
    '--snapshot-data-format', 'firecracker-v1.12',
    '--kernel-identity', 'linux-6.1-nullspace',
    ...(baseUrl ? ['--base-url', baseUrl] : []),
  ])
  return output
}

export interface Component {
  name: string
  kind: string
  url: string
  sha256: string
  size: number
  version: string
  install_path: string
  chunks?: unknown
  [k: string]: unknown
}

export interface ManifestDoc {
  release_id: string
  manifest_id: string
  version: string
  architecture: string
  components: Component[]
  [k: string]: unknown
}

export const readManifest = (file: string) => JSON.parse(fs.readFileSync(file, 'utf8')) as ManifestDoc

export function sha256File(file: string): string {
  const h = createHash('sha256')
  const fd = fs.openSync(file, 'r')
  const buf = Buffer.allocUnsafe(4 * MiB)
  try {
    for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0; ) h.update(buf.subarray(0, n))
  } finally {
    fs.closeSync(fd)
  }
  return h.digest('hex')
}

/**
 * A new release from `base` whose api component is `apiFile` (a file:// URL), everything else
 * unchanged: what `manifest build` would write for the same directory with that api binary.
 */
export function deriveManifest(base: ManifestDoc, output: string, releaseId: string, version: string, apiFile: string): string {
  const m: ManifestDoc = structuredClone(base)
  m.release_id = releaseId
  m.manifest_id = `nullspace-single-host/${releaseId}/${m.architecture}`
  for (const c of m.components) {
    if (c.version === base.version) c.version = version
    if (c.kind === 'api') {
      c.url = pathToFileURL(apiFile).href
      c.sha256 = sha256File(apiFile)
      c.size = fs.statSync(apiFile).size
      delete c.chunks // a chunk index describes the old bytes
    }
  }
  m.version = version
  fs.writeFileSync(output, `${JSON.stringify(m, null, 2)}\n`)
  return output
}

export const component = (m: ManifestDoc, kind: string): Component => {
  const c = m.components.find((x) => x.kind === kind)
  if (!c) throw new Error(`manifest ${m.release_id} has no ${kind} component`)
  return c
}

/** The manifest `manifest build --base-url` would write: every artifact (and chunk index) URL under baseUrl. */
export function withBaseUrl(file: string, output: string, baseUrl: string): string {
  const m = readManifest(file)
  const under = (u: string) => `${baseUrl.replace(/\/+$/, '')}/${encodeURIComponent(path.basename(new URL(u).pathname))}`
  for (const c of m.components) {
    c.url = under(c.url)
    const chunks = c.chunks as { url?: string } | undefined
    if (chunks?.url) chunks.url = under(chunks.url)
  }
  fs.writeFileSync(output, `${JSON.stringify(m, null, 2)}\n`)
  return output
}
