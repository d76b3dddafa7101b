// One library hash, as an embedder's process does it: a client created
// (its workers started), the manifest of FILE taken, the client destroyed.
// Timed from before createClient to after destroy, inside the process, so
// Node's own start (60-80 ms here) is left out: an embedder pays it once.
// Prints what `blockcopy hash --json` prints, plus that time:
//   { ok, files: [{ path, root }], elapsedMs }
// Takes the engine flags the CLI's hash would (--blockcopy-args): --threads,
// --chunk, --memory, --direct. Run by bench/hash.ts (contender
// hash-library); needs `npm run build`.
import { createClient, parseSize } from '../../dist/src/index.js'

const [file, ...flags] = process.argv.slice(2)
if (!file) throw new Error('usage: node bench/lib/hash-library.mjs FILE [--threads N] [--chunk SIZE] [--memory SIZE] [--direct MODE]')
const options = {}
const chunk = {}
for (let i = 0; i < flags.length; i += 2) {
  const [flag, value] = [flags[i], flags[i + 1]]
  if (value === undefined) throw new Error(`${flag}: needs a value`)
  if (flag === '--threads') options.threads = Number(value)
  else if (flag === '--memory') options.memoryBytes = parseSize(value, '--memory')
  else if (flag === '--direct') options.direct = value
  else if (flag === '--chunk') chunk.chunkBytes = parseSize(value, '--chunk')
  else throw new Error(`${flag}: not an engine flag this contender takes (--threads, --chunk, --memory, --direct)`)
}
const started = performance.now()
const client = await createClient(options)
const job = client.hash(file, chunk)
const result = await job.result
const manifest = await job.manifest
await client.destroy()
const elapsedMs = performance.now() - started
if (!manifest) throw new Error(`hash of ${file} failed: ${JSON.stringify(result.errors)}`)
process.stdout.write(`${JSON.stringify({ ok: true, files: [{ path: file, root: manifest.root }], elapsedMs })}\n`)
