// The hostile-input corpus (ARCHITECTURE.md section 4, invariants 2, 3, 4, 7): every case under
// spec/fixtures/hostile/ is a manifest (a patch to a freshly built valid one, or a generated
// document) plus an optional prepared root, run through the real CLI. Each case asserts its
// exit code and message, and that nothing outside the root changed, the active state under
// the root is unchanged, and every sealed release holds only verified bytes.
//
// A case file `NN-name.json`:
//   description   what is hostile, in words
//   root?         "A" (default: release A installed), "AB" (A installed, B fetched and sealed),
//                 "empty", "file" (--root names a regular file), "missing"
//   tmpfs?        size of a tmpfs mounted as the root before it is filled (needs mount(2): a
//                 case that cannot mount says why and is not counted as tried)
//   requires?     host paths the case needs (e.g. /etc/shadow); absent -> skipped, said so
//   watch?        host paths outside every temp dir judged unchanged by stat alone
//   manifest?     { base?: "A"|"B" (default B), patch?: RFC 6902 ops, text_replace?: [[from, to]],
//                   generate?: { padded: bytes } | { nested: depth } | { nested_field: pointer, depth }
//                             | { many_components: n },
//                   kind?: "fifo"|"directory" }   (no patch and no text_replace: the built bytes)
//   setup?        actions in order, each one key: symlink+to, hardlink+to, file(+content|from "B:<file>", mode, uid),
//                 dir(+mode), remove, fifo, trust (a key name; at: where to write it, default
//                 etc/nullspace/trusted-keys/<key id>.pub), sign (a key name), cosign (a key name: adds
//                 its signature to the .sig, making it an array), trust_root {keys: key names,
//                 threshold, version?, expires_at?, extra?: fields added} (etc/nullspace/trust/root.json
//                 and root.json.sig signed by every listed key), append+content,
//                 fill {leave_bytes}, chmod+mode (octal string), chown+uid
//   command?      argv (default ["install", "--manifest", "$MANIFEST"]); --root is appended
//   timeout_s?    the case's deadline (default 30)
//   expect        { exit, stderr?: fragments, sealed?: a release id the command may seal }
// Strings may name $CASE, $ROOT, $OUTSIDE, $MANIFEST, $A, $B (release ids), $SHA:<kind>,
// $SHAUPPER:<kind>, $SIZE:<kind> (of release B); a string that is exactly "$SIZEOF:<path>"
// becomes that file's size.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fs from 'node:fs'
import path from 'node:path'
import { execFileSync } from 'node:child_process'
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto'
import { REPO, runCli, type CliResult } from './helpers/cli.js'
import { tempDir } from './helpers/tmp.js'
import { buildRelease, type BuiltRelease } from './helpers/artifacts.js'
import { applyPatch } from './fixtures/bad-manifests/corpus.js'
import { RELEASES, activeState, diff, liveLockHolder, outsideState, pool, sealedProblems } from './fixtures/hostile/host-state.js'

const CASES_DIR = path.join(REPO, 'spec/fixtures/hostile')
const A_ID = '2026.06.10'
const B_ID = '2026.06.11'
const PARALLEL = 4

type Action =
  | { symlink: string; to: string }
  | { hardlink: string; to: string }
  | { file: string; content?: string; from?: string; mode?: string; uid?: number }
  | { dir: string; mode?: string }
  | { remove: string }
  | { fifo: string }
  | { trust: string; at?: string }
  | { sign: string }
  | { cosign: string }
  | { trust_root: { keys: string[]; threshold: number; version?: number; expires_at?: string; extra?: Record<string, unknown> } }
  | { append: string; content: string }
  | { fill: { leave_bytes: number } }
  | { chmod: string; mode: string }
  | { chown: string; uid: number }

interface HostileCase {
  file: string
  description: string
  root?: 'A' | 'AB' | 'empty' | 'file' | 'missing'
  tmpfs?: string
  requires?: string[]
  watch?: string[]
  manifest?: {
    base?: 'A' | 'B'
    patch?: Parameters<typeof applyPatch>[1]
    text_replace?: [string, string][]
    generate?: { padded?: number; nested?: number; nested_field?: string; depth?: number; many_components?: number }
    kind?: 'fifo' | 'directory'
  }
  setup?: Action[]
  command?: string[]
  timeout_s?: number
  expect: { exit: number; stderr?: string[]; sealed?: string }
}

