// Kept equal to package.json's version by spec/cli.spec.ts; a constant, so the bundled
// single-file tool needs no package.json beside it.
export const TOOL_VERSION = '0.1.0'
