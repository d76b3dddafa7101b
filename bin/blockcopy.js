#!/usr/bin/env node
// The installed command: runs the compiled CLI (npm install builds dist/ through `prepare`).
import { existsSync } from 'node:fs'

const entry = new URL('../dist/src/cli/bin.js', import.meta.url)
if (!existsSync(entry)) {
  console.error('blockcopy: dist/ is missing; run `npm run build` in the package first')
  process.exit(2)
}
await import(entry.href)
