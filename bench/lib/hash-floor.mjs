// The floor of blockcopy's stack for a cached manifest: what a Node program
// that must load what `blockcopy hash` loads (commander for its arguments,
// Piscina for its workers, the same xxh3 WebAssembly build) takes to hash a
// cached FILE into the same manifest, with none of blockcopy's engine: no
// O_DIRECT, no page-cache probe, no progress, no checks. Each worker reads
// its 64 MiB tasks with readSync into the hasher's input area and hashes 1
// MiB chunks there; the root is xxh3 over the chunk digests, as a
// manifest's. Prints what `blockcopy hash --json` prints: { ok, files: [{ path, root }] }.
// Timed as a whole process by bench/hash.ts (contender floor), so the gap
// between it and xxhsum is what the platform costs, and the gap between it
// and blockcopy hash is what blockcopy's engine costs. Needs `npm run build`.
//
//   node bench/lib/hash-floor.mjs FILE [--threads N] [--chunk SIZE]   (--memory and --direct are taken and ignored)
import { closeSync, fstatSync, openSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { Command } from 'commander'
import { Piscina } from 'piscina'
import { parseSize } from '../../dist/src/units.js'
import { Xxh3Simd } from '../../dist/src/hash/xxh3-simd.js'

const TASK_BYTES = 64 * 1024 * 1024
const cli = new Command('hash-floor')
  .argument('<file>')
  .option('--threads <n>', 'workers (default: the cores)', String(availableParallelism()))
  .option('--chunk <size>', 'manifest chunk size', '1MiB')
  .option('--memory <size>', 'ignored: the floor keeps one 1 MiB area a worker')
  .option('--direct <mode>', 'ignored: the floor reads through the page cache')
  .parse()
const file = cli.args[0]
const { threads, chunk } = cli.opts()
const chunkBytes = parseSize(chunk, '--chunk')
if (TASK_BYTES % chunkBytes !== 0) throw new Error(`--chunk: ${chunk} does not divide 64 MiB`)

const fd = openSync(file, 'r')
const sizeBytes = fstatSync(fd).size
closeSync(fd)
const pool = new Piscina({
  filename: new URL('./hash-floor-worker.mjs', import.meta.url).href,
  minThreads: Number(threads),
  maxThreads: Number(threads),
})
const tasks = []
for (let offset = 0; offset < sizeBytes; offset += TASK_BYTES) {
  tasks.push(pool.run({ file, offset, end: Math.min(sizeBytes, offset + TASK_BYTES), chunkBytes }))
}
const digests = await Promise.all(tasks)
await pool.destroy()
const root = Xxh3Simd.createSync('xxh3').init().update(Buffer.concat(digests)).digest('hex')
process.stdout.write(`${JSON.stringify({ ok: true, files: [{ path: file, root }] })}\n`)
