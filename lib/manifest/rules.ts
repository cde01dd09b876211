// Cross-field and clock rules of ARCHITECTURE.md section 7. Each rule is a small pure function
// that returns every problem it finds; `checkRules` runs them all.
import path from 'node:path/posix'
import { COMPONENT_KINDS } from './kinds.js'
import { MAX_HOST_PATH_BYTES, MAX_SEGMENT_BYTES, NAME_MAX, PATH_MAX, RELEASES_HOST_DIR, STAGING, compatLinkTarget } from '../layout.js'
import type { Manifest } from './codec.js'
import { type Problem, preview } from './problems.js'

export interface RuleOptions {
  /** The clock is an input: the rules stay pure. Milliseconds since the epoch. */
  readonly now: number
  readonly allowHttp: boolean
  readonly allowExpired: boolean
}

type Rule = (m: Manifest, o: RuleOptions) => Problem[]

const at = (i: number, field: string) => `components[${i}].${field}`
const utf8Bytes = (s: string) => Buffer.byteLength(s, 'utf8')
const TEMP_ROOM = `less room for the tool's temp names`

export const manifestIdMatches: Rule = (m) => {
  const want = `nullspace-single-host/${m.release_id}/${m.architecture}`
  return m.manifest_id === want ? [] : [{ path: 'manifest_id', message: `must be ${JSON.stringify(want)}, got ${preview(m.manifest_id)}` }]
}

export const everyKindExactlyOnce: Rule = (m) => {
  const problems: Problem[] = []
  for (const kind of COMPONENT_KINDS) {
    const where = m.components.flatMap((c, i) => (c.kind === kind ? [i] : []))
    if (where.length === 0) problems.push({ path: 'components', message: `missing a component of kind "${kind}" (all ten kinds are required)` })
    if (where.length > 1) problems.push({ path: at(where[1], 'kind'), message: `duplicate kind "${kind}" (also components[${where[0]}])` })
  }
  return problems
}

export const componentNamesUnique: Rule = (m) => duplicates(m, (c) => c.name, 'name')

/** Bytes the chunk index's file name adds to a component name (`.nullspace-chunks/<name>.chunks`, desired.ts). */
const INDEX_NAME_EXTRA = '.chunks'.length

/** A component's name names its chunk index file in the release: it must stay one file name there. */
export const componentNamesAreFileNames: Rule = (m) =>
  m.components.flatMap((c, i) => {
    const n = c.name
    if (n.includes('/') || n.includes('\\') || n === '.' || n === '..')
      return [{ path: at(i, 'name'), message: `must be a file name (no "/" or "\\", not "." or ".."): it names the component's chunk index file in the release, got ${preview(n)}` }]
    const bytes = utf8Bytes(n) + INDEX_NAME_EXTRA
    if (bytes > MAX_SEGMENT_BYTES)
      return [{ path: at(i, 'name'), message: `is ${utf8Bytes(n)} bytes; a name may be at most ${MAX_SEGMENT_BYTES - INDEX_NAME_EXTRA} bytes (it names the file <name>.chunks, NAME_MAX ${NAME_MAX}, ${TEMP_ROOM})` }]
    return []
  })

function duplicates(m: Manifest, key: (c: Manifest['components'][number]) => string | undefined, field: string): Problem[] {
  const first = new Map<string, number>()
  const problems: Problem[] = []
  m.components.forEach((c, i) => {
    const k = key(c)
    if (k === undefined) return
    const j = first.get(k)
    if (j === undefined) first.set(k, i)
    else problems.push({ path: at(i, field), message: `duplicate ${field} ${preview(k)} (also components[${j}])` })
  })
  return problems
}

export function installPathProblem(p: string): string | undefined {
  if (p.startsWith('/')) return `must be relative, got ${preview(p)}`
  if (p.includes('\\') || p.includes('\0')) return `must not contain backslashes or NUL, got ${preview(p)}`
  if (p.split('/').includes('..')) return `must not contain "..", got ${preview(p)}`
  if (p === '.' || p.endsWith('/')) return `must name a file, got ${preview(p)}`
  if (path.normalize(p) !== p || p.split('/').includes('.')) return `must be normalised (no "." or empty segments), got ${preview(p)}`
  if (/^(manifest\.json(\.sig)?|\.nullspace-release\.json|\.nullspace-chunks)(\/|$)/.test(p)) return `must not collide with the release's own files, got ${preview(p)}`
  return undefined
}

