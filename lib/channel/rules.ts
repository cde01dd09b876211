// Cross-field and clock rules of the channel document (ARCHITECTURE.md section 8.4). Pure: the clock
// is an input. Each rule returns every problem it finds.
import semver from 'semver'
import type { Channel } from './codec.js'
import { type Problem, preview } from '../manifest/problems.js'
import { type RuleOptions, urlProblem } from '../manifest/rules.js'

/** The manifest's rule options: the clock (ms since the epoch), --allow-http, --allow-expired. */
export type ChannelRuleOptions = RuleOptions

type Rule = (c: Channel, o: ChannelRuleOptions) => Problem[]

const at = (i: number, field: string) => `releases[${i}].${field}`

/** A release id names one release, and one version names one release: the selection must never have to choose between two. */
export const releasesUnique: Rule = (c) => {
  const problems: Problem[] = []
  c.releases.forEach((r, i) => {
    const sameId = c.releases.findIndex((o) => o.release_id === r.release_id)
    if (sameId < i) problems.push({ path: at(i, 'release_id'), message: `duplicate release_id ${preview(r.release_id)} (also releases[${sameId}]); a release id names one release` })
    // semver equality: build metadata does not make another version (1.2.3+a and 1.2.3+b are the same version).
    const sameVersion = c.releases.findIndex((o) => semver.eq(o.version, r.version))
    if (sameVersion < i) problems.push({ path: at(i, 'version'), message: `duplicate version ${preview(r.version)} (also releases[${sameVersion}] ${preview(c.releases[sameVersion].version)}); each release needs a version of its own` })
  })
  return problems
}

export const manifestUrlsAllowed: Rule = (c, o) =>
  c.releases.flatMap((r, i) => {
    const p = urlProblem(r.manifest_url, o.allowHttp)
    return p ? [{ path: at(i, 'manifest_url'), message: p }] : []
  })

export const expiresAfterGenerated: Rule = (c) =>
  Date.parse(c.expires_at) > Date.parse(c.generated_at)
    ? []
    : [{ path: 'expires_at', message: `must be after generated_at (${c.generated_at}), got ${preview(c.expires_at)}` }]

/** The clock rule: a stale channel replayed by a mirror must not move a host. */
export const notExpired: Rule = (c, o) =>
  o.allowExpired || Date.parse(c.expires_at) > o.now
    ? []
    : [{ path: 'expires_at', message: `the channel expired at ${c.expires_at}; the publisher must publish it again (or pass --allow-expired)`, refusal: true }]

export const CHANNEL_RULES: readonly Rule[] = [releasesUnique, manifestUrlsAllowed, expiresAfterGenerated, notExpired]

export function checkChannelRules(c: Channel, o: ChannelRuleOptions): Problem[] {
  return CHANNEL_RULES.flatMap((rule) => rule(c, o))
}
