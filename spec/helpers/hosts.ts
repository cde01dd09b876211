// Shared by the specs that install and upgrade through the real CLI: releases built with the real
// `manifest build` (with any builder flag changed), the real CLI with a deadline, hooks that
// log what they see, and fingerprints of a root's tree to prove what did or did not change.
import fs from 'node:fs'
import path from 'node:path'
import { createHash } from 'node:crypto'
import * as assert from 'uvu/assert'
import { KIND_LAYOUT } from '../../lib/manifest/kinds.js'
import { json, runCli, show, type CliOptions, type CliResult } from './cli.js'
import { tempDir } from './tmp.js'
import { buildArgs, type BuildFlags } from './artifacts.js'
import { startFixtureIngress, type FixtureIngress } from './fixture-ingress.js'

export { exits } from './cli.js'
export { type BuildFlags, DEFAULT_FLAGS } from './artifacts.js'

export const RELEASES = 'opt/nullspace/releases'
export const HOOKS = 'etc/nullspace/hooks/post-switch.d'
export const APPLIANCE_ENV = 'etc/nullspace/appliance.env'
export const API_UNIT = 'etc/systemd/system/nullspace-api.service'
export const STATE = 'var/lib/nullspace/state.json'

export const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex')

/** Every artifact file with the same bytes, so releases share what a test does not change. */
export function baseContents(tag = 'base'): Record<string, string | Buffer> {
  return Object.fromEntries(KIND_LAYOUT.map((k) => [k.file, `${k.file} ${tag}\n`]))
}

export interface RelSpec {
  id: string
  version?: string
  /** Files that differ from `baseContents()`. */
  change?: Record<string, string | Buffer>
  /** Replaces `baseContents()` as the starting point. */
  base?: Record<string, string | Buffer>
  flags?: Partial<BuildFlags>
}

export interface Rel {
  id: string
  version: string
  dir: string
  manifest: string
  /** The artifact bytes by file name. */
  files: Record<string, Buffer>
}

export async function makeRelease(spec: RelSpec): Promise<Rel> {
  const version = spec.version ?? '0.1.0'
  const dir = path.join(tempDir('release'), spec.id)
  fs.mkdirSync(dir, { recursive: true })
  const contents = { ...(spec.base ?? baseContents()), ...spec.change }
  const files: Record<string, Buffer> = {}
  for (const { file } of KIND_LAYOUT) {
    const data = Buffer.from(contents[file] ?? `${file} ${spec.id}\n`)
    fs.writeFileSync(path.join(dir, file), data)
    files[file] = data
  }
  const manifest = path.join(dir, 'manifest.json')
  const r = await runCli(buildArgs(dir, manifest, spec.id, version, spec.flags), { timeoutMs: 30_000 })
  if (r.code !== 0) throw new Error(`manifest build of ${spec.id} failed (${r.code}): ${r.stderr}`)
  return { id: spec.id, version, dir, manifest, files }
}

let pair: Promise<{ r1: Rel; r2: Rel }> | undefined
/** r1 (0.1.0) and r2 (0.2.0, its API changed), built once per spec file: the plain upgrade. */
export const upgradePair = (): Promise<{ r1: Rel; r2: Rel }> =>
  (pair ??= (async () => ({
    r1: await makeRelease({ id: 'r1', version: '0.1.0' }),
    r2: await makeRelease({ id: 'r2', version: '0.2.0', change: { 'nullspace-api': 'nullspace-api r2\n' } }),
  }))())

/** The real CLI with a deadline (30 s unless told). */
export const cli = (args: string[], o: CliOptions = {}): Promise<CliResult> => runCli(args, { timeoutMs: 30_000, ...o })

export function ok(r: CliResult, what: string): CliResult {
  assert.is(r.code, 0, `${what}: ${show(r)}`)
  return r
}

export const install = (root: string, rel: Rel, ...extra: string[]) => cli(['install', '--root', root, '--manifest', rel.manifest, ...extra])
export const upgrade = (root: string, rel: Rel, ...extra: string[]) => cli(['upgrade', '--root', root, '--manifest', rel.manifest, ...extra])
export const rollback = (root: string, ...extra: string[]) => cli(['rollback', '--root', root, ...extra])

/** A fresh root with `rel` installed. */
export async function installedRoot(rel: Rel, ...extra: string[]): Promise<string> {
  const root = tempDir('root')
  ok(await install(root, rel, ...extra), `install ${rel.id}`)
  return root
}

export const currentOf = (root: string): string | null => {
  try {
    return fs.readlinkSync(path.join(root, RELEASES, 'current'))
  } catch {
    return null
  }
}

export const envOf = (root: string) => fs.readFileSync(path.join(root, APPLIANCE_ENV), 'utf8')
export const envReleaseId = (root: string) => /^NULLSPACE_RELEASE_ID=(.*)$/m.exec(envOf(root))?.[1] ?? null

