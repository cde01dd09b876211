// Reading a channel document's bytes: the size cap, JSON, the codec, then the rules. Every
// failure is one exit-65 line that names the channel and the first problem; the rest follow.
import { E } from '../commonjs.cjs'
import { Channel, CHANNEL_FORMAT } from './codec.js'
import { type ChannelRuleOptions, checkChannelRules } from './rules.js'
import { type Problem, formatProblem, problemsFromErrors } from '../manifest/problems.js'
import { MAX_MANIFEST_BYTES, parseJson } from '../manifest/load.js'
import { type Failure, manifestError } from '../errors.js'

/** A channel is at most 16 MiB, like a manifest: refused before it is parsed. */
export const MAX_CHANNEL_BYTES = MAX_MANIFEST_BYTES

/** Decode + rules over parsed JSON; pure (the clock is in `o`). */
export function validateChannel(json: unknown, o: ChannelRuleOptions): E.Either<Problem[], Channel> {
  const decoded = Channel.decode(json)
  if (E.isLeft(decoded)) return E.left(problemsFromErrors(decoded.left, CHANNEL_FORMAT))
  const problems = checkChannelRules(decoded.right, o)
  return problems.length ? E.left(problems) : E.right(decoded.right)
}

/** `label` (a URL or a path) names the channel in every message. */
export async function parseChannel(bytes: Buffer, label: string, o: ChannelRuleOptions): Promise<E.Either<Failure, Channel>> {
  if (bytes.length > MAX_CHANNEL_BYTES) return E.left(manifestError(`${label}: the channel is ${bytes.length} bytes, over the ${MAX_CHANNEL_BYTES}-byte limit; refusing to parse it. Nothing was changed`))
  const json = await parseJson(bytes.toString('utf8'), `${label}: not a ${CHANNEL_FORMAT} channel`)
  if (E.isLeft(json)) return E.left(manifestError(`${json.left.message}. Nothing was changed`))
  const valid = validateChannel(json.right, o)
  if (E.isRight(valid)) return valid
  const [first, ...rest] = valid.left.map(formatProblem)
  const what = valid.left.some((p) => p.refusal) ? 'refused channel' : `not a valid ${CHANNEL_FORMAT} channel`
  return E.left(manifestError(`${label}: ${what}: ${first}${rest.length ? ` (and ${rest.length} more problem${rest.length > 1 ? 's' : ''} below)` : ''}. Nothing was changed`, rest))
}
