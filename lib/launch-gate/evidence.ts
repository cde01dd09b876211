// Launch evidence: one run folder per gate run, named by UTC time to the millisecond, holding
// launch-gate.json, doctor.json, the manifest checked, SHA256SUMS over every other file, and
// SHA256SUMS.sig when an evidence key is configured. The folder is assembled under a hidden
// name and renamed into place, so a reader never sees half a run. verifyEvidence is the
// third party's side: every sum, no unlisted file, the signature, and what that proves.
import fs from 'node:fs/promises'
import path from 'node:path'
import { createHash, createPublicKey, type KeyObject } from 'node:crypto'
import { E } from '../commonjs.cjs'
import type { ChalkInstance } from 'chalk'
import { TOOL_VERSION } from '../version.js'
import { EVIDENCE_KEY, type Layout } from '../layout.js'
import { errnoCode, usageError } from '../errors.js'
import { grewPast, isUnreadable, mkdirUnder, openRegularFile, readBlocks, readRegularFile, renameDurable, type UnreadableFile, writeFileAtomic } from '../fsx.js'
import { checkSignature, keyId, MAX_SIGNATURE_BYTES, readSecretKey, signBytes, SignatureFile, writeSignature } from '../signature.js'
import type { CheckName, CheckResult, EvidenceKeyFacts, GateHostFacts, GateMode } from './checks.js'
import type { GateRun } from './run.js'

export const GATE_FILE = 'launch-gate.json'
export const DOCTOR_FILE = 'doctor.json'
export const MANIFEST_COPY = 'manifest.json'
export const SUMS_FILE = 'SHA256SUMS'
export const SUMS_SIG_FILE = 'SHA256SUMS.sig'

export interface EvidenceKey {
  readonly facts: EvidenceKeyFacts
  readonly key: KeyObject | null
}

/**
 * `--evidence-key K` (unusable: a usage error, exit 64), else `<root>/etc/nullspace/evidence-key`
 * when present (unusable: reported by the evidence.signature check), else none. A key that
 * group or other can read is unusable: the evidence is never signed with it.
 */
export async function resolveEvidenceKey(l: Layout, flag: string | undefined): Promise<EvidenceKey> {
  if (flag !== undefined) {
    const key = await readSecretKey(flag)
    return { key, facts: { source: 'flag', path: path.resolve(flag), key_id: keyId(createPublicKey(key)), problem: null } }
  }
  const p = l.host(EVIDENCE_KEY)
  try {
    await fs.lstat(p)
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return { key: null, facts: { source: null, path: null, key_id: null, problem: null } }
  }
  try {
    const key = await readSecretKey(p)
    return { key, facts: { source: 'root', path: p, key_id: keyId(createPublicKey(key)), problem: null } }
  } catch (e) {
    const why = (e as Error).message.replace(/^.*?: /, '')
    return { key: null, facts: { source: 'root', path: p, key_id: null, problem: why } }
  }
}

/** `20260610T120000.123Z`: UTC to the millisecond, sortable, no characters a shell or a filesystem minds. */
export const runFolderName = (d: Date) => d.toISOString().replace(/[-:]/g, '')

/** The content of launch-gate.json. */
export interface GateDocument {
  readonly format_version: 1
  readonly tool: { readonly name: 'nullspace-host'; readonly version: string }
  readonly mode: GateMode
  readonly result: 'pass' | 'fail'
  readonly ok: boolean
  readonly failed_checks: readonly CheckName[]
  readonly started_at: string
  readonly finished_at: string
  readonly manifest: {
    readonly path: string
    readonly manifest_id: string | null
    readonly release_id: string | null
    readonly version: string | null
    readonly digest: string | null
    readonly signed_by: string | null
    readonly trusted_keys: number
  }
  readonly targets: GateRun['targets']
  readonly host: GateHostFacts
  readonly checks: readonly CheckResult[]
  readonly evidence: { readonly signed: boolean; readonly key_id: string | null }
}