export const installPathsSafe: Rule = (m) => [
  ...m.components.flatMap((c, i) => {
    const problem = installPathProblem(c.install_path)
    return problem ? [{ path: at(i, 'install_path'), message: problem }] : []
  }),
  ...duplicates(m, (c) => c.install_path, 'install_path'),
  ...nestedPaths(m, (c) => c.install_path, 'install_path'),
]

/**
 * `bin` as a file and `bin/x` as another would make one of them impossible to install; the
 * same for compatibility links. Linear in the number of components: each path's parents are
 * looked up, never every pair compared (a 10 MB manifest must be refused in milliseconds).
 */
function nestedPaths(m: Manifest, key: (c: Manifest['components'][number]) => string | undefined, field: string): Problem[] {
  const firstChild = new Map<string, number>()
  m.components.forEach((c, j) => {
    const p = key(c)
    if (p === undefined) return
    for (let k = p.indexOf('/'); k >= 0; k = p.indexOf('/', k + 1)) if (!firstChild.has(p.slice(0, k))) firstChild.set(p.slice(0, k), j)
  })
  return m.components.flatMap((c, i) => {
    const p = key(c)
    const j = p === undefined ? undefined : firstChild.get(p)
    return j !== undefined ? [{ path: at(i, field), message: `is a parent directory of components[${j}].${field}` }] : []
  })
}

export function activePathProblem(p: string): string | undefined {
  if (!p.startsWith('/')) return `must be absolute, got ${preview(p)}`
  if (p.includes('\\') || p.includes('\0')) return `must not contain backslashes or NUL, got ${preview(p)}`
  if (p.split('/').includes('..')) return `must not contain "..", got ${preview(p)}`
  if (path.normalize(p) !== p || p.endsWith('/')) return `must be normalised, got ${preview(p)}`
  if (!p.startsWith('/opt/nullspace/')) return `must be under /opt/nullspace/, got ${preview(p)}`
  if (p === '/opt/nullspace/releases' || p.startsWith('/opt/nullspace/releases/')) return `must not be under /opt/nullspace/releases/, got ${preview(p)}`
  return undefined
}

export const activePathsSafe: Rule = (m) => [
  ...m.components.flatMap((c, i) => {
    const problem = c.active_path === undefined ? undefined : activePathProblem(c.active_path)
    return problem ? [{ path: at(i, 'active_path'), message: problem }] : []
  }),
  ...duplicates(m, (c) => c.active_path, 'active_path'),
  ...nestedPaths(m, (c) => c.active_path, 'active_path'),
]

/**
 * The api's file is the program of the rendered unit's ExecStart (its compatibility link, else
 * its path through `current`). systemd refuses an executable name with a quote, so such a
 * manifest would install a unit that never starts: refuse it here instead.
 */
