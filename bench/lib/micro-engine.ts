/**
 * bench:micro, the engine's own overheads (issue 6, part 2):
 *   - xxh3 throughput per chunk size, on the main thread and in a worker;
 *   - the pool's dispatch cost per task (Piscina round trip of a no-op);
 *   - the scheduler's cost per chunk (src/scheduler.ts with a runner that
 *     answers at once);
 *   - aligned buffer reuse (what each worker does) against allocating one
 *     per chunk.
 */
import { Worker } from 'node:worker_threads'
import { Piscina } from 'piscina'
import { Bench } from 'tinybench'
import { loadNativeBackend } from '../../src/io/native.js'
import type { ChunkResult, ChunkTask } from '../../src/protocol/protocol.js'
import { schedule } from '../../src/scheduler.js'
import { Xxh3 } from '../../src/hash/xxh3.js'

const KiB = 1024
const SIZES = [64 * KiB, 256 * KiB, 1024 * KiB, 4096 * KiB]
const fmtSize = (b: number) => (b >= 1024 * KiB ? `${b / 1024 / KiB} MiB` : `${b / KiB} KiB`)

function inWorker(chunkBytes: number, ms: number): Promise<{ n: number; elapsedMs: number }> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('./xxh3-worker.mjs', import.meta.url), { workerData: { chunkBytes, ms } })
    w.once('message', (m: { n: number; elapsedMs: number }) => {
      void w.terminate()
      resolve(m)
    })
    w.once('error', reject)
  })
}

export async function xxh3PerChunkSize(): Promise<string[]> {
  const xxh3 = await Xxh3.create()
  const lines = ['xxh3 per chunk size        main thread    one worker']
  for (const size of SIZES) {
    const data = Buffer.alloc(size, 7)
    const bench = new Bench({ time: 500 })
    bench.add('main', () => void xxh3.digest(data, 0, size))
    await bench.run()
    const mean = bench.tasks[0]?.result?.latency?.mean ?? NaN
    const main = size / (mean / 1000) / 1e9
    const w = await inWorker(size, 500)
    const worker = (w.n * size) / (w.elapsedMs / 1000) / 1e9
    lines.push(`  ${fmtSize(size).padEnd(24)} ${main.toFixed(2).padStart(6)} GB/s    ${worker.toFixed(2).padStart(6)} GB/s`)
  }
  return lines
}

export async function poolDispatch(): Promise<string[]> {
  const pool = new Piscina({ filename: new URL('./noop-worker.mjs', import.meta.url).href, minThreads: 2, maxThreads: 2 })
  await Promise.all(Array.from({ length: 100 }, (_, i) => pool.run(i)))
  const tasks = 20_000
  const started = performance.now()
  // Four in flight, as the engine keeps two per worker.
  let next = 0
  await Promise.all(Array.from({ length: 4 }, async () => {
    while (next < tasks) await pool.run(next++)
  }))
  const us = ((performance.now() - started) * 1000) / tasks
  await pool.destroy()
  return [`pool dispatch (Piscina round trip, 2 workers, 4 in flight): ${us.toFixed(1)} µs a task`]
}

export async function schedulerOverhead(): Promise<string[]> {
  const count = 200_000
  const task: ChunkTask = { kind: 'zero', chunkIndex: 0, lengthBytes: 0, dests: [], verify: 0 }
  const answer = (i: number): ChunkResult => ({ kind: 'zero', chunkIndex: i, lengthBytes: 0, digest: null, readErr: false, writeErr: 0, errors: [], directBytes: 0 })
  let i = 0
  const started = performance.now()
  await schedule({ count, makeTask: () => task, run: () => Promise.resolve(answer(i++)), inflight: 8, stopOnError: false, onResult: () => undefined })
  const ns = ((performance.now() - started) * 1e6) / count
  return [`scheduler (src/scheduler.ts, a runner that answers at once): ${ns.toFixed(0)} ns a chunk`]
}

export async function bufferReuse(): Promise<string[]> {
  const native = loadNativeBackend()
  if (typeof native === 'string') return [`aligned buffers: skipped, the native addon did not load (${native})`]
  const size = 1024 * KiB
  const kept = native.allocAligned(size, 4096)
  const bench = new Bench({ time: 500 })
  // Both fill the chunk, as a read would: allocating also pays the page faults of fresh memory.
  bench.add('reuse one aligned buffer', () => void kept.fill(1))
  bench.add('allocate an aligned buffer per chunk', () => void native.allocAligned(size, 4096).fill(1))
  await bench.run()
  const mean = (name: string) => bench.tasks.find((t) => t.name === name)?.result?.latency?.mean ?? NaN
  const reuse = mean('reuse one aligned buffer')
  const alloc = mean('allocate an aligned buffer per chunk')
  return [
    `aligned 1 MiB buffer: reuse ${(reuse * 1000).toFixed(1)} µs, allocate ${(alloc * 1000).toFixed(1)} µs a chunk (${(alloc / reuse).toFixed(2)}x)`,
  ]
}
