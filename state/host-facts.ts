// The facts of the host that compatibility rules read: its architecture and /dev/kvm under --root.
import fs from 'node:fs/promises'
import type { Layout } from '../lib/layout.js'
import { type HostFacts, hostArchitecture } from '../lib/compat.js'

export async function readHostFacts(l: Layout): Promise<HostFacts> {
  const kvm = await fs.stat(l.host('/dev/kvm')).then(
    () => true,
    () => false,
  )
  return { architecture: hostArchitecture(process.arch), kvm }
}
