// The flags both channel changes take: which file, and how long the changed channel stays valid.
import type { Argv } from 'yargs'
import { usageError } from '../lib/errors.js'
import type { GlobalArgs } from './common.js'
import { numberFlag } from './bounds.js'

export interface ChannelFileArgs extends GlobalArgs {
  'channel-file': string
  'expires-in'?: number
  'expires-at'?: string
}

export function withChannelFileFlags<T extends GlobalArgs>(y: Argv<T>) {
  return y
    .option('channel-file', { type: 'string', demandOption: true, describe: 'The channel document to change (written atomically; sign it again afterwards with manifest sign)' })
    .option('expires-in', numberFlag('expires-in', { describe: 'Days from now the changed channel stays valid; without it or --expires-at the channel keeps its validity period (30 days for a new one)' }))
    .option('expires-at', { type: 'string', describe: 'RFC 3339 time the changed channel expires, e.g. 2026-08-01T00:00:00Z' })
    .conflicts('expires-in', 'expires-at')
}

/** The validity flags, checked: an expires-at must be a real RFC 3339 time. */
export async function validityOf(argv: ChannelFileArgs): Promise<{ expiresAt?: string; expiresInDays?: number }> {
  const { isTimestamp } = await import('../lib/manifest/codec.js')
  if (argv['expires-at'] !== undefined && !isTimestamp(argv['expires-at']))
    throw usageError(`--expires-at must be an RFC 3339 time such as 2026-08-01T00:00:00Z, got ${JSON.stringify(argv['expires-at'])}`)
  return { expiresAt: argv['expires-at'], expiresInDays: argv['expires-in'] }
}
