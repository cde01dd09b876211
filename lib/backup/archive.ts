// The backup archive: a POSIX (pax) tar, gzip, written and read here with node-tar's header
// codec and parser and zlib. Writing hashes each file's bytes as they go into the archive, so
// the record says exactly what the archive holds; reading checks every member against the
// record before a byte of it is written, and never writes through a link.
import fs from 'node:fs/promises'
import { closeSync, constants, createWriteStream, lstatSync, mkdirSync, openSync, symlinkSync, writeSync, type Stats } from 'node:fs'
import path from 'node:path'
import zlib from 'node:zlib'
import { createHash } from 'node:crypto'
import { Transform, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { Header, Pax, Parser, type ReadEntry } from 'tar'
import type { BackupEntry } from './record.js'
import { entryPathProblem } from './record.js'
import { fsyncPath } from '../fsx.js'

/** One tree to archive: its host path (already under --root) and its member name in the archive. */
export interface ArchiveSource {
  readonly name: string
  readonly hostPath: string
}

export interface WrittenArchive {
  readonly entries: BackupEntry[]
  readonly sha256: string
  readonly size: number
}

export class ArchiveFailure extends Error {}

const BLOCK = 512
const pad = (n: number) => (BLOCK - (n % BLOCK)) % BLOCK
const READ = 1024 * 1024

const kindOf = (st: Stats) => (st.isFIFO() ? 'a FIFO' : st.isSocket() ? 'a socket' : st.isCharacterDevice() ? 'a character device' : st.isBlockDevice() ? 'a block device' : 'not a file, directory or link')

function headerBlocks(data: { path: string; type: 'File' | 'Directory' | 'SymbolicLink'; size: number; mode: number; mtime: Date; linkpath?: string }): Buffer[] {
  const h = new Header({ ...data, uid: 0, gid: 0 })
  const block = Buffer.alloc(BLOCK)
  const blocks: Buffer[] = []
  // A name or link text too long for ustar goes into a pax header before the entry.
  if (h.encode(block, 0)) blocks.push(new Pax({ path: data.path, linkpath: data.linkpath, size: data.size, mtime: data.mtime }).encode())
  blocks.push(block)
  return blocks
}

/** The tar stream of `sources`, filling `entries`; `warn` hears what is skipped. */
async function* tarStream(sources: readonly ArchiveSource[], exclude: ReadonlySet<string>, entries: BackupEntry[], warn: (text: string) => void): AsyncGenerator<Buffer> {
  async function* walk(name: string, p: string): AsyncGenerator<Buffer> {
    if (exclude.has(p)) return
    const st = await fs.lstat(p)
    const mode = st.mode & 0o7777
    if (st.isSymbolicLink()) {
      const target = await fs.readlink(p)
      entries.push({ path: name, type: 'symlink', size: 0, mode, target })
      yield* headerBlocks({ path: name, type: 'SymbolicLink', size: 0, mode, mtime: st.mtime, linkpath: target })
    } else if (st.isDirectory()) {
      entries.push({ path: name, type: 'dir', size: 0, mode })
      yield* headerBlocks({ path: `${name}/`, type: 'Directory', size: 0, mode, mtime: st.mtime })
      for (const child of (await fs.readdir(p)).sort()) yield* walk(`${name}/${child}`, path.join(p, child))
    } else if (st.isFile()) {
      yield* fileMember(name, p)
    } else warn(`${p} is ${kindOf(st)}; skipped (a backup holds files, directories and links)`)
  }

  /** A file's bytes, exactly the size fstat gave when it was opened: a file that changes size meanwhile fails the backup. */
  async function* fileMember(name: string, p: string): AsyncGenerator<Buffer> {
    // O_NONBLOCK: a FIFO swapped in after the lstat does not hang the backup; O_NOFOLLOW: nor does a link.
    const fh = await fs.open(p, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
    try {
      const st = await fh.stat()
      if (!st.isFile()) return warn(`${p} is ${kindOf(st)}; skipped (a backup holds files, directories and links)`)
      const mode = st.mode & 0o7777
      yield* headerBlocks({ path: name, type: 'File', size: st.size, mode, mtime: st.mtime })
      const hash = createHash('sha256')
      let left = st.size
      while (left > 0) {
        const buf = Buffer.allocUnsafe(Math.min(READ, left))
        const { bytesRead } = await fh.read(buf, 0, buf.length, null)
        if (bytesRead === 0) throw new ArchiveFailure(`${p} shrank while it was backed up (${st.size - left} of ${st.size} bytes); stop what writes it (a pre-backup hook can) and back up again`)
        const chunk = buf.subarray(0, bytesRead)
        hash.update(chunk)
        left -= bytesRead
        yield chunk
      }
      const { bytesRead } = await fh.read(Buffer.alloc(1), 0, 1, null)
      if (bytesRead !== 0) throw new ArchiveFailure(`${p} grew while it was backed up (past ${st.size} bytes); stop what writes it (a pre-backup hook can) and back up again`)
      if (pad(st.size)) yield Buffer.alloc(pad(st.size))
      entries.push({ path: name, type: 'file', size: st.size, mode, sha256: hash.digest('hex') })
    } finally {
      await fh.close()
    }
  }

  for (const s of sources) yield* walk(s.name, s.hostPath)
  yield Buffer.alloc(BLOCK * 2)
}

/** Counts and hashes what passes. */
function meter(): Transform & { sha256(): string; bytes(): number } {
  const hash = createHash('sha256')
  let n = 0
  const t = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk)
      n += chunk.length
      done(null, chunk)
    },
  }) as Transform & { sha256(): string; bytes(): number }
  t.sha256 = () => hash.digest('hex')
  t.bytes = () => n
  return t
}

