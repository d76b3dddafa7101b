/** Worker for bench:micro: hashes one chunk with xxh3 for `ms` milliseconds and posts how many times it did. */
import { parentPort, workerData } from 'node:worker_threads'
import { Xxh3 } from '../../src/hash/xxh3.js'

const { chunkBytes, ms } = workerData as { chunkBytes: number; ms: number }
const data = Buffer.alloc(chunkBytes, 7)
const xxh3 = await Xxh3.create()
const started = performance.now()
let n = 0
while (performance.now() - started < ms) {
  xxh3.digest(data, 0, chunkBytes)
  n++
}
parentPort?.postMessage({ n, elapsedMs: performance.now() - started })
