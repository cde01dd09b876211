// The plan is data (Terraform's model): the text renderer, the JSON writer and the executor
// all read this one structure, so what `plan` shows is exactly what `apply` does.

import type { ServiceManager } from '../../state/host-facts.js'
import type { ChannelChoiceJson } from '../channel/choice.js'
import type { FailureJson } from '../errors.js'

export type PlanOperation = 'install' | 'fetch' | 'upgrade' | 'rollback' | 'auto-rollback'

interface StepBase {
  /** Stable within a plan: `<action>:<subject>`. */
  readonly id: string
  /** What the step changes: a component, a path, a release. */
  readonly target: string
  /** Why the step is needed, for the operator. */
  readonly reason: string
  /** Bytes the step moves over the wire (0 for local steps). */
  readonly bytes: number
}

export interface ArtifactRef {
  readonly component: string
  readonly kind: string
  readonly url: string
  readonly sha256: string
  readonly size: number
  readonly install_path: string
  readonly mode: number
  readonly required: boolean
}

export type Step =
  /** Download (or copy from file://) into staging; `resume_from` > 0 continues a part; `staged` re-verifies a file an interrupted run already staged. */
  | (StepBase & { readonly action: 'fetch'; readonly release_id: string; readonly artifact: ArtifactRef; readonly resume_from: number; readonly staged: boolean })
  /** Assemble the artifact from chunks of sealed releases' files plus ranges fetched for the rest; a full fetch when anything fails. */
  | (StepBase & { readonly action: 'delta'; readonly release_id: string; readonly artifact: ArtifactRef; readonly reused_bytes: number; readonly chunk_size: number; readonly sources: readonly { readonly release_id: string; readonly install_path: string }[] })
  /** Hard-link a verified file of an already sealed release (same sha256) into staging. */
  | (StepBase & { readonly action: 'link'; readonly release_id: string; readonly artifact: ArtifactRef; readonly from_release: string })
  /** Rehash a file found in an unsealed release directory; link it if it matches, else fetch it. */
  | (StepBase & { readonly action: 'adopt'; readonly release_id: string; readonly artifact: ArtifactRef })
  /** Write manifest.json and the seal into staging, fsync, rename staging into place. */
  | (StepBase & { readonly action: 'seal'; readonly release_id: string; readonly manifest_digest: string; readonly replaces_unsealed: boolean })
  /** A sealed release's file changed on disk: rehash it; reseal if the bytes are intact, else fetch and replace it. */
  | (StepBase & { readonly action: 'repair'; readonly release_id: string; readonly artifact: ArtifactRef })
  /** Ask the release's firecracker and jailer for their versions before switching to it. */
  | (StepBase & { readonly action: 'probe'; readonly release_id: string; readonly binaries: readonly { readonly component: string; readonly install_path: string; readonly expect: string }[] })
  | (StepBase & { readonly action: 'switch'; readonly from: string | null; readonly to: string })
  /** `component` names whose file the link reaches (null for a removal): an optional component found absent gets no link. */
  | (StepBase & { readonly action: 'compat-link'; readonly change: 'create' | 'repair' | 'remove'; readonly path: string; readonly link_target: string; readonly previous: string | null; readonly component: string | null })
  | (StepBase & { readonly action: 'render'; readonly change: 'create' | 'update'; readonly path: string; readonly content: string; readonly mode: number; readonly diff: string })
  /** `systemctl daemon-reload`: a rendered unit file changed in this activation. */
  | (StepBase & { readonly action: 'daemon-reload' })
  /** `systemctl enable <unit>`: its unit file was written in this activation. */
  | (StepBase & { readonly action: 'enable'; readonly unit: string })
  | (StepBase & { readonly action: 'hooks'; readonly operation: HookOperation; readonly release_id: string; readonly previous_release_id: string | null; readonly hooks: readonly string[] })
  /** `systemctl reset-failed <unit>`, then `systemctl restart <unit>`: the unit runs the release just switched to. */
  | (StepBase & { readonly action: 'restart'; readonly unit: string })
  /**
   * The health wait: the unit active/running with a MainPID other than the one before the restart, then the same
   * MainPID and NRestarts for `settle_s`; failed past `timeout_s`.
   */
  | (StepBase & { readonly action: 'health'; readonly unit: string; readonly settle_s: number; readonly timeout_s: number })
  | (StepBase & { readonly action: 'smoke'; readonly release_id: string; readonly url: string; readonly timeout_s: number })
  | (StepBase & { readonly action: 'record'; readonly operation: HookOperation; readonly from: string | null; readonly to: string; readonly result: 'ok' | 'recovered' })
  | (StepBase & { readonly action: 'clean'; readonly paths: readonly string[] })

export type HookOperation = 'install' | 'upgrade' | 'rollback' | 'auto-rollback'
export type StepAction = Step['action']

export interface Blocker {
  readonly message: string
  /** 65 when the manifest itself is refused (a release id that names another manifest), else 1. */
  readonly exit: 1 | 65
}

export interface PlanSummary {
  readonly steps: number
  readonly fetch_bytes: number
  readonly link_bytes: number
  /** Bytes delta steps copy from local files instead of fetching them. */
  readonly reused_bytes: number
  readonly components_fetched: number
  readonly components_linked: number
}

export interface Plan {
  readonly format_version: 1
  readonly operation: PlanOperation
  readonly manifest: { readonly release_id: string; readonly digest: string; readonly path: string }
  readonly host_fingerprint: string
  readonly current_release_id: string | null
  readonly target_release_id: string
  readonly steps: readonly Step[]
  readonly summary: PlanSummary
  readonly warnings: readonly string[]
  readonly blockers: readonly Blocker[]
  /** The flags that shaped the plan; `apply PLAN` uses them again. */
  readonly options: PlanOptionsJson
}

/** The plan as `plan --json` prints it and `plan --out` saves it (schemas/plan.schema.json). */
export interface PlanDocument extends Plan {
  /** `sha256:` of the canonical JSON (sorted keys) of every other field: `apply F` refuses an edited plan. */
  readonly plan_digest: string
  /** Only in a refused plan's --json document (blockers): false, beside `error`. */
  readonly ok?: false
  readonly error?: FailureJson
  /** Only in `upgrade --dry-run --json`: false, the `changed` every host-changing command prints (a dry run changes nothing). */
  readonly changed?: false
  /** Only in `upgrade --channel URL --dry-run --json`: the channel's choice for this host, as `upgrade --check --json` prints it. */
  readonly channel?: ChannelChoiceJson
}

export interface PlanOptionsJson {
  readonly allow_http: boolean
  readonly allow_expired: boolean
  readonly allow_downgrade: boolean
  readonly accept_snapshot_format_change: boolean
  readonly smoke_url: string | null
  readonly smoke_timeout_s: number
  /** Resolved by the command (`auto` is decided against the host before planning). */
  readonly service_manager: ServiceManager
  readonly service_settle_s: number
  readonly service_timeout_s: number
}

/** `systemd`: the tool runs systemctl on every activation; `none`: it runs nothing and says so (what the host runs is read by state/). */
export type { ServiceManager }