export function gateDocument(run: GateRun, key: EvidenceKey): GateDocument {
  const m = run.manifest
  return {
    format_version: 1,
    tool: { name: 'nullspace-host', version: TOOL_VERSION },
    mode: run.mode,
    result: run.ok ? 'pass' : 'fail',
    ok: run.ok,
    failed_checks: run.checks.filter((c) => c.status === 'fail').map((c) => c.name),
    started_at: run.started_at,
    finished_at: run.finished_at,
    manifest: {
      path: m.path,
      manifest_id: m.manifest?.manifest_id ?? null,
      release_id: m.manifest?.release_id ?? null,
      version: m.manifest?.version ?? null,
      digest: m.digest,
      signed_by: m.signed_by,
      trusted_keys: m.trusted_keys,
    },
    targets: run.targets,
    host: run.host,
    checks: run.checks,
    evidence: { signed: key.key !== null, key_id: key.key ? key.facts.key_id : null },
  }
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')

/** sha256sum's format (`<hex>  <name>`), sorted by name. */
export const sha256sums = (files: ReadonlyMap<string, Uint8Array>) =>
  [...files.keys()].sort().map((name) => `${sha256(files.get(name)!)}  ${name}\n`).join('')

export interface WrittenEvidence {
  readonly dir: string
  readonly files: readonly string[]
  readonly key_id: string | null
}

/**
 * Writes a new run folder under `evidenceDir`. `root` is set when the directory is the default
 * one under --root: its parents are then made with mkdirUnder, never through a symlink.
 */
export async function writeEvidence(evidenceDir: string, root: string | null, doc: GateDocument, run: GateRun, key: EvidenceKey): Promise<WrittenEvidence> {
  if (root !== null) await mkdirUnder(root, evidenceDir)
  else await fs.mkdir(evidenceDir, { recursive: true, mode: 0o755 })
  const stamp = new Date(run.started_at)
  const staging = path.join(evidenceDir, `.${runFolderName(stamp)}.partial-${process.pid}`)
  await fs.rm(staging, { recursive: true, force: true })
  await fs.mkdir(staging, { mode: 0o755 })
  try {
    const files = new Map<string, Uint8Array>()
    files.set(GATE_FILE, Buffer.from(`${JSON.stringify(doc, null, 2)}\n`))
    files.set(DOCTOR_FILE, Buffer.from(`${JSON.stringify(run.doctor ?? { ok: false, error: run.doctor_error ?? 'doctor did not run' }, null, 2)}\n`))
    if (run.manifest_bytes !== null) files.set(MANIFEST_COPY, run.manifest_bytes)
    for (const [name, bytes] of files) await writeFileAtomic(path.join(staging, name), bytes, 0o644)
    const sums = Buffer.from(sha256sums(files))
    await writeFileAtomic(path.join(staging, SUMS_FILE), sums, 0o644)
    const written = [...files.keys(), SUMS_FILE]
    if (key.key) {
      await writeSignature(path.join(staging, SUMS_SIG_FILE), signBytes(sums, key.key))
      written.push(SUMS_SIG_FILE)
    }
    // Two runs in the same millisecond: the later one takes the next free millisecond.
    for (let bump = 0; ; bump++) {
      const dir = path.join(evidenceDir, runFolderName(new Date(stamp.getTime() + bump)))
      try {
        await fs.mkdir(dir, { mode: 0o755 })
      } catch (e) {
        if (errnoCode(e) === 'EEXIST' && bump < 1000) continue
        throw e
      }
      // The empty directory reserves the name; the finished folder replaces it in one rename.
      await renameDurable(staging, dir)
      return { dir, files: written, key_id: key.key ? key.facts.key_id : null }
    }
  } catch (e) {
    await fs.rm(staging, { recursive: true, force: true })
    throw e
  }
}

export type FileStatus = 'ok' | 'changed' | 'missing' | 'unlisted' | 'not-a-file'

export interface VerifyReport {
  readonly ok: boolean
  readonly dir: string
  readonly files: readonly { readonly name: string; readonly status: FileStatus }[]
  readonly signature: {
    /** valid/invalid: checked with --key; unchecked: present but no --key; absent: not signed. */
    readonly status: 'valid' | 'invalid' | 'missing' | 'unchecked' | 'absent'
    readonly key_id: string | null
    readonly detail: string
  }
  /** What launch-gate.json records, when it can be read. */
  readonly run: { readonly mode: string; readonly result: string; readonly release_id: string | null; readonly manifest_digest: string | null; readonly started_at: string; readonly tool_version: string; readonly failed_checks: readonly string[] } | null
  readonly problems: readonly string[]
  /** One sentence: what a reader may rely on. */
  readonly trust: string
}

/**
 * What verify reads of a folder it does not trust: regular files only, never through a symlink,
 * each under a cap (SHA256SUMS lists a handful of files; the manifest copy is the largest file).
 */
export const MAX_SUMS_BYTES = 1024 * 1024
export const MAX_EVIDENCE_FILE_BYTES = 64 * 1024 * 1024
const NO_FOLLOW = { followSymlink: false }

/** sha256 of a listed evidence file, streamed; kept bytes only for launch-gate.json, which verify reads back. */
async function hashEvidenceFile(p: string, keep: boolean): Promise<{ sha256: string; bytes: Buffer | null } | UnreadableFile> {
  const opened = await openRegularFile(p, MAX_EVIDENCE_FILE_BYTES, NO_FOLLOW)
  if (isUnreadable(opened)) return opened
  const hash = createHash('sha256')
  const kept: Buffer[] = []
  let total = 0
  try {
    for await (const block of readBlocks(opened.fh, MAX_EVIDENCE_FILE_BYTES)) {
      hash.update(block)
      if (keep) kept.push(Buffer.from(block))
      total += block.length
    }
  } catch (e) {
    return { missing: false, why: `cannot be read: ${(e as Error).message}` }
  } finally {
    await opened.fh.close()
  }
  return total > MAX_EVIDENCE_FILE_BYTES ? grewPast(MAX_EVIDENCE_FILE_BYTES) : { sha256: hash.digest('hex'), bytes: keep ? Buffer.concat(kept) : null }
}

const isPlainName = (n: string) => n !== '' && n !== '.' && n !== '..' && !n.includes('/') && !n.includes('\0')

function recordedRun(bytes: Buffer | null): { run: VerifyReport['run']; keyId: string | null } {
  if (bytes === null) return { run: null, keyId: null }
  try {
    const d = JSON.parse(bytes.toString('utf8')) as Partial<GateDocument>
    return {
      run: {
        mode: String(d.mode),
        result: String(d.result),
        release_id: d.manifest?.release_id ?? null,
        manifest_digest: d.manifest?.digest ?? null,
        started_at: String(d.started_at),
        tool_version: String(d.tool?.version),
        failed_checks: Array.isArray(d.failed_checks) ? d.failed_checks.map(String) : [],
      },
      keyId: typeof d.evidence?.key_id === 'string' ? d.evidence.key_id : null,
    }
  } catch {
    return { run: null, keyId: null }
  }
}

/** Checks a run folder; `pubKey` is the evidence key's public half, when the reader has it. */
export async function verifyEvidence(dir: string, pubKey?: KeyObject): Promise<VerifyReport> {
  const abs = path.resolve(dir)
  let entries: import('node:fs').Dirent[]
  try {
    entries = await fs.readdir(abs, { withFileTypes: true })
  } catch (e) {
    throw usageError(`${dir}: ${errnoCode(e) === 'ENOENT' ? 'no such directory' : errnoCode(e) === 'ENOTDIR' ? 'not a directory' : (e as Error).message}; pass a launch-gate run folder such as .../launch-gate/20260610T120000.123Z`)
  }
  const problems: string[] = []
  const files: { name: string; status: FileStatus }[] = []
  let sums: Buffer | null = null
  const readSums = await readRegularFile(path.join(abs, SUMS_FILE), MAX_SUMS_BYTES, NO_FOLLOW)
  if (Buffer.isBuffer(readSums)) sums = readSums
  else problems.push(readSums.missing ? `${SUMS_FILE} is missing: nothing in this folder can be checked` : `${SUMS_FILE} ${readSums.why}: nothing in this folder can be checked`)

  const listed = new Map<string, string>()
  if (sums !== null) {
    sums.toString('utf8').split('\n').forEach((line, i) => {
      if (line === '') return
      const m = /^([0-9a-f]{64}) [ *](.+)$/.exec(line)
      if (!m || !isPlainName(m[2]!)) return void problems.push(`${SUMS_FILE} line ${i + 1} is not "<sha256>  <file name>": ${JSON.stringify(line.slice(0, 100))}`)
      if (m[2] === SUMS_FILE || m[2] === SUMS_SIG_FILE) return void problems.push(`${SUMS_FILE} line ${i + 1} lists ${m[2]}, which cannot be summed by ${SUMS_FILE}`)
      if (listed.has(m[2]!)) return void problems.push(`${SUMS_FILE} lists ${m[2]} twice`)
      listed.set(m[2]!, m[1]!)
    })
  }

  let gateBytes: Buffer | null = null
  for (const [name, want] of [...listed].sort(([a], [b]) => a.localeCompare(b))) {
    const read = await hashEvidenceFile(path.join(abs, name), name === GATE_FILE)
    if (isUnreadable(read)) {
      files.push({ name, status: read.missing ? 'missing' : 'not-a-file' })
      problems.push(read.missing ? `${name} is listed in ${SUMS_FILE} but missing` : `${name} ${read.why}`)
      continue
    }
    if (read.sha256 !== want) {
      files.push({ name, status: 'changed' })
      problems.push(`${name} does not match ${SUMS_FILE} (sha256 ${read.sha256}, listed ${want}): it changed after the run`)
      continue
    }
    files.push({ name, status: 'ok' })
    if (name === GATE_FILE) gateBytes = read.bytes
  }
  // Without SHA256SUMS every file would be "unlisted": the one problem above says it all.
  for (const e of sums === null ? [] : entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (e.name === SUMS_FILE || e.name === SUMS_SIG_FILE || listed.has(e.name)) continue
    files.push({ name: e.name, status: 'unlisted' })
    problems.push(`${e.name} is not listed in ${SUMS_FILE}: it was added after the run`)
  }
  if (sums !== null && !listed.has(GATE_FILE)) problems.push(`${GATE_FILE} is not listed in ${SUMS_FILE}`)

  // The signature over SHA256SUMS: checked only against a key the reader brings.
  const sigPath = path.join(abs, SUMS_SIG_FILE)
  const sigPresent = await fs.lstat(sigPath).then(() => true, () => false)
  const recorded = recordedRun(gateBytes)
  let signature: VerifyReport['signature']
  if (pubKey) {
    const id = keyId(pubKey)
    if (!sigPresent) signature = { status: 'missing', key_id: null, detail: `${SUMS_SIG_FILE} is missing, but --key ${id} was given: this evidence is not signed` }
    else if (sums === null) signature = { status: 'invalid', key_id: null, detail: `${SUMS_SIG_FILE} cannot be checked without ${SUMS_FILE}` }
    else {
      const check = await checkSignature(sums, sigPath, new Map([[id, pubKey]]), NO_FOLLOW)
      signature = E.isRight(check)
        ? { status: 'valid', key_id: id, detail: `${SUMS_SIG_FILE} is a valid signature of ${SUMS_FILE} by key ${id}` }
        : { status: 'invalid', key_id: null, detail: `${SUMS_SIG_FILE}: ${check.left.replace('the bytes', SUMS_FILE)}` }
    }
    if (signature.status !== 'valid') problems.push(signature.detail)
  } else if (sigPresent) {
    const raw = await readRegularFile(sigPath, MAX_SIGNATURE_BYTES, NO_FOLLOW)
    let id: string | null = null
    if (Buffer.isBuffer(raw)) {
      try {
        const d = SignatureFile.decode(JSON.parse(raw.toString('utf8')))
        if (E.isRight(d)) id = d.right.key_id
      } catch {
        // reported as unchecked either way: without a key it proves nothing
      }
      signature = { status: 'unchecked', key_id: id, detail: `${SUMS_SIG_FILE} claims key ${id ?? '(unreadable)'}, not checked: pass --key PUB to check it` }
    } else {
      // Not a file the gate could have written: the folder was tampered with, key or no key.
      signature = { status: 'invalid', key_id: null, detail: `${SUMS_SIG_FILE} ${raw.why}` }
      problems.push(signature.detail)
    }
  } else {
    signature = { status: 'absent', key_id: null, detail: 'the evidence is not signed' }
    if (recorded.keyId !== null) problems.push(`${GATE_FILE} records signing by key ${recorded.keyId}, but ${SUMS_SIG_FILE} is missing`)
  }

  const ok = problems.length === 0
  const trust = !ok
    ? 'Do not trust this evidence: it is not the folder the launch gate wrote.'
    : signature.status === 'valid'
      ? `Every file is exactly as written by the holder of key ${signature.key_id} and nothing was added or removed: ${GATE_FILE} is that signer's record of the run, as far as you trust the key.`
      : `The files agree with ${SUMS_FILE}, which shows they were not damaged, not who wrote them: anyone able to write this folder could have rewritten both${signature.status === 'unchecked' ? '; pass --key PUB to check the signature' : ''}.`
  return { ok, dir: abs, files, signature, run: ok ? recorded.run : null, problems, trust }
}

/** The human report of a gate run; `written` is null when the evidence could not be written. */
export function renderGate(doc: GateDocument, written: WrittenEvidence | null, c: ChalkInstance): string {
  const mark = { pass: c.green('pass'), fail: c.red('FAIL'), skip: c.yellow('skip') }
  const failed = doc.checks.filter((x) => x.status === 'fail')
  const what = doc.manifest.release_id ? `release ${doc.manifest.release_id}` : doc.manifest.path
  const lines = [
    c.bold(`Launch gate (${doc.mode}) for ${what}: ${doc.ok ? c.green('PASS') : c.red('FAIL')}`) +
      (doc.ok ? `, ${doc.checks.length} checks` : `, ${failed.length} of ${doc.checks.length} checks failed: ${failed.map((x) => x.name).join(', ')}`),
  ]
  const width = Math.max(...doc.checks.map((x) => x.name.length))
  for (const x of doc.checks) lines.push(`  ${mark[x.status]}  ${x.name.padEnd(width)}  ${x.detail}${c.dim(`  (${x.duration_ms} ms)`)}`)
  lines.push('')
  if (written === null) lines.push(c.red('No evidence was written.'))
  else {
    lines.push(`Evidence: ${written.dir} (${written.files.join(', ')}; ${written.key_id ? `signed by key ${written.key_id}` : 'not signed'})`)
    lines.push(`Check it with: nullspace-host launch-gate verify ${written.dir}${written.key_id ? ` --key ${written.key_id}.pub` : ''}`)
  }
  return lines.join('\n')
}

export function renderVerify(r: VerifyReport, c: ChalkInstance): string {
  const lines = [c.bold(`${r.dir}: ${r.ok ? c.green('evidence verified') : c.red('evidence does NOT verify')}`)]
  for (const f of r.files) lines.push(`  ${f.status === 'ok' ? c.green('ok') : c.red(f.status)}  ${f.name}`)
  lines.push(`  signature: ${r.signature.status === 'valid' ? c.green('valid') : r.signature.status === 'invalid' || r.signature.status === 'missing' ? c.red(r.signature.status) : r.signature.status}: ${r.signature.detail}`)
  for (const p of r.problems) lines.push(`  ${c.red('!!')} ${p}`)
  if (r.run) lines.push(`Recorded run: ${r.run.mode} gate for ${r.run.release_id ?? '(unknown release)'} at ${r.run.started_at}, result ${r.run.result}${r.run.failed_checks.length ? ` (failed: ${r.run.failed_checks.join(', ')})` : ''}; nullspace-host ${r.run.tool_version}`)
  lines.push(r.trust)
  return lines.join('\n')
}
