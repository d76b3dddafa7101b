#!/usr/bin/env node
// The installed command: runs the bundled CLI (npm install builds dist/ through
// `prepare`; scripts/bundle.mjs makes it one file, for a faster start).
import { existsSync } from 'node:fs'

const entry = new URL('../dist/cli/blockcopy.js', import.meta.url)
if (!existsSync(entry)) {
  console.error('blockcopy: dist/ is missing; run `npm run build` in the package first')
  process.exit(2)
}
await import(entry.href)
