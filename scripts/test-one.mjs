// `npm run test:one <pattern>`: runs the spec files whose name matches <pattern> (a regexp,
// e.g. `delta` or `install|upgrade`) against the bundle `npm run build` just made, without the
// lint and without the rest of the suite.
import { spawnSync } from 'node:child_process'

const pattern = process.argv[2]
if (!pattern) {
  console.error('usage: npm run test:one <pattern>   (a regexp matched against spec file names, e.g. delta or "install|upgrade")')
  process.exit(64)
}
// Only spec files (not helpers or fixtures whose names happen to match).
const files = `(${pattern})[^/]*\\.spec\\.js$`
const r = spawnSync('npx', ['uvu', 'dist/spec', files], { stdio: 'inherit' })
process.exit(r.status ?? 1)
