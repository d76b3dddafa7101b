// One library hash, as an embedder's process does it: a client created
// (its workers started), the manifest of FILE taken, the client destroyed.
// Timed from before createClient to after destroy, inside the process, so
// Node's own start (60-80 ms here) is left out: an embedder pays it once.
// Prints what `blockcopy hash --json` prints, plus that time:
//   { ok, files: [{ path, root }], elapsedMs }
// Run by bench/hash.ts (contender hash-library); needs `npm run build`.
import { createClient } from '../../dist/src/index.js'

const file = process.argv[2]
if (!file) throw new Error('usage: node bench/lib/hash-library.mjs FILE')
const started = performance.now()
const client = await createClient()
const job = client.hash(file)
const result = await job.result
const manifest = await job.manifest
await client.destroy()
const elapsedMs = performance.now() - started
if (!manifest) throw new Error(`hash of ${file} failed: ${JSON.stringify(result.errors)}`)
process.stdout.write(`${JSON.stringify({ ok: true, files: [{ path: file, root: manifest.root }], elapsedMs })}\n`)
