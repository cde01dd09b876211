// Before a switch, the release's firecracker and jailer must report the manifest's
// firecracker_version. A binary that cannot run here is a warning, not a pass.
import { execFile } from 'node:child_process'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

export type ProbeResult = { readonly kind: 'ok' } | { readonly kind: 'wrong'; readonly reported: string } | { readonly kind: 'unrunnable'; readonly why: string }

const bare = (v: string) => v.replace(/^v/, '')

/**
 * Only an ELF binary or a `#!` script is run: for anything else execvp would hand the bytes
 * to /bin/sh, which is not asking a binary for its version.
 */
async function looksExecutable(file: string): Promise<boolean> {
  const fh = await fs.open(file, 'r').catch(() => null)
  if (!fh) return false
  try {
    const head = Buffer.alloc(4)
    const { bytesRead } = await fh.read(head, 0, 4, 0)
    return (bytesRead === 4 && head.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]))) || (bytesRead >= 2 && head[0] === 0x23 && head[1] === 0x21)
  } finally {
    await fh.close()
  }
}

export async function probeVersion(file: string, expect: string, timeoutMs = 5000): Promise<ProbeResult> {
  if (!(await looksExecutable(file))) return { kind: 'unrunnable', why: 'not an ELF binary or #! script' }
  // An empty scratch directory as cwd: whatever the binary writes there is thrown away.
  const cwd = await fs.mkdtemp(path.join(os.tmpdir(), 'nullspace-probe-'))
  try {
    return await runProbe(file, expect, timeoutMs, cwd)
  } finally {
    await fs.rm(cwd, { recursive: true, force: true })
  }
}

function runProbe(file: string, expect: string, timeoutMs: number, cwd: string): Promise<ProbeResult> {
  return new Promise((resolve) => {
    execFile(file, ['--version'], { cwd, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 }, (err, stdout, stderr) => {
      const text = `${stdout}${stderr}`
      if (err && (err as NodeJS.ErrnoException).code !== undefined && typeof (err as NodeJS.ErrnoException).code === 'string')
        return resolve({ kind: 'unrunnable', why: (err as NodeJS.ErrnoException).code as string })
      if (err && err.killed) return resolve({ kind: 'unrunnable', why: 'no answer within 5 s' })
      const versions = text.match(/v?\d+\.\d+\.\d+[^\s]*/g) ?? []
      if (versions.some((v) => bare(v) === bare(expect))) return resolve({ kind: 'ok' })
      if (err) return resolve({ kind: 'unrunnable', why: `exit ${err.code}` })
      resolve({ kind: 'wrong', reported: versions[0] ?? (text.trim().split('\n')[0] || '(nothing)') })
    })
  })
}
