// `npm run test:one <pattern>`: runs the spec files whose name matches <pattern> (a regexp,
// e.g. `delta` or `install|upgrade`) against the bundle `npm run build` just made, without the
// lint and without the rest of the suite.
import { spawnSync } from 'node:child_process'

const pattern = process.argv[2]
if (!pattern) {
  console.error('usage: npm run test:one <pattern>   (a regexp matched against spec file names, e.g. delta or "install|upgrade")')
  process.exit(64)
}
// The suite's runner (scripts/test.mjs), given the files whose names match: several at once,
// each file's output whole.
const r = spawnSync(process.execPath, [new URL('./test.mjs', import.meta.url).pathname, pattern], { stdio: 'inherit' })
process.exit(r.status ?? 1)