interface Outcome {
  skipped?: string
  result?: CliResult
  error?: string
  ms: number
  outside: string[]
  active: string[]
  sealed: string[]
  lock: number | null
  sealedId?: string
}

const cases: HostileCase[] = fs
  .readdirSync(CASES_DIR)
  .filter((f) => /^\d+-.*\.json$/.test(f))
  .sort()
  .map((file) => ({ file, ...(JSON.parse(fs.readFileSync(path.join(CASES_DIR, file), 'utf8')) as Omit<HostileCase, 'file'>) }))

let A: BuiltRelease
let B: BuiltRelease
const templates: Record<string, string> = {}
const keys: Record<string, { publicKey: KeyObject; privateKey: KeyObject }> = {}
const outcomes = new Map<string, Promise<Outcome>>()
const tally = { tried: 0, changed: 0, skipped: [] as string[], times: [] as [string, number][] }

const cli = (args: string[], timeoutMs = 60_000) => runCli(args, { timeoutMs })
const mustOk = (r: CliResult, what: string) => {
  if (r.code !== 0) throw new Error(`${what}: exit ${r.code}\n${r.stderr}`)
}

test.before(async () => {
  ;[A, B] = await Promise.all([buildRelease({ releaseId: A_ID, version: '0.1.0' }), buildRelease({ releaseId: B_ID, version: '0.2.0' })])
  templates.A = tempDir('hostile-template-a')
  mustOk(await cli(['install', '--manifest', A.manifest, '--root', templates.A, '--quiet']), 'install A into the template')
  templates.AB = tempDir('hostile-template-ab')
  execFileSync('cp', ['-a', `${templates.A}/.`, templates.AB])
  mustOk(await cli(['artifacts', 'fetch', '--manifest', B.manifest, '--root', templates.AB, '--quiet']), 'fetch B into the template')
  for (const name of ['trusted', 'untrusted', 'root1', 'root2', 'root3']) keys[name] = generateKeyPairSync('ed25519')
  const jobs = cases.map((c) => () => runCase(c))
  pool(jobs, PARALLEL).forEach((p, i) => outcomes.set(cases[i].file, p))
})

test.after(() => {
  console.log(`  hostile inputs tried: ${tally.tried}, changed anything: ${tally.changed}${tally.skipped.length ? ` (${tally.skipped.length} not run here, see below)` : ''}`)
  console.log(`  slowest: ${tally.times.sort((a, b) => b[1] - a[1]).slice(0, 5).map(([f, ms]) => `${f} ${ms} ms`).join(', ')}`)
  for (const s of tally.skipped) console.log(`  not run: ${s}`)
})

test('the corpus has at least 40 cases, each with a description and an expected exit', () => {
  assert.ok(cases.length >= 40, `${cases.length} cases`)
  for (const c of cases) {
    assert.type(c.description, 'string', c.file)
    assert.type(c.expect?.exit, 'number', c.file)
  }
})

