// SHA-256 of whole large files on the other core: `doctor --deep` and the `--deep` rehash of
// the state reader start every file at once, and each large one is read and hashed in a
// thread of its own, at most one per core (issue 18: two 1 GiB images in about the time of
// one). Only whole-file rehashes use it: an install hashes its bytes as they stream, on the
// main thread, and keeps its memory budget.
import fs from 'node:fs/promises'
import os from 'node:os'
import type { Worker } from 'node:worker_threads'
import { hashFile, READ_CHUNK, type FileDigest } from './hash.js'

/** Below this a file is hashed here: starting a thread (20-80 ms on a busy 2-core machine) would cost more. */
export const THREAD_MIN_BYTES = 32 * 1024 * 1024

/** How often a thread reports the bytes it hashed (a progress display's resolution). */
const PROGRESS_EVERY = 16 * 1024 * 1024

/** Threads at once: one per core (openssl's sha256 is what the other core would run anyway). */
const MAX_THREADS = Math.max(1, os.availableParallelism())

// The code a thread runs is a string started with `eval: true`, because the tool also ships
// as ONE bundled file (the operator_tool component): a worker file beside it would not exist.
// Plain CommonJS, Node built-ins only. Blocking reads are fine in a thread of its own.
const THREAD_SOURCE = `
'use strict'
const { parentPort, workerData } = require('node:worker_threads')
const { createHash } = require('node:crypto')
const fs = require('node:fs')
const { file, chunk, progressEvery } = workerData
let fd
try {
  fd = fs.openSync(file, 'r')
  const buf = Buffer.allocUnsafe(chunk)
  const hash = createHash('sha256')
  let size = 0
  let unreported = 0
  for (;;) {
    const n = fs.readSync(fd, buf, 0, chunk, size)
    if (n === 0) break
    hash.update(buf.subarray(0, n))
    size += n
    unreported += n
    if (progressEvery && unreported >= progressEvery) {
      parentPort.postMessage({ bytes: unreported })
      unreported = 0
    }
  }
  parentPort.postMessage({ bytes: unreported, sha256: hash.digest('hex'), size })
} catch (e) {
  parentPort.postMessage({ error: String((e && e.message) || e), code: e && e.code })
} finally {
  if (fd !== undefined) fs.closeSync(fd)
}
`

interface Reply {
  readonly bytes?: number
  readonly sha256?: string
  readonly size?: number
  readonly error?: string
  readonly code?: string
}

let running = 0
const waiting: (() => void)[] = []

async function aThread(): Promise<() => void> {
  while (running >= MAX_THREADS) await new Promise<void>((r) => waiting.push(r))
  running++
  return () => {
    running--
    waiting.shift()?.()
  }
}

/**
 * sha256 and size of a file, like hashFile: a file of THREAD_MIN_BYTES or more is read and
 * hashed in a thread, so several such calls at once use several cores. Falls back to this
 * thread when no thread can be started. `onBytes` reports progress.
 */
export async function hashFileOffThread(file: string, onBytes?: (n: number) => void): Promise<FileDigest> {
  if ((await fs.stat(file)).size < THREAD_MIN_BYTES) return hashFile(file, onBytes)
  const done = await aThread()
  try {
    // node:worker_threads is loaded only here: commands that hash no large file do not pay for it.
    const { Worker } = await import('node:worker_threads')
    let worker: Worker
    try {
      // A thread holds a hash and one buffer: small heap limits keep its share of the process small.
      worker = new Worker(THREAD_SOURCE, { eval: true, workerData: { file, chunk: READ_CHUNK, progressEvery: onBytes ? PROGRESS_EVERY : 0 }, stdout: false, stderr: false, resourceLimits: { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 16 } })
    } catch {
      return await hashFile(file, onBytes)
    }
    return await new Promise<FileDigest>((resolve, reject) => {
      worker.on('message', (m: Reply) => {
        if (m.bytes) onBytes?.(m.bytes)
        if (m.error !== undefined) reject(Object.assign(new Error(m.error), m.code ? { code: m.code } : {}))
        else if (m.sha256 !== undefined) resolve({ sha256: m.sha256, size: m.size! })
      })
      worker.on('error', reject)
      worker.on('exit', (code) => reject(new Error(`the hash thread for ${file} stopped (exit code ${code}) before its digest`)))
    })
  } finally {
    done()
  }
}
