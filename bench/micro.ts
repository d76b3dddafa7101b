/**
 * Micro-benchmarks (tinybench) of the two inner loops of a chunk, each
 * against the alternative in the same run, with the ratio printed:
 *   - hashing a chunk: hash-wasm xxh3 (what blockcopy uses) vs node:crypto md5
 *     (what dcfldd hash=md5 computes) and sha256;
 *   - reading a cached chunk: the native addon's pread into its aligned buffer
 *     vs fs.readSync into a Node Buffer.
 *
 *   - and the engine's own overheads (bench/lib/micro-engine.ts): xxh3 per chunk
 *     size on the main thread and in a worker, pool dispatch per task, the
 *     scheduler per chunk, aligned buffer reuse against allocation.
 *
 *   npm run bench:micro [-- --chunk 1MiB]
 */
import { createHash } from 'node:crypto'
import { mkdtempSync, openSync, closeSync, readSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Bench } from 'tinybench'
import { loadNativeBackend } from '../src/io/native.js'
import { parseSize } from '../src/units.js'
import { Xxh3 } from '../src/hash/xxh3.js'

const at = process.argv.indexOf('--chunk')
const chunkBytes = parseSize(at > 0 ? (process.argv[at + 1] ?? '1MiB') : '1MiB', '--chunk')
const data = Buffer.alloc(chunkBytes)
for (let i = 0; i < data.length; i += 4) data.writeUInt32LE((i * 2654435761) >>> 0, i)

const xxh3 = await Xxh3.create()
const hashing = new Bench({ time: 1000 })
hashing
  .add('xxh3 (hash-wasm)', () => void xxh3.digest(data, 0, chunkBytes))
  .add('md5 (node:crypto)', () => void createHash('md5').update(data).digest('hex'))
  .add('sha256 (node:crypto)', () => void createHash('sha256').update(data).digest('hex'))
await hashing.run()

const dir = mkdtempSync(join(tmpdir(), 'blockcopy-micro-'))
const file = join(dir, 'chunk.bin')
writeFileSync(file, data)
const native = loadNativeBackend()
const reading = new Bench({ time: 1000 })
const fd = openSync(file, 'r')
const plain = Buffer.alloc(chunkBytes)
reading.add('fs.readSync (Node Buffer)', () => void readSync(fd, plain, 0, chunkBytes, 0))
if (typeof native !== 'string') {
  const aligned = native.allocAligned(chunkBytes, 4096)
  reading.add('native pread (aligned buffer)', () => void native.pread(fd, aligned, 0, chunkBytes, 0))
}
try {
  await reading.run()
} finally {
  closeSync(fd)
  rmSync(dir, { recursive: true, force: true })
}

const gbps = (bench: Bench, name: string): number => {
  const task = bench.tasks.find((t) => t.name === name)
  const mean = task?.result?.latency?.mean ?? task?.result?.period
  return mean ? chunkBytes / (mean / 1000) / 1e9 : NaN
}
const show = (bench: Bench, base: string) => {
  for (const t of bench.tasks) {
    const v = gbps(bench, t.name)
    console.log(`${t.name.padEnd(32)} ${v.toFixed(2).padStart(7)} GB/s   ${(v / gbps(bench, base)).toFixed(2)}x ${base}`)
  }
}
console.log(`chunk ${chunkBytes} bytes, Node ${process.version}`)
show(hashing, 'md5 (node:crypto)')
show(reading, 'fs.readSync (Node Buffer)')

const { bufferReuse, poolDispatch, schedulerOverhead, xxh3PerChunkSize } = await import('./lib/micro-engine.js')
for (const part of [xxh3PerChunkSize, poolDispatch, schedulerOverhead, bufferReuse]) {
  console.log((await part()).join('\n'))
}