for (const c of cases) {
  test(`${c.file}: ${c.description}`, async () => {
    const o = await outcomes.get(c.file)!
    if (o.skipped) {
      tally.skipped.push(o.skipped)
      return
    }
    const r = o.result
    const show = r ? `exit ${r.code}${r.signal ? ` (${r.signal})` : ''} in ${o.ms} ms\nstdout: ${r.stdout.slice(0, 1500)}\nstderr: ${r.stderr.slice(0, 1500)}` : `no result in ${o.ms} ms: ${o.error}`
    const problems: string[] = []
    // What must never happen, whatever the command said.
    for (const d of o.outside) problems.push(`changed outside the root: ${d}`)
    problems.push(...summarise(o.active, 'active state changed'))
    for (const d of o.sealed) problems.push(`sealed release unsound: ${d}`)
    if (o.lock !== null) problems.push(`the host lock is still held by live pid ${o.lock}`)
    // What the operator reads.
    if (!r) problems.push(`no exit: ${o.error}`)
    else {
      if (r.code !== c.expect.exit) problems.push(`exit ${r.code}${r.signal ? ` (${r.signal})` : ''}, expected ${c.expect.exit}`)
      for (const fragment of (c.expect.stderr ?? []).map((f) => fill(f, {}))) if (!r.stderr.includes(fragment)) problems.push(`stderr lacks ${JSON.stringify(fragment)}`)
      if (c.expect.exit !== 0 && r.stderr.trim() === '') problems.push('a failure must say why on stderr')
      if (/^\s+at .+:\d+:\d+\)?$/m.test(r.stderr)) problems.push('stderr holds a stack trace')
      if (o.sealedId && !fs.existsSync(path.join(o.sealedId, '.nullspace-release.json'))) problems.push(`${o.sealedId} is not sealed`)
    }
    // HOSTILE_SHOW=1 prints what the operator saw for every case (reviewing the messages).
    if (process.env.HOSTILE_SHOW === '1') console.log(`  ${c.file}: exit ${r?.code ?? '-'} in ${o.ms} ms: ${r?.stderr.trim().split('\n').filter((l) => !l.includes('warning:'))[0] ?? o.error}`)
    assert.equal(problems, [], `${c.file}:\n  ${problems.join('\n  ')}\n${show}`)
  })
}

/** Diff lines of the active state, what an operator notices first (current, links, rendered files) before a release's own files. */
function summarise(lines: string[], label: string): string[] {
  const inRelease = (l: string) => /^opt\/nullspace\/releases\/(?!current:)[^/:]+[/:]/.test(l)
  const ordered = [...lines.filter((l) => !inRelease(l)), ...lines.filter(inRelease)]
  const shown = ordered.slice(0, 12).map((l) => `${label}: ${l}`)
  return ordered.length > 12 ? [...shown, `${label}: ... and ${ordered.length - 12} more`] : shown
}

/** Runs one case start to finish; never throws (a harness error is an outcome the test reports). */
async function runCase(c: HostileCase): Promise<Outcome> {
  const started = Date.now()
  const caseDir = tempDir('hostile')
  const root = path.join(caseDir, 'root')
  const outside = path.join(caseDir, 'outside')
  const manifest = path.join(caseDir, 'manifest.json')
  const vars = { CASE: caseDir, ROOT: root, OUTSIDE: outside, MANIFEST: manifest }
  const empty: Outcome = { ms: 0, outside: [], active: [], sealed: [], lock: null }
  try {
    for (const need of c.requires ?? []) if (!fs.existsSync(need)) return { ...empty, skipped: `${c.file} needs ${need}, which this host does not have` }
    makeSurroundings(caseDir, outside)
    const skip = makeRoot(c, root)
    if (skip) return { ...empty, skipped: skip }
    makeManifest(c, manifest, vars)
    for (const action of c.setup ?? []) doAction(action, root, vars)

    const sealedId = c.expect.sealed ? fill(c.expect.sealed, vars) : undefined
    const watched = [caseDir, A.dir, B.dir]
    const outsideBefore = outsideState(watched, [root], c.watch)
    const activeBefore = activeState(root, sealedId ? [sealedId] : [])
    const args = [...(c.command ?? ['install', '--manifest', '$MANIFEST']).map((a) => fill(a, vars)), '--root', root]
    let result: CliResult | undefined
    let error: string | undefined
    const t0 = Date.now()
    try {
      result = await runCli(args, { timeoutMs: (c.timeout_s ?? 30) * 1000 })
    } catch (e) {
      error = (e as Error).message.split('\n')[0]
    }
    const ms = Date.now() - t0
    tally.tried++
    // A child killed at its deadline may not be reaped yet: give the kernel a moment before judging the lock.
    for (let i = 0; error && i < 40 && liveLockHolder(root) !== null; i++) await new Promise((r) => setTimeout(r, 50))
    const o: Outcome = {
      result,
      error,
      ms,
      outside: diff(outsideBefore, outsideState(watched, [root], c.watch)),
      active: diff(activeBefore, activeState(root, sealedId ? [sealedId] : [])),
      sealed: sealedProblems(root),
      lock: liveLockHolder(root),
      sealedId: sealedId ? path.join(root, RELEASES, sealedId) : undefined,
    }
    if (o.outside.length + o.active.length + o.sealed.length > 0) tally.changed++
    tally.times.push([c.file, ms])
    return o
  } catch (e) {
    return { ...empty, error: `the harness failed to prepare or judge the case: ${(e as Error).stack}`, ms: Date.now() - started }
  } finally {
    if (c.tmpfs !== undefined) {
      try {
        execFileSync('umount', ['-l', root], { stdio: 'ignore' })
      } catch {
        // already gone
      }
    }
  }
}