export const apiProgramPathRunnable: Rule = (m) =>
  m.components.flatMap((c, i) => {
    if (c.kind !== 'api') return []
    const field = c.active_path !== undefined ? 'active_path' : 'install_path'
    const p = c.active_path ?? c.install_path
    // Backslashes are refused for every path (installPathProblem, activePathProblem).
    return /["']/.test(p)
      ? [{ path: at(i, field), message: `must not contain a quote (" or '): it is the program of the rendered systemd unit, and systemd refuses such an executable name; got ${preview(p)}` }]
      : []
  })

/** A path whose segments or whole length the kernel refuses (ENAMETOOLONG), counted in UTF-8 bytes as the kernel counts. */
function lengthProblem(p: string, hostPath: string, where: string): string | undefined {
  const long = p.split('/').find((segment) => utf8Bytes(segment) > MAX_SEGMENT_BYTES)
  if (long !== undefined) return `has a segment of ${utf8Bytes(long)} bytes (${preview(long)}); each may be at most ${MAX_SEGMENT_BYTES} bytes (NAME_MAX ${NAME_MAX}, ${TEMP_ROOM})`
  const n = utf8Bytes(hostPath)
  if (n > MAX_HOST_PATH_BYTES) return `is ${n} bytes${where}; a host path may be at most ${MAX_HOST_PATH_BYTES} bytes (PATH_MAX ${PATH_MAX}, ${TEMP_ROOM})`
  return undefined
}

/**
 * Paths that fit the filesystem: a path that validated but that no syscall accepts would switch
 * and then fail every command with ENAMETOOLONG. `--root` adds its own length on top; these
 * bounds are for the paths under it. Only paths of a sound shape are measured (one problem each).
 */
export const pathLengthsFit: Rule = (m) =>
  m.components.flatMap((c, i) => {
    const out: Problem[] = []
    if (installPathProblem(c.install_path) === undefined) {
      const staged = path.join(RELEASES_HOST_DIR, STAGING, m.release_id)
      const problem = lengthProblem(c.install_path, path.join(staged, c.install_path), ` under ${staged}/`)
      if (problem) out.push({ path: at(i, 'install_path'), message: problem })
    }
    if (c.active_path !== undefined && activePathProblem(c.active_path) === undefined) {
      const problem = lengthProblem(c.active_path, c.active_path, '')
      if (problem) out.push({ path: at(i, 'active_path'), message: problem })
      else if (out.length === 0) {
        // The link's own content: `../` for each level of active_path, then the path through current.
        const n = utf8Bytes(compatLinkTarget(c.active_path, c.install_path))
        if (n >= PATH_MAX) out.push({ path: at(i, 'active_path'), message: `needs a link of ${n} bytes to reach install_path through current; a link may hold at most ${PATH_MAX - 1} bytes (PATH_MAX ${PATH_MAX})` })
      }
    }
    return out
  })

export const digestFactsAgree: Rule = (m) =>
  (['rootfs', 'template'] as const).flatMap((kind) => {
    const field = `${kind}_digest` as const
    const component = m.components.find((c) => c.kind === kind)
    if (!component) return []
    const want = `sha256:${component.sha256}`
    const got = m.runtime_compatibility[field]
    return got === want ? [] : [{ path: `runtime_compatibility.${field}`, message: `must equal the ${kind} component's sha256 (${want}), got ${preview(got)}` }]
  })

export const firecrackerVersionsAgree: Rule = (m) => {
  const want = m.runtime_compatibility.firecracker_version
  return m.components.flatMap((c, i) =>
    (c.kind === 'firecracker' || c.kind === 'jailer') && c.version !== want
      ? [{ path: at(i, 'version'), message: `${c.kind} version must equal runtime_compatibility.firecracker_version ${preview(want)}, got ${preview(c.version)}` }]
      : [],
  )
}

export const componentArchitecturesMatch: Rule = (m) =>
  m.components.flatMap((c, i) =>
    c.architecture === 'noarch' || c.architecture === m.architecture
      ? []
      : [{ path: at(i, 'architecture'), message: `must be ${preview(m.architecture)} (the manifest's) or "noarch", got ${preview(c.architecture)}` }],
  )

export function urlProblem(raw: string, allowHttp: boolean): string | undefined {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    return `must be an absolute URL, got ${preview(raw)}`
  }
  if (url.protocol === 'http:' && !allowHttp) return `http: URLs need --allow-http, got ${preview(raw)}`
  if (!['file:', 'https:', 'http:'].includes(url.protocol)) return `scheme must be file: or https:, got ${preview(raw)}`
  if (url.username || url.password) return `must not carry a user or password, got ${preview(url.protocol + '//' + url.host + url.pathname)}`
  if (url.protocol === 'file:' && url.host !== '' && url.host !== 'localhost') return `file: URLs must not name a host, got ${preview(raw)}`
  return undefined
}

export const urlsAllowed: Rule = (m, o) =>
  m.components.flatMap((c, i) => {
    const out: Problem[] = []
    const p = urlProblem(c.url, o.allowHttp)
    if (p) out.push({ path: at(i, 'url'), message: p })
    const q = c.chunks ? urlProblem(c.chunks.url, o.allowHttp) : undefined
    if (q) out.push({ path: at(i, 'chunks.url'), message: q })
    return out
  })

export const notExpired: Rule = (m, o) => {
  if (m.expires_at === undefined || o.allowExpired) return []
  // The codec admits only real calendar timestamps, so Date.parse cannot fail here.
  return Date.parse(m.expires_at) > o.now ? [] : [{ path: 'expires_at', message: `manifest expired at ${m.expires_at}; a stale manifest must not install (pass --allow-expired to override)` }]
}

export const RULES: readonly Rule[] = [
  manifestIdMatches,
  everyKindExactlyOnce,
  componentNamesUnique,
  componentNamesAreFileNames,
  installPathsSafe,
  activePathsSafe,
  pathLengthsFit,
  apiProgramPathRunnable,
  digestFactsAgree,
  firecrackerVersionsAgree,
  componentArchitecturesMatch,
  urlsAllowed,
  notExpired,
]

export const checkRules = (m: Manifest, o: RuleOptions): Problem[] => RULES.flatMap((rule) => rule(m, o))
