// Flat ESLint config: the recommended JavaScript and typescript-eslint rules,
// without type-aware linting so that `npm run lint` stays fast.
import js from '@eslint/js'
import { defineConfig } from 'eslint/config'
import tseslint from 'typescript-eslint'

// Node's globals, listed here rather than taken from the `globals` package,
// which is not a direct dependency.
const nodeGlobals = Object.fromEntries(
  [
    'AbortController', 'AbortSignal', 'Buffer', 'SharedArrayBuffer', 'TextDecoder', 'TextEncoder',
    'URL', 'URLSearchParams', 'clearImmediate', 'clearInterval', 'clearTimeout', 'console',
    'performance', 'process', 'queueMicrotask', 'setImmediate', 'setInterval', 'setTimeout',
    'structuredClone',
  ].map((name) => [name, 'readonly']),
)

export default defineConfig(
  {
    ignores: [
      'dist/', 'build/', 'node_modules/', 'coverage/',
      'bench/results/', 'bench/out/', 'bench/output/', '**/*.d.ts',
    ],
  },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2022, sourceType: 'module', globals: nodeGlobals },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { ...nodeGlobals, require: 'readonly', module: 'writable', __dirname: 'readonly' } },
  },
)
