// Lint, run by `npm test` before the specs (`npm run lint`): typescript-eslint's recommended
// rules, with the few that the code answers otherwise turned off. Unused names are tsc's
// (noUnusedLocals, noUnusedParameters; a leading _ marks one kept on purpose). Specs match
// terminal output, so their regexps hold runs of spaces and ANSI escapes.
import js from '@eslint/js'
import tseslint from 'typescript-eslint'
import globals from 'globals'

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'bench/out/**', 'dist-*/**', '.demo/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2022, sourceType: 'module', globals: globals.node },
    rules: {
      '@typescript-eslint/no-unused-vars': 'off',
    },
  },
  {
    files: ['spec/**'],
    rules: {
      'no-regex-spaces': 'off',
      'no-control-regex': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    ignores: ['**/*.mjs'],
    languageOptions: { sourceType: 'commonjs' },
    // Plain CommonJS run by node without a build (the systemctl stand-in): `const crypto = require(...)` shadows the global on purpose.
    rules: { '@typescript-eslint/no-require-imports': 'off', 'no-redeclare': ['error', { builtinGlobals: false }] },
  },
)
