#!/usr/bin/env node
// Bundles the command line and the worker each into one file (part of
// `npm run build`, after tsc). Node 20 has no compile cache, and loading the
// ~60 modules of dist/ one by one took 70 ms of every `blockcopy` run and
// 40-60 ms of every worker's start; one file each takes 25 ms and 30 ms.
// The library (dist/src/) stays one module per source file for embedders,
// but its workers run the bundled worker too.
//
//   node scripts/bundle.mjs [OUTDIR]    OUTDIR defaults to dist/; it must lie
//                                       inside the package, whose root the
//                                       addon and xxh3.wasm are found from
//
// Writes OUTDIR/cli/blockcopy.js (bin/blockcopy.js runs it) and
// OUTDIR/workers/chunk.worker.js: the CLI's client starts its workers from
// ../workers/ beside itself, as dist/src/client.js does.
import { build } from 'esbuild'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const out = resolve(process.argv[2] ?? join(root, 'dist'))

// CommonJS dependencies (commander, piscina) call require() for Node's own
// modules, which an ES module bundle has no binding for.
const banner = { js: "import { createRequire as __bcRequire } from 'node:module'; const require = __bcRequire(import.meta.url);" }

const common = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  banner,
  sourcemap: true,
  // The addon is loaded by path at run time (src/io/native.ts), never bundled.
  // Piscina starts its workers from its own worker.js, found beside itself.
  external: ['*.node', 'piscina'],
  logLevel: 'warning',
  allowOverwrite: true,
}

await Promise.all([
  build({ ...common, entryPoints: [join(root, 'src/cli/bin.ts')], outfile: join(out, 'cli/blockcopy.js') }),
  build({ ...common, entryPoints: [join(root, 'workers/chunk.worker.ts')], outfile: join(out, 'workers/chunk.worker.js') }),
])
