// Removing releases and abandoned staging for `prune`. A release disappears from
// `releases/` in one rename before its files are deleted, so no reader sees half of one.
import fs from 'node:fs/promises'
import path from 'node:path'
import type { Layout } from '../layout.js'
import { removeTreeAside } from '../fsx.js'

export async function removeRelease(l: Layout, id: string): Promise<void> {
  await fs.mkdir(l.staging, { recursive: true, mode: 0o755 })
  await removeTreeAside(l.release(id), path.join(l.staging, `.prune-${id}`))
}

export async function removeStaging(l: Layout): Promise<void> {
  await fs.rm(l.staging, { recursive: true, force: true })
}
