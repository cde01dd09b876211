// Steps that activate a sealed release (ARCHITECTURE.md section 5): the version probe before
// the switch, the switch itself, compat links, rendered files, the service manager's steps,
// post-switch hooks, the smoke, the record in state.json, and the cleaning of leftovers.
import fs from 'node:fs/promises'
import path from 'node:path'
import { HOOKS_DIR } from '../../layout.js'
import type { Step } from '../../plan/types.js'
import { fsyncDir, switchSymlink, writeFileAtomic } from '../../fsx.js'
import { operationFailed } from '../../errors.js'
import { readStateFile, writeStateFile } from '../../../state/state-file.js'
import { runHook } from '../hooks.js'
import { fixtureUrl, smokeIngress } from '../smoke.js'
import { restartUnit, systemctl, waitHealthy } from '../services.js'
import { probeVersion } from '../probe.js'
import type { StepRun } from '../context.js'

type StepOf<A extends Step['action']> = Extract<Step, { action: A }>

export async function probeStep(run: StepRun, step: StepOf<'probe'>): Promise<string> {
  const notes: string[] = []
  // Asked side by side (each is a process start); judged in the plan's order.
  const answers = await Promise.all(step.binaries.map((b) => probeVersion(path.join(run.ctx.layout.release(step.release_id), b.install_path), b.expect)))
  for (const [k, b] of step.binaries.entries()) {
    const r = answers[k]
    if (r.kind === 'wrong')
      throw operationFailed(`${b.component} of release ${step.release_id} reports version ${r.reported}, but the manifest's firecracker_version is ${b.expect}. Nothing was switched; ${run.activeNote()}`)
    if (r.kind === 'unrunnable') {
      const text = `${b.component} of release ${step.release_id} could not be asked for its version (${r.why}); not verified`
      run.unverified.push(text)
      run.ctx.report.warn(text)
    }
    notes.push(`${b.component} ${r.kind === 'ok' ? 'ok' : 'not verified'}`)
  }
  return notes.join(', ')
}

/** Moves `current`; the executor journals the switch right after. */
export async function switchStep(run: StepRun, step: StepOf<'switch'>): Promise<string> {
  await switchSymlink(run.ctx.layout.current, step.to)
  return `current -> ${step.to}`
}

export async function compatLinkStep(run: StepRun, step: StepOf<'compat-link'>): Promise<string | undefined> {
  const file = run.ctx.layout.host(step.path)
  if (step.change === 'remove') {
    const st = await fs.lstat(file).catch(() => null)
    if (st?.isSymbolicLink()) {
      await fs.unlink(file)
      await fsyncDir(path.dirname(file))
    }
    return undefined
  }
  if (step.component !== null && run.skipped.has(step.component)) {
    // The optional file is absent: a link an earlier release left here would dangle.
    if ((await fs.lstat(file).catch(() => null))?.isSymbolicLink()) {
      await fs.unlink(file)
      await fsyncDir(path.dirname(file))
    }
    return 'component absent (optional): no link'
  }
  await run.mkdirs(path.dirname(file))
  const st = await fs.lstat(file).catch(() => null)
  if (st && !st.isSymbolicLink()) throw operationFailed(`${step.path} is not a symlink; move it aside and run the command again`)
  await switchSymlink(file, step.link_target)
  return `-> ${step.link_target}`
}

export async function renderStep(run: StepRun, step: StepOf<'render'>): Promise<undefined> {
  const file = run.ctx.layout.host(step.path)
  await run.mkdirs(path.dirname(file))
  await writeFileAtomic(file, step.content, step.mode)
  return undefined
}

export async function daemonReloadStep(): Promise<undefined> {
  await systemctl('daemon-reload')
  return undefined
}

export async function enableStep(step: StepOf<'enable'>): Promise<undefined> {
  await systemctl('enable', step.unit)
  return undefined
}

export async function restartStep(run: StepRun, step: StepOf<'restart'>): Promise<undefined> {
  const unit = step.unit
  run.pidBefore.set(unit, await run.noticed(() => restartUnit(unit), { still: (s) => `still restarting ${unit}... [${s}s elapsed]` }))
  return undefined
}

export async function healthStep(run: StepRun, step: StepOf<'health'>): Promise<string> {
  const w = { unit: step.unit, pidBefore: run.pidBefore.get(step.unit) ?? null, settleS: step.settle_s, timeoutS: step.timeout_s }
  const h = await run.noticed(() => waitHealthy(w), {
    start: `waiting for ${w.unit} to run a new process and keep it ${w.settleS} s (at most ${w.timeoutS} s, --service-timeout)`,
    still: (s) => `still waiting for ${w.unit} to be healthy... [${s}s elapsed]`,
  })
  return `MainPID ${h.pid} stable for ${step.settle_s} s; healthy after ${h.seconds.toFixed(1)} s`
}

export async function hooksStep(run: StepRun, step: StepOf<'hooks'>): Promise<string> {
  const { ctx } = run
  const env = { root: ctx.layout.root, releaseId: step.release_id, previousReleaseId: step.previous_release_id, operation: step.operation }
  const atMostS = ctx.hookTimeoutMs / 1000
  // In lexical order; only a hook that lasts past a notice interval is talked about.
  for (const name of step.hooks)
    await run.noticed(() => runHook(ctx.layout.host(HOOKS_DIR), name, env, ctx.hookTimeoutMs), {
      still: (s) => `post-switch hook ${name} still running... [${s}s elapsed] (at most ${atMostS} s, --hook-timeout)`,
    })
  return `${step.hooks.length} hook(s) passed`
}

export async function smokeStep(run: StepRun, step: StepOf<'smoke'>): Promise<string> {
  const { url, release_id: releaseId, timeout_s: timeoutS } = step
  await run.noticed(() => smokeIngress(url, releaseId, timeoutS), {
    start: `waiting for ${fixtureUrl(url)} to answer release ${releaseId} (at most ${timeoutS} s, --smoke-timeout)`,
    still: (s) => `still waiting for the ingress fixture to answer ${releaseId}... [${s}s elapsed]`,
  })
  return 'ingress fixture answered'
}

export async function recordStep(run: StepRun, step: StepOf<'record'>): Promise<string> {
  const { ctx, journal } = run
  const file = ctx.layout.stateFile
  const state = await readStateFile(file)
  // A kill between the rename and its journal entry leaves no switched_at: the operation's start is before the switch too.
  const switchedAt = journal?.to === step.to ? journal.switched_at ?? journal.started_at : undefined
  state.history.push({
    op: step.operation,
    from: step.from,
    to: step.to,
    at: ctx.now().toISOString(),
    result: step.result,
    ...(switchedAt ? { switched_at: switchedAt } : {}),
    tool_version: ctx.toolVersion,
    user: ctx.user,
    ...(run.unverified.length > 0 ? { unverified: [...run.unverified] } : {}),
  })
  // A release that activates and passes its checks is no longer failed; a rollback proves nothing (no smoke).
  if (step.result === 'ok' && (step.operation === 'install' || step.operation === 'upgrade')) delete state.failed[step.to]
  await run.mkdirs(path.dirname(file))
  await writeStateFile(file, state)
  return `${step.from ?? '(none)'} -> ${step.to}`
}

export async function cleanStep(run: StepRun, step: StepOf<'clean'>): Promise<undefined> {
  // Files and links only (the state reader lists no directory): rm never recurses here.
  for (const p of step.paths) await fs.rm(run.ctx.layout.host(p), { force: true })
  return undefined
}