export interface SwitchRecord {
  op: string
  from: string | null
  to: string
  at: string
  result: string
}
export interface StateJson {
  history: SwitchRecord[]
  failed: Record<string, { at: string; reason: string }>
}
export function stateOf(root: string): StateJson {
  try {
    return JSON.parse(fs.readFileSync(path.join(root, STATE), 'utf8')) as StateJson
  } catch {
    return { history: [], failed: {} }
  }
}
/** History without timestamps: `op from->to result`. */
export const historyOf = (root: string) => stateOf(root).history.map((h) => `${h.op} ${h.from ?? '-'}->${h.to} ${h.result}`)

export interface ReleaseRowJson {
  release_id: string
  version: string | null
  sealed: boolean
  active: boolean
  rollback_target: boolean
  failed: boolean
  bytes: number
  unique_bytes?: number
}
export async function releasesOf(root: string): Promise<{ releases: ReleaseRowJson[]; total_bytes: number }> {
  const r = ok(await cli(['releases', 'list', '--root', root, '--json']), 'releases list --json')
  return JSON.parse(r.stdout)
}

/** Writes an executable post-switch hook. */
export function addHook(root: string, name: string, script: string, mode = 0o755): void {
  const dir = path.join(root, HOOKS)
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 })
  fs.writeFileSync(path.join(dir, name), script, { mode })
  fs.chmodSync(path.join(dir, name), mode)
}

/** A hook that appends `name|operation|release|previous|root|cwd` to `log`. */
export function loggingHook(root: string, name: string, log: string, extra = ''): void {
  addHook(
    root,
    name,
    `#!/bin/sh\nprintf '%s|%s|%s|%s|%s|%s\\n' '${name}' "$NULLSPACE_OPERATION" "$NULLSPACE_RELEASE_ID" "$NULLSPACE_PREVIOUS_RELEASE_ID" "$NULLSPACE_ROOT" "$(pwd)" >> '${log}'\n${extra}`,
  )
}

export interface HookCall {
  name: string
  operation: string
  release: string
  previous: string
  root: string
  cwd: string
}
export function hookLog(log: string): HookCall[] {
  if (!fs.existsSync(log)) return []
  return fs
    .readFileSync(log, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [name, operation, release, previous, root, cwd] = line.split('|')
      return { name, operation, release, previous, root, cwd }
    })
}

/**
 * Every entry under `root`: type, permission bits, file sha256 or link target (and, when
 * `times`, mtimes: a directory's changes when anything is created or removed in it).
 */
export function treeOf(root: string, o: { times?: boolean } = {}): Record<string, string> {
  const out: Record<string, string> = {}
  const walk = (dir: string) => {
    for (const name of fs.readdirSync(dir).sort()) {
      const p = path.join(dir, name)
      const rel = path.relative(root, p)
      const st = fs.lstatSync(p)
      const mode = (st.mode & 0o7777).toString(8).padStart(4, '0')
      const t = o.times ? ` mtime=${st.mtimeMs}` : ''
      if (st.isSymbolicLink()) out[rel] = `symlink -> ${fs.readlinkSync(p)}${t}`
      else if (st.isDirectory()) {
        out[rel] = `dir ${mode}${t}`
        walk(p)
      } else if (st.isFile()) out[rel] = `file ${mode} ${st.size} ${sha256(fs.readFileSync(p))}${t}`
      else out[rel] = `other ${mode}`
    }
  }
  walk(root)
  if (o.times) out['.'] = `dir mtime=${fs.lstatSync(root).mtimeMs}`
  return out
}

/** What an operator sees as "the active appliance": `current`, compatibility links, rendered files, hooks. */
export function activeView(root: string): Record<string, string> {
  const all = treeOf(root)
  return Object.fromEntries(
    Object.entries(all).filter(([p]) => {
      if (p === `${RELEASES}/current`) return true
      if (p === RELEASES || p.startsWith(`${RELEASES}/`)) return false
      return !(p === 'var' || p.startsWith('var/'))
    }),
  )
}

/** Inode -> size of every regular file below `dir`. */
export function inodesUnder(dir: string): Map<number, number> {
  const out = new Map<number, number>()
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name)
      if (e.isDirectory()) walk(p)
      else if (e.isFile()) {
        const st = fs.lstatSync(p)
        out.set(st.ino, st.size)
      }
    }
  }
  if (fs.existsSync(dir)) walk(dir)
  return out
}
export const sumSizes = (m: Map<number, number>) => [...m.values()].reduce((a, b) => a + b, 0)

/** Resolves `p`, or fails the test after `ms`: every wait has its own deadline. */
export async function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms)))
  try {
    return await Promise.race([p, deadline])
  } finally {
    clearTimeout(timer)
  }
}

/** The 1-based crash-seam boundary right after the plan step whose action is `action`. */
export function boundaryAfter(steps: { action: string }[], action: string): number {
  const i = steps.findIndex((s) => s.action === action)
  if (i < 0) throw new Error(`no ${action} step in ${steps.map((s) => s.action).join(', ')}`)
  return i + 2
}

/** A script that answers `--version` like Firecracker does. */
export const versionScript = (line: string) => `#!/bin/sh\necho '${line}'\n`

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
export const startIngressFixture = (root: string): Promise<FixtureIngress> => startFixtureIngress({ releaseId: () => currentOf(root) })
