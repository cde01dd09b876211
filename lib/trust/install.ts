// `trust init FILE` and `trust update FILE`: read a candidate root and its FILE.sig once, judge
// those bytes (rotation.ts), and install exactly those bytes. Nothing is written unless every
// check passed.
import { E } from '../commonjs.cjs'
import { Failure, EXIT, manifestError, operationFailed } from '../errors.js'
import { isUnreadable, readRegularFile } from '../fsx.js'
import { decodeRoot, MAX_ROOT_BYTES, type TrustRoot } from './root-format.js'
import { installRootFiles, readInstalledRoot, rootFile } from './root-store.js'
import { checkFirstRoot, checkRootUpdate } from './rotation.js'
import { MAX_SIGNATURE_BYTES, parseSignatureDocument, type SignatureFile } from './signature-document.js'

const NOTHING_CHANGED = 'Nothing was changed'

interface Candidate {
  readonly root: TrustRoot
  readonly sigs: readonly SignatureFile[]
  readonly sigBytes: Buffer
}

async function readCandidate(file: string): Promise<Candidate> {
  const bytes = await readRegularFile(file, MAX_ROOT_BYTES, { followSymlink: true })
  if (isUnreadable(bytes)) throw manifestError(`${file} ${bytes.why}; give the path of the root.json to install. ${NOTHING_CHANGED}`)
  const root = await decodeRoot(bytes, file)
  if (E.isLeft(root)) throw manifestError(`${root.left}. ${NOTHING_CHANGED}`)
  const sigFile = `${file}.sig`
  const sigBytes = await readRegularFile(sigFile, MAX_SIGNATURE_BYTES, { followSymlink: true })
  if (isUnreadable(sigBytes))
    throw manifestError(sigBytes.missing ? `no signature file ${sigFile}: sign ${file} with a threshold of its keys (manifest sign --manifest ${file} --key K, once per key). ${NOTHING_CHANGED}` : `${sigFile} ${sigBytes.why}. ${NOTHING_CHANGED}`)
  const sigs = parseSignatureDocument(sigBytes, sigFile)
  if (E.isLeft(sigs)) throw manifestError(`${sigs.left}. ${NOTHING_CHANGED}`)
  return { root: root.right, sigs: sigs.right, sigBytes }
}

export interface InstalledReport {
  readonly file: string
  readonly version: number
  readonly previous_version: number | null
  readonly threshold: number
  readonly key_ids: readonly string[]
  readonly expires_at: string
}

async function install(hostRoot: string, c: Candidate, previous: number | null): Promise<InstalledReport> {
  const unsafe = await installRootFiles(hostRoot, c.root.bytes, c.sigBytes)
  if (unsafe.length > 0) throw manifestError(`the trust directory is not safe trust material: ${unsafe[0]}; the root was not installed. ${NOTHING_CHANGED}`)
  return { file: rootFile(hostRoot), version: c.root.version, previous_version: previous, threshold: c.root.threshold, key_ids: [...c.root.keys.keys()], expires_at: c.root.expiresAt }
}

/** Runs `body` holding the host lock (lib/operations.ts withHostLock). */
export type Locked = <T>(body: () => Promise<T>) => Promise<T>

async function noRootYet(hostRoot: string): Promise<void> {
  const installed = await readInstalledRoot(hostRoot)
  if (installed.state !== 'absent')
    throw new Failure(EXIT.failed, `a trust root is already installed at ${installed.file}${installed.state === 'installed' ? ` (version ${installed.root.version})` : ''}; a new root replaces it only through trust update FILE, signed by the keys of the installed one. ${NOTHING_CHANGED}`, [], { code: 'refused' })
}

async function currentRoot(hostRoot: string): Promise<TrustRoot> {
  const installed = await readInstalledRoot(hostRoot)
  if (installed.state === 'absent') throw operationFailed(`no trust root is installed at ${installed.file}; install a first one with trust init FILE. ${NOTHING_CHANGED}`, [], 'refused')
  if (installed.state === 'unusable') throw manifestError(`the installed trust root cannot be used: ${installed.problems[0]}; fix it before installing a new one. ${NOTHING_CHANGED}`)
  return installed.root
}

/**
 * Installs a first root; refused (exit 1) when one is installed, since replacing it is trust
 * update's, with its checks. Judged once before the lock (bad input creates nothing, not even the
 * lock's directory) and again under it, against the host as it then is.
 */
export async function initRoot(hostRoot: string, file: string, now: Date, locked: Locked): Promise<InstalledReport> {
  await noRootYet(hostRoot)
  const c = await readCandidate(file)
  const ok = checkFirstRoot(c.root, c.sigs, file, now)
  if (E.isLeft(ok)) throw manifestError(`${ok.left}. ${NOTHING_CHANGED}`)
  return locked(async () => {
    await noRootYet(hostRoot)
    return install(hostRoot, c, null)
  })
}

/** Installs version N+1 of the root, signed by a threshold of the installed root's keys and of its own; judged before the lock and under it. */
export async function updateRoot(hostRoot: string, file: string, now: Date, locked: Locked): Promise<InstalledReport> {
  const judge = async (c: Candidate) => {
    const current = await currentRoot(hostRoot)
    const ok = checkRootUpdate(current, c.root, c.sigs, file, now)
    if (E.isLeft(ok)) throw manifestError(`${ok.left}. ${NOTHING_CHANGED}; the installed root is still version ${current.version}`)
    return current
  }
  await currentRoot(hostRoot)
  const c = await readCandidate(file)
  await judge(c)
  return locked(async () => install(hostRoot, c, (await judge(c)).version))
}
