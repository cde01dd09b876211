// Before a switch, the release's firecracker and jailer must report the manifest's
// firecracker_version. A binary that cannot run here is a warning, not a pass.
import { execFile } from 'node:child_process'

export type ProbeResult = { readonly kind: 'ok' } | { readonly kind: 'wrong'; readonly reported: string } | { readonly kind: 'unrunnable'; readonly why: string }

const bare = (v: string) => v.replace(/^v/, '')

export function probeVersion(file: string, expect: string, timeoutMs = 5000): Promise<ProbeResult> {
  return new Promise((resolve) => {
    execFile(file, ['--version'], { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 }, (err, stdout, stderr) => {
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