/** Writes the archive of `sources` to `file` (created new, 0600, fsynced). */
export async function writeArchive(file: string, sources: readonly ArchiveSource[], exclude: ReadonlySet<string>, warn: (text: string) => void): Promise<WrittenArchive> {
  const entries: BackupEntry[] = []
  const m = meter()
  const out = createWriteStream(file, { flags: 'wx', mode: 0o600 }) // O_EXCL: never an existing file, nor through a link
  await pipeline(tarStream(sources, exclude, entries, warn), zlib.createGzip({ level: 6 }), m, out)
  await fsyncPath(file)
  return { entries, sha256: m.sha256(), size: m.bytes() }
}

export interface ArchiveCheck {
  /** The first problem found, naming the entry; null when every member matched its record entry. */
  readonly problem: string | null
}

const TYPES: Partial<Record<string, BackupEntry['type']>> = { File: 'file', OldFile: 'file', Directory: 'dir', SymbolicLink: 'symlink' }

/** The most tar bytes the record's entries can take (headers, pax headers, data, padding, end): past it the archive is not the one recorded. */
export function tarBound(entries: readonly BackupEntry[]): number {
  let n = BLOCK * 22
  for (const e of entries) n += e.size + pad(e.size) + 4 * BLOCK + Buffer.byteLength(e.path) + Buffer.byteLength(e.target ?? '')
  return n
}

/**
 * Reads the archive at `file`, requires exactly the recorded
 * entries with equal type, size, mode, link target and sha256, and extracts them into `scratch`
 * (an empty directory): files created new, no write through a link, decompression cut off at
 * what the record accounts for.
 */
