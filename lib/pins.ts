// `releases pin` / `releases unpin`: pins live in state.json (ARCHITECTURE.md section 8.3); prune keeps
// every pinned release. The caller holds the host lock: state.json is rewritten whole.
import path from 'node:path'
import type { Layout } from './layout.js'
import { operationFailed } from './errors.js'
import { mkdirUnder } from './fsx.js'
import { readSeal } from '../state/seal.js'
import { invokingUser } from '../state/host-facts.js'
import { isPinned, readStateFile, writeStateFile, type StateFile } from '../state/state-file.js'
import { RELEASE_ID } from './manifest/codec.js'

/** Pins or unpins `id`; returns whether anything changed. Only a sealed release on this host can be pinned. */
export async function setPin(l: Layout, id: string, o: { pin: boolean; reason?: string }): Promise<boolean> {
  if (!RELEASE_ID.test(id) || id === 'current') throw operationFailed(`${JSON.stringify(id)} is not a release id; see releases list`)
  const state = await readStateFile(l.stateFile)
  if (!o.pin) {
    if (!isPinned(state, id)) return false
    const pins = Object.create(null) as NonNullable<StateFile['pins']>
    for (const [k, v] of Object.entries(state.pins!)) if (k !== id) pins[k] = v
    await writeStateFile(l.stateFile, { ...state, pins })
    return true
  }
  const seal = await readSeal(l.release(id))
  if (seal.kind !== 'sealed') throw operationFailed(`release ${id} is not a sealed release on this host (${seal.kind === 'invalid' ? seal.reason : 'no seal'}); see releases list`)
  if (isPinned(state, id) && state.pins![id].reason === o.reason) return false
  const pins = Object.assign(Object.create(null) as NonNullable<StateFile['pins']>, state.pins ?? {})
  pins[id] = { at: new Date().toISOString(), user: invokingUser(), ...(o.reason === undefined ? {} : { reason: o.reason }) }
  await mkdirUnder(l.root, path.dirname(l.stateFile))
  await writeStateFile(l.stateFile, { ...state, pins })
  return true
}
