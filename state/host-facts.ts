// The facts of the host that compatibility rules read (its architecture and /dev/kvm under --root),
// and those a command reads about how it runs: the invoking user, whether systemd runs the host.
import fs from 'node:fs/promises'
import os from 'node:os'
import { accessSync, constants, statSync, type Stats } from 'node:fs'
import path from 'node:path'
import { errnoCode } from '../lib/errors.js'
import type { Layout } from '../lib/layout.js'

export interface HostFacts {
  /** x86_64 or aarch64 (from the running machine). */
  readonly architecture: string
  /** Whether `<root>/dev/kvm` exists. */
  readonly kvm: boolean
}

/** Node's name of the machine's architecture in the manifest's words. */
export function hostArchitecture(nodeArch: string): string {
  return nodeArch === 'x64' ? 'x86_64' : nodeArch === 'arm64' ? 'aarch64' : nodeArch
}

/** `systemd`: the tool runs systemctl on every activation; `none`: it runs nothing and says so. */
export type ServiceManager = 'systemd' | 'none'

/** The fields of `<root>/etc/os-release` the gate reads; `file` is null when there is none. */
export interface OsRelease {
  readonly file: string | null
  readonly id: string | null
  readonly version_id: string | null
  readonly pretty_name: string | null
}

export interface KvmProbe {
  readonly path: string
  readonly kind: 'absent' | 'character-device' | 'other'
  /** What it is when not a character device (file, directory, ...). */
  readonly other?: string
  readonly device?: { readonly major: number; readonly minor: number }
  /** Why opening it read-write failed; null when it opened (or was not tried). */
  readonly open_error: string | null
}

export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const raw of text.split('\n')) {
    const m = /^\s*([A-Z0-9_]+)=(.*?)\s*$/.exec(raw)
    if (!m) continue
    let v = m[2]!
    const q = v[0]
    if ((q === '"' || q === "'") && v.endsWith(q) && v.length >= 2) v = v.slice(1, -1)
    if (q === '"') v = v.replace(/\\(["\\$`])/g, '$1')
    out[m[1]!] = v
  }
  return out
}

export async function readHostFacts(l: Layout): Promise<HostFacts> {
  const kvm = await fs.stat(l.host('/dev/kvm')).then(
    () => true,
    () => false,
  )
  return { architecture: hostArchitecture(process.arch), kvm }
}

const firstLine = (e: unknown) => (e instanceof Error ? e.message : String(e)).split('\n')[0]!

/** `<root>/etc/os-release`, else `<root>/usr/lib/os-release` (os-release(5)). */
export async function readOsRelease(l: Layout): Promise<OsRelease> {
  for (const p of ['/etc/os-release', '/usr/lib/os-release']) {
    let text: string
    try {
      text = await fs.readFile(l.host(p), 'utf8')
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') continue
      throw e
    }
    const f = parseOsRelease(text)
    return { file: p, id: f.ID ?? null, version_id: f.VERSION_ID ?? null, pretty_name: f.PRETTY_NAME ?? null }
  }
  return { file: null, id: null, version_id: null, pretty_name: null }
}

const kindOf = (st: Stats) =>
  st.isFile() ? 'regular file' : st.isDirectory() ? 'directory' : st.isBlockDevice() ? 'block device' : st.isFIFO() ? 'FIFO' : st.isSocket() ? 'socket' : 'special file'

/** `<root>/dev/kvm`: a character device that opens read-write (non-blocking, never as a controlling tty). */
export async function probeKvm(l: Layout): Promise<KvmProbe> {
  const p = l.host('/dev/kvm')
  let st
  try {
    st = await fs.stat(p)
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return { path: p, kind: 'absent', open_error: null }
    return { path: p, kind: 'other', other: `path that cannot be read (${firstLine(e)})`, open_error: null }
  }
  if (!st.isCharacterDevice()) return { path: p, kind: 'other', other: kindOf(st), open_error: null }
  const device = { major: (st.rdev >> 8) & 0xfff, minor: (st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00) }
  try {
    const fh = await fs.open(p, constants.O_RDWR | constants.O_NONBLOCK | constants.O_NOCTTY)
    await fh.close()
    return { path: p, kind: 'character-device', device, open_error: null }
  } catch (e) {
    return { path: p, kind: 'character-device', device, open_error: firstLine(e) }
  }
}


/** Who runs the command, for history: the operator behind sudo, else the uid's name (else `uid N`). */
export function invokingUser(): string {
  const sudo = process.env.SUDO_USER
  if (sudo) return sudo
  try {
    return os.userInfo().username
  } catch {
    return `uid ${process.getuid?.() ?? '?'}`
  }
}

/** `auto` is systemd only on a real host: `--root /` and systemd running (/run/systemd/system is a directory). */
export function resolveServiceManager(requested: 'auto' | ServiceManager, root: string): ServiceManager {
  if (requested !== 'auto') return requested
  if (root !== '/') return 'none'
  try {
    return statSync('/run/systemd/system').isDirectory() ? 'systemd' : 'none'
  } catch {
    return 'none'
  }
}

/** Whether an executable of that name is on PATH (as execFile would find it). */
export function onPath(name: string): boolean {
  return (process.env.PATH ?? '').split(':').some((dir) => {
    if (dir === '') return false
    try {
      accessSync(path.join(dir, name), constants.X_OK)
      return statSync(path.join(dir, name)).isFile()
    } catch {
      return false
    }
  })
}
