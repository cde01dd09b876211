// Which steps carry an artifact, said once: the planner's summary, the seal, the disk
// preflight and the progress bars all ask this.
import type { ArtifactRef, Step } from './types.js'

/** The steps that carry an artifact: fetch, delta, adopt and repair obtain it; link hard-links it. */
export type ArtifactStep = Extract<Step, { readonly artifact: ArtifactRef }>

export const hasArtifact = (step: Step): step is ArtifactStep => 'artifact' in step

/** The artifact a step obtains or links, else null. */
export const artifactOf = (step: Step): ArtifactRef | null => (hasArtifact(step) ? step.artifact : null)

/** A step that puts its artifact into the release's staging directory, which the seal then lists (repair writes into a sealed release instead). */
export const stagesArtifact = (step: Step): step is Exclude<ArtifactStep, { action: 'repair' }> => hasArtifact(step) && step.action !== 'repair'

/** A step that obtains bytes (fetched, assembled or rehashed) rather than hard-linking a sealed release's file. */
export const obtainsArtifact = (step: Step): step is Exclude<ArtifactStep, { action: 'link' }> => hasArtifact(step) && step.action !== 'link'
