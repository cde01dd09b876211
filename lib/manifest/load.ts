// Reading a manifest, from a file or a URL: size cap before parsing, JSON with line and column,
// a depth bound, then the codec and the rules. Every failure is a `Failure` with exit 65, but a
// URL whose server cannot be reached (exit 1, lib/manifest/remote.ts).
import fs from 'node:fs/promises'
import path from 'node:path'
import { E } from '../commonjs.cjs'
import type { ParseError } from 'jsonc-parser'
import { Manifest } from './codec.js'
import { type LoadedManifest, manifestDigest } from './loaded.js'
import { type Problem, formatProblem, problemsFromErrors } from './problems.js'
import { type RuleOptions, checkRules } from './rules.js'
import { type Failure, errnoCode, manifestError } from '../errors.js'
import { DEFAULT_MANIFEST_FETCH, type ManifestFetch, fetchManifestBytes, manifestLocation } from './remote.js'

export const MAX_MANIFEST_BYTES = 16 * 1024 * 1024
export const MAX_JSON_DEPTH = 64

export { type LoadedManifest, manifestDigest } from './loaded.js'

/** Line and column (1-based) of a byte offset, for JSON syntax errors. */
function lineColumn(text: string, offset: number): string {
  const before = text.slice(0, offset)
  const line = before.split('\n').length
  const column = offset - before.lastIndexOf('\n')
  return `line ${line}, column ${column}`
}

/** Depth of the deepest array/object, scanning outside strings; stops past `limit`. */
function jsonDepthExceeds(text: string, limit: number): boolean {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i)
    if (inString) {
      if (ch === 0x5c) i++
      else if (ch === 0x22) inString = false
    } else if (ch === 0x22) inString = true
    else if (ch === 0x5b || ch === 0x7b) {
      if (++depth > limit) return true
    } else if (ch === 0x5d || ch === 0x7d) depth--
  }
  return false
}

/** Where and why `text` is not JSON: JSON.parse says why, jsonc-parser says where (V8 does not always). */
async function syntaxError(text: string): Promise<string> {
  // Loaded only for a file that is not JSON.
  const { parse: parseTolerant, printParseErrorCode } = await import('jsonc-parser')
  const errors: ParseError[] = []
  parseTolerant(text, errors, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false })
  if (text.trim() === '') return ': the file is empty'
  const first = errors[0]
  if (!first) return ''
  const what = printParseErrorCode(first.error).replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase()
  const token = text.slice(first.offset, first.offset + Math.min(first.length, 20))
  return ` at ${lineColumn(text, first.offset)}: ${what}${token ? ` ${JSON.stringify(token)}` : ''}`
}

export async function parseJson(text: string, label: string): Promise<E.Either<Failure, unknown>> {
  if (jsonDepthExceeds(text, MAX_JSON_DEPTH)) return E.left(manifestError(`${label}: JSON nested deeper than ${MAX_JSON_DEPTH} levels; this is not a manifest`))
  try {
    return E.right(JSON.parse(text))
  } catch {
    return E.left(manifestError(`${label}: invalid JSON${await syntaxError(text)}`))
  }
}

/** Decode + rules over already-parsed JSON; pure (the clock is in `opts`). */
export function validateManifest(json: unknown, opts: RuleOptions): E.Either<Problem[], Manifest> {
  const decoded = Manifest.decode(json)
  if (E.isLeft(decoded)) return E.left(problemsFromErrors(decoded.left))
  const problems = checkRules(decoded.right, opts)
  return problems.length ? E.left(problems) : E.right(decoded.right)
}

export async function readManifestBytes(file: string): Promise<E.Either<Failure, Buffer>> {
  try {
    const st = await fs.stat(file)
    if (!st.isFile()) return E.left(manifestError(`${file}: not a regular file; pass the manifest.json path with --manifest`))
    if (st.size > MAX_MANIFEST_BYTES) return E.left(manifestError(`${file}: ${st.size} bytes is over the ${MAX_MANIFEST_BYTES}-byte manifest limit; refusing to parse it`))
    const bytes = await fs.readFile(file)
    if (bytes.length > MAX_MANIFEST_BYTES) return E.left(manifestError(`${file}: over the ${MAX_MANIFEST_BYTES}-byte manifest limit; refusing to parse it`))
    return E.right(bytes)
  } catch (e) {
    const code = errnoCode(e)
    if (code === 'ENOENT') return E.left(manifestError(`${file}: no such manifest file; check the --manifest path`))
    if (code === 'EACCES' || code === 'EPERM') return E.left(manifestError(`${file}: cannot read the manifest (permission denied); run as a user that can read it`))
    return E.left(manifestError(`${file}: cannot read the manifest: ${e instanceof Error ? e.message : String(e)}`))
  }
}

/**
 * The manifest at `source` (a path, a file: URL, or an https:/http: URL, fetched with `net`),
 * decoded and checked against every rule; a fetched one goes through the same steps as a file.
 */
export async function loadManifest(source: string, opts: RuleOptions, net: Omit<ManifestFetch, 'allowHttp'> = DEFAULT_MANIFEST_FETCH): Promise<E.Either<Failure, LoadedManifest>> {
  const where = manifestLocation(source)
  if (E.isLeft(where)) return where
  const url = where.right.url ?? null
  const abs = url ?? path.resolve(where.right.path!)
  const bytes = url === null ? await readManifestBytes(abs) : await fetchManifestBytes(url, MAX_MANIFEST_BYTES, { ...net, allowHttp: opts.allowHttp })
  if (E.isLeft(bytes)) return bytes
  const json = await parseJson(bytes.right.toString('utf8'), abs)
  if (E.isLeft(json)) return json
  const valid = validateManifest(json.right, opts)
  if (E.isLeft(valid)) {
    const n = valid.left.length
    return E.left(manifestError(`${abs}: invalid manifest (${n} problem${n === 1 ? '' : 's'})`, valid.left.map(formatProblem)))
  }
  return E.right({ manifest: valid.right, bytes: bytes.right, digest: manifestDigest(bytes.right), path: abs, url })
}
