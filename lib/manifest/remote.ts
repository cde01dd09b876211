// Where --manifest points: a local path, a file: URL (read as the path it names), or an
// https: (http: with --allow-http) URL, fetched whole with fetchDocument and then judged by
// exactly the code a local file goes through. Its signature is `<url>.sig`, fetched the same
// way. A source that cannot be fetched says which URL and why in one line: exit 1 when the
// server could not be reached or kept failing (the same command may simply be run again),
// 65 when what is at the URL is missing, refused or too big (as a local manifest file is).
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { E } from '../commonjs.cjs'
import { type Failure, manifestError, operationFailed } from '../errors.js'
import { fetchDocument, fetchDocumentOrMissing } from '../fetch/document.js'
import { FetchError } from '../fetch/types.js'
import type { MinSpeed } from '../fetch/watch.js'
import { MAX_SIGNATURE_BYTES, type SignatureSource, signatureBeside } from '../signature.js'

/** How a manifest given as a URL, and its signature, are fetched (--stall-timeout, --speed-limit/--speed-time). */
export interface ManifestFetch {
  readonly allowHttp: boolean
  readonly stallTimeoutMs: number
  readonly minSpeed: MinSpeed
}

/** The transfer flags as the commands take them (seconds, bytes/s): the artifacts' --allow-http, --stall-timeout, --speed-limit, --speed-time. */
export interface TransferFlags {
  readonly allowHttp: boolean
  readonly stallTimeoutS: number
  readonly speedLimit: number
  readonly speedTimeS: number
}

/** How a manifest, its signature or a channel is fetched: by the same transfer flags as artifacts. */
export const manifestFetch = (f: TransferFlags): ManifestFetch => ({
  allowHttp: f.allowHttp,
  stallTimeoutMs: f.stallTimeoutS * 1000,
  minSpeed: { bytesPerS: f.speedLimit, windowMs: f.speedTimeS * 1000 },
})

export const DEFAULT_MANIFEST_FETCH: Omit<ManifestFetch, 'allowHttp'> = { stallTimeoutMs: 30_000, minSpeed: { bytesPerS: 0, windowMs: 30_000 } }

/** A manifest source: a local file, or an http(s) URL it is fetched from. */
export type ManifestLocation = { readonly path: string; readonly url?: undefined } | { readonly url: string; readonly path?: undefined }

/**
 * Reads --manifest: anything that starts like `scheme://` is a URL (an unsupported scheme is
 * refused by the fetcher, not looked for as a file); a file: URL is the local path it names.
 */
export function manifestLocation(source: string): E.Either<Failure, ManifestLocation> {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(source)) return E.right({ path: source })
  if (!/^file:/i.test(source)) return E.right({ url: source })
  try {
    return E.right({ path: fileURLToPath(source) })
  } catch (e) {
    return E.left(manifestError(`${source} is not a local file URL (${(e as Error).message}); give the manifest's path, or an https: URL`))
  }
}

/** How messages and records name --manifest: its absolute path (a file: URL's too), or its URL. */
export function manifestSourceName(source: string): string {
  const where = manifestLocation(source)
  if (E.isLeft(where)) return source
  return where.right.url ?? path.resolve(where.right.path!)
}

/** The bytes at `url` (at most `maxBytes`), or the one-line failure naming the URL and why. */
export async function fetchManifestBytes(url: string, maxBytes: number, net: ManifestFetch): Promise<E.Either<Failure, Buffer>> {
  try {
    return E.right(await fetchDocument(url, { ...net, maxBytes, label: 'manifest' }))
  } catch (e) {
    if (!(e instanceof FetchError)) throw e
    const said = e.message.includes(url) ? e.message : `${e.message} (--manifest ${url})`
    if (e.reason === 'network') return E.left(operationFailed(`${said}; the manifest could not be fetched, nothing was changed; run the same command again once the server answers`))
    if (e.reason === 'absent') return E.left(manifestError(`${said}: no manifest at that URL; check the --manifest URL`))
    return E.left(manifestError(`${said}; nothing was changed`))
  }
}

/**
 * The signature of a document fetched from `url` (a manifest, or what `document` names):
 * `<url>.sig`, at most MAX_SIGNATURE_BYTES. A 404 is a missing signature ("no signature at
 * <url>.sig"); another refusal is an unreadable one (both: untrusted, exit 65); a server that
 * cannot be reached fails the command (exit 1).
 */
export function signatureAt(url: string, net: ManifestFetch, document = 'manifest'): SignatureSource {
  const sigUrl = `${url}.sig`
  return {
    label: sigUrl,
    read: async () => {
      try {
        return await fetchDocumentOrMissing(sigUrl, { ...net, maxBytes: MAX_SIGNATURE_BYTES, label: 'signature' })
      } catch (e) {
        if (!(e instanceof FetchError)) throw e
        if (e.reason === 'network') throw operationFailed(`${e.message}; the ${document}'s signature could not be fetched, nothing was changed; run the same command again once the server answers`)
        return { missing: false, why: `could not be fetched (${e.message.replace(/^signature: /, '')})` }
      }
    },
  }
}

/** Where the signature of a loaded manifest is: beside its file, or at its URL + `.sig`. */
export const signatureOf = (loaded: { readonly path: string; readonly url: string | null }, net: ManifestFetch): SignatureSource =>
  loaded.url === null ? signatureBeside(loaded.path) : signatureAt(loaded.url, net)