/** The outside world next to the root: a sentinel tree and the targets planted symlinks point at. */
function makeSurroundings(caseDir: string, outside: string): void {
  fs.mkdirSync(path.join(caseDir, 'sentinel/deeper'), { recursive: true })
  fs.writeFileSync(path.join(caseDir, 'sentinel/keep.txt'), 'sentinel next to the root\n')
  fs.writeFileSync(path.join(caseDir, 'sentinel/deeper/keep.bin'), Buffer.from([0, 1, 2, 3, 255]))
  fs.mkdirSync(path.join(caseDir, 'media'), { recursive: true })
  for (const d of ['bin', 'rel', 'staging', 'etc', 'state']) {
    fs.mkdirSync(path.join(outside, d), { recursive: true })
    fs.writeFileSync(path.join(outside, d, 'keep'), `outside ${d}\n`)
  }
  fs.writeFileSync(path.join(outside, 'secret.txt'), 'an outside secret, never to be copied or changed\n', { mode: 0o600 })
  fs.writeFileSync(path.join(outside, 'index.chunks'), 'not a chunk index\n')
}

/** Returns a reason when the case cannot run here (no mount), else prepares the root. */
function makeRoot(c: HostileCase, root: string): string | undefined {
  const kind = c.root ?? 'A'
  if (kind === 'missing') return undefined
  if (kind === 'file') {
    fs.writeFileSync(root, 'this is a file, not a root\n')
    return undefined
  }
  fs.mkdirSync(root, { mode: 0o755 })
  if (c.tmpfs !== undefined) {
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${c.tmpfs},mode=0755`, 'tmpfs', root], { stdio: ['ignore', 'ignore', 'pipe'] })
    } catch (e) {
      const why = (e as { stderr?: Buffer }).stderr?.toString().trim() || (e as Error).message
      return `${c.file} needs a ${c.tmpfs} tmpfs root (mount -t tmpfs); mount is not permitted here: ${why}`
    }
  }
  if (kind === 'A' || kind === 'AB') execFileSync('cp', ['-a', `${templates[kind]}/.`, root])
  return undefined
}

function makeManifest(c: HostileCase, file: string, vars: Record<string, string>): void {
  const m = c.manifest ?? {}
  if (m.kind === 'fifo') return void execFileSync('mkfifo', [file])
  if (m.kind === 'directory') return void fs.mkdirSync(file)
  const base = m.base === 'A' ? A : B
  const bytes = fs.readFileSync(base.manifest)
  const g = m.generate
  if (g?.padded !== undefined) return void fs.writeFileSync(file, Buffer.concat([bytes, Buffer.alloc(g.padded - bytes.length, 0x20)]))
  if (g?.nested !== undefined) return void fs.writeFileSync(file, '['.repeat(g.nested) + ']'.repeat(g.nested))
  let doc = JSON.parse(bytes.toString('utf8')) as { components: Record<string, unknown>[] }
  if (g?.nested_field !== undefined) {
    doc = applyPatch(doc, [{ op: 'replace', path: g.nested_field, value: '__DEEP__' }]) as typeof doc
    const deep = '{"a":'.repeat(g.depth ?? 10_000) + '1' + '}'.repeat(g.depth ?? 10_000)
    return void fs.writeFileSync(file, JSON.stringify(doc, null, 2).replace('"__DEEP__"', deep))
  }
  if (g?.many_components !== undefined) {
    const first = doc.components[0]
    for (let i = 0; i < g.many_components; i++) doc.components.push({ ...first, name: `extra-${i}`, install_path: `extra/x${i}`, active_path: undefined })
    return void fs.writeFileSync(file, JSON.stringify(doc))
  }
  if (!m.patch && !m.text_replace) return void fs.writeFileSync(file, bytes)
  if (m.patch) doc = applyPatch(doc, m.patch.map((op) => ('value' in op ? { ...op, value: fillDeep(op.value, vars) } : op)) as Parameters<typeof applyPatch>[1]) as typeof doc
  let text = `${JSON.stringify(doc, null, 2)}\n`
  for (const [from, to] of m.text_replace ?? []) {
    const f = fill(from, vars)
    if (!text.includes(f)) throw new Error(`${c.file}: text_replace: ${JSON.stringify(f)} is not in the manifest`)
    text = text.replace(f, fill(to, vars))
  }
  fs.writeFileSync(file, text)
}

/** Host path of a setup path: absolute after substitution, else under the root. */
const at = (p: string, root: string, vars: Record<string, string>) => {
  const s = fill(p, vars)
  return path.isAbsolute(s) ? s : path.join(root, s)
}

function doAction(a: Action, root: string, vars: Record<string, string>): void {
  if ('symlink' in a) {
    const p = at(a.symlink, root, vars)
    fs.mkdirSync(path.dirname(p), { recursive: true })
    fs.rmSync(p, { recursive: true, force: true })
    fs.symlinkSync(fill(a.to, vars), p)
  } else if ('hardlink' in a) {
    const p = at(a.hardlink, root, vars)
    fs.mkdirSync(path.dirname(p), { recursive: true })
    fs.rmSync(p, { recursive: true, force: true })
    fs.linkSync(fill(a.to, vars), p)
  } else if ('file' in a) {
    const p = at(a.file, root, vars)
    fs.mkdirSync(path.dirname(p), { recursive: true })
    const data = a.from ? fs.readFileSync(path.join((a.from.startsWith('A:') ? A : B).dir, a.from.slice(2))) : fill(a.content ?? '', vars)
    fs.writeFileSync(p, data)
    if (a.mode) fs.chmodSync(p, parseInt(a.mode, 8))
    if (a.uid !== undefined) fs.chownSync(p, a.uid, a.uid)
  } else if ('dir' in a) {
    const p = at(a.dir, root, vars)
    fs.mkdirSync(p, { recursive: true })
    if (a.mode) fs.chmodSync(p, parseInt(a.mode, 8))
  }
  else if ('remove' in a) fs.rmSync(at(a.remove, root, vars), { recursive: true, force: true })
  else if ('fifo' in a) {
    const p = at(a.fifo, root, vars)
    fs.mkdirSync(path.dirname(p), { recursive: true })
    execFileSync('mkfifo', [p])
  } else if ('trust' in a) {
    const pub = keys[a.trust].publicKey
    const p = a.at ? at(a.at, root, vars) : path.join(root, 'etc/nullspace/trusted-keys', `${keyIdOf(pub)}.pub`)
    fs.mkdirSync(path.dirname(p), { recursive: true })
    fs.writeFileSync(p, pub.export({ type: 'spki', format: 'pem' }) as string)
  } else if ('sign' in a) {
    const k = keys[a.sign]
    const bytes = fs.readFileSync(vars.MANIFEST)
    const sig = { key_id: keyIdOf(k.publicKey), algorithm: 'ed25519', signature: sign(null, bytes, k.privateKey).toString('base64') }
    fs.writeFileSync(`${vars.MANIFEST}.sig`, `${JSON.stringify(sig, null, 2)}\n`)
  } else if ('cosign' in a) {
    const k = keys[a.cosign]
    const file = `${vars.MANIFEST}.sig`
    const existing = JSON.parse(fs.readFileSync(file, 'utf8'))
    const sig = { key_id: keyIdOf(k.publicKey), algorithm: 'ed25519', signature: sign(null, fs.readFileSync(vars.MANIFEST), k.privateKey).toString('base64') }
    fs.writeFileSync(file, `${JSON.stringify([...(Array.isArray(existing) ? existing : [existing]), sig], null, 2)}\n`)
  } else if ('trust_root' in a) {
    const r = a.trust_root
    const doc = {
      format: 'nullspace-root-v1',
      version: r.version ?? 1,
      expires_at: r.expires_at ?? '2099-01-01T00:00:00Z',
      threshold: r.threshold,
      keys: Object.fromEntries(r.keys.map((n) => [keyIdOf(keys[n].publicKey), keys[n].publicKey.export({ type: 'spki', format: 'pem' })])),
      ...r.extra,
    }
    const bytes = Buffer.from(`${JSON.stringify(doc, null, 2)}\n`)
    const dir = path.join(root, 'etc/nullspace/trust')
    fs.mkdirSync(dir, { recursive: true })
    fs.writeFileSync(path.join(dir, 'root.json'), bytes)
    const sigs = r.keys.map((n) => ({ key_id: keyIdOf(keys[n].publicKey), algorithm: 'ed25519', signature: sign(null, bytes, keys[n].privateKey).toString('base64') }))
    fs.writeFileSync(path.join(dir, 'root.json.sig'), `${JSON.stringify(sigs, null, 2)}\n`)
  } else if ('append' in a) fs.appendFileSync(at(a.append, root, vars), a.content)
  else if ('fill' in a) fillDisk(root, a.fill.leave_bytes)
  else if ('chmod' in a) fs.chmodSync(at(a.chmod, root, vars), parseInt(a.mode, 8))
  else if ('chown' in a) fs.lchownSync(at(a.chown, root, vars), a.uid, -1)
  else throw new Error(`unknown setup action ${JSON.stringify(a)}`)
}

const keyIdOf = (pub: KeyObject) => createHash('sha256').update(pub.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16)

/** Writes a filler file until only `leave` bytes are free on the root's filesystem (or none). */
function fillDisk(root: string, leave: number): void {
  const fd = fs.openSync(path.join(root, 'filler.bin'), 'w')
  try {
    const chunk = Buffer.alloc(64 * 1024, 0x5a)
    for (;;) {
      const st = fs.statfsSync(root)
      const free = st.bavail * st.bsize - leave
      if (free <= 0) break
      try {
        fs.writeSync(fd, chunk, 0, Math.min(chunk.length, free))
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOSPC') break
        throw e
      }
    }
  } finally {
    fs.closeSync(fd)
  }
}

function component(kind: string): { sha256: string; size: number } {
  const doc = JSON.parse(fs.readFileSync(B.manifest, 'utf8')) as { components: { kind: string; sha256: string; size: number }[] }
  const c = doc.components.find((x) => x.kind === kind)
  if (!c) throw new Error(`no component of kind ${kind}`)
  return c
}

/** Substitutes $CASE, $ROOT, $OUTSIDE, $MANIFEST, $A, $B, $SHA:<kind>, $SHAUPPER:<kind>, $SIZE:<kind>. */
function fill(s: string, vars: Record<string, string>): string {
  return s.replace(/\$(MANIFEST|OUTSIDE|CASE|ROOT|SHAUPPER:[a-z_]+|SHA:[a-z_]+|SIZE:[a-z_]+|A\b|B\b)/g, (_, name: string) => {
    if (name === 'A') return A_ID
    if (name === 'B') return B_ID
    if (name.startsWith('SHAUPPER:')) return component(name.slice(9)).sha256.toUpperCase()
    if (name.startsWith('SHA:')) return component(name.slice(4)).sha256
    if (name.startsWith('SIZE:')) return String(component(name.slice(5)).size)
    return vars[name]
  })
}

function fillDeep(v: unknown, vars: Record<string, string>): unknown {
  if (typeof v === 'string') {
    const s = fill(v, vars)
    return s.startsWith('$SIZEOF:') ? fs.statSync(s.slice(8)).size : s
  }
  if (Array.isArray(v)) return v.map((x) => fillDeep(x, vars))
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fillDeep(x, vars)]))
  return v
}

test.run()