export async function checkArchive(file: string, expected: readonly BackupEntry[], scratch: string): Promise<ArchiveCheck> {
  const want = new Map(expected.map((e) => [e.path, e]))
  const seen = new Set<string>()
  let problem: string | null = null
  const fail = (why: string) => {
    problem ??= why
    return new ArchiveFailure(why)
  }
  const bound = tarBound(expected)
  let inflated = 0
  const cap = new Transform({
    transform(chunk: Buffer, _enc, done) {
      inflated += chunk.length
      if (inflated > bound) return done(fail(`the archive decompresses past the ${bound} bytes its record accounts for (a gzip bomb, or not the archive recorded); stopped there`))
      done(null, chunk)
    },
  })
  const parser = new Parser({ strict: true })
  parser.on('entry', (entry: ReadEntry) => {
    const name = entry.path.replace(/\/$/, '')
    const rec = want.get(name)
    const type = TYPES[entry.type]
    const pathProblem = entryPathProblem(name)
    const bad =
      pathProblem !== null ? `archive entry ${JSON.stringify(entry.path)} ${pathProblem}; nothing of it is written`
      : rec === undefined ? `archive entry ${JSON.stringify(entry.path)} is not in the record`
      : seen.has(name) ? `archive entry ${name} appears twice`
      : type !== rec.type ? `archive entry ${name} is a ${type ?? entry.type}, recorded as a ${rec.type}`
      : (entry.size ?? 0) !== rec.size ? `archive entry ${name} has ${entry.size} bytes, recorded ${rec.size}`
      : ((entry.mode ?? 0) & 0o7777) !== rec.mode ? `archive entry ${name} has mode ${((entry.mode ?? 0) & 0o7777).toString(8)}, recorded ${rec.mode.toString(8)}`
      : type === 'symlink' && entry.linkpath !== rec.target ? `archive entry ${name} links to ${JSON.stringify(entry.linkpath)}, recorded ${JSON.stringify(rec.target)}`
      : null
    if (bad !== null || problem !== null || rec === undefined) {
      if (bad) parser.abort(fail(bad))
      entry.resume()
      return
    }
    seen.add(name)
    const target = path.join(scratch, name)
    try {
      mkdirUnderSync(scratch, type === 'dir' ? target : path.dirname(target))
      if (type === 'symlink') symlinkSync(rec.target!, target)
    } catch (e) {
      parser.abort(fail(`archive entry ${name} cannot be extracted into the drill: ${(e as Error).message}`))
      entry.resume()
      return
    }
    if (type !== 'file') return void entry.resume()
    // Written synchronously as the data arrives: the parser hands over the next entry only after this one's data.
    let fd: number
    try {
      fd = openSync(target, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600)
    } catch (e) {
      parser.abort(fail(`archive entry ${name} cannot be extracted into the drill: ${(e as Error).message}`))
      entry.resume()
      return
    }
    const hash = createHash('sha256')
    entry.on('data', (chunk: Buffer) => {
      hash.update(chunk)
      for (let off = 0; off < chunk.length; ) off += writeSync(fd, chunk, off)
    })
    entry.on('end', () => {
      closeSync(fd)
      const got = hash.digest('hex')
      if (got !== rec.sha256) parser.abort(fail(`archive entry ${name} has sha256 ${got}, recorded ${rec.sha256}`))
    })
  })
  const fh = await fs.open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  try {
    const ended = new Promise<void>((resolve, reject) => {
      parser.on('end', resolve)
      parser.on('error', (e: Error) => reject(fail(`the archive is not a readable tar: ${e.message}`)))
      parser.on('abort', (e: Error) => reject(fail(e.message)))
    })
    ended.catch(() => {})
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        if (problem !== null) return done(new ArchiveFailure(problem))
        if (parser.write(chunk)) done()
        else parser.once('drain', () => done())
      },
      final(done) {
        parser.end()
        done()
      },
    })
    await pipeline(fh.createReadStream({ autoClose: false }), zlib.createGunzip(), cap, sink)
    await ended
  } catch (e) {
    fail(`the archive cannot be read: ${(e as Error).message}`)
    return { problem }
  } finally {
    await fh.close()
  }
  const missing = expected.find((e) => !seen.has(e.path))
  if (missing) fail(`recorded entry ${missing.path} is missing from the archive`)
  return { problem }
}

/** `mkdir -p` below `root` that refuses to pass through a link or a non-directory (the archive's own links among them). */
function mkdirUnderSync(root: string, dir: string): void {
  let p = root
  for (const seg of path.relative(root, dir).split(path.sep).filter(Boolean)) {
    if (seg === '..') throw new Error(`${dir} is outside ${root}`)
    p = path.join(p, seg)
    try {
      mkdirSync(p, { mode: 0o700 })
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
    }
    const st = lstatSync(p)
    if (!st.isDirectory()) throw new Error(`${path.relative(root, p)} is ${st.isSymbolicLink() ? 'a symlink' : 'not a directory'} in the archive; nothing is written through it`)
  }
}
