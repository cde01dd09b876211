// io-ts and fp-ts's Either, the CommonJS packages nearly every command loads: the CLI's modules
// import `t` and `E` from here, not from the packages (specs may). Imported from an ES module, a
// CommonJS package is run by Node's ES module loader, which also takes every require() inside it
// through that loader and scans each file for its export names; for io-ts and fp-ts that was tens
// of milliseconds of every command's start. Required from this CommonJS file, they load as plain
// CommonJS.
import * as t from 'io-ts'
import * as E from 'fp-ts/lib/Either.js'

export { t, E }
