import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

const made: string[] = []

/** A fresh temp directory, removed at process exit. */
export function tempDir(label = 'nullspace'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${label}-`))
  fs.chmodSync(dir, 0o755)
  made.push(dir)
  return dir
}

process.on('exit', () => {
  for (const d of made) fs.rmSync(d, { recursive: true, force: true })
})
