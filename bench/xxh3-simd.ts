/**
 * Throughput of xxh3 / XXH3-128 on one thread, from memory: hash-wasm's
 * update() (what blockcopy uses) against the WebAssembly SIMD128 build in
 * src/hash/xxh3-simd.ts, through update() (bytes copied into WebAssembly
 * memory) and through updateInput() (bytes already in its input area).
 * Each measurement is init + update of the whole buffer + digest, repeated
 * for about --mib MiB; the contenders take turns within each run, and the
 * table shows the median of --runs runs, in GB/s (1e9 bytes a second).
 *
 *   node --import tsx bench/xxh3-simd.ts [--runs 7] [--mib 256] [--algo xxh3|xxh128|both]
 */
import { randomFillSync } from 'node:crypto'
import { parseArgs } from 'node:util'
import { createXXHash128, createXXHash3, type IHasher } from 'hash-wasm'
import type { HashAlgo } from '../src/protocol/protocol.js'
import { Xxh3Simd } from '../src/hash/xxh3-simd.js'
import { median } from './lib/report.js'

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '7' },
    mib: { type: 'string', default: '256' },
    algo: { type: 'string', default: 'both' },
  },
})
const runs = Number(values.runs)
const bytesPerRun = Number(values.mib) * 1024 * 1024
if (!Number.isInteger(runs) || runs < 1 || !(bytesPerRun > 0) || !['xxh3', 'xxh128', 'both'].includes(values.algo)) {
  console.error('usage: node --import tsx bench/xxh3-simd.ts [--runs N] [--mib MIB] [--algo xxh3|xxh128|both]')
  process.exit(2)
}
const algos: HashAlgo[] = values.algo === 'both' ? ['xxh3', 'xxh128'] : [values.algo as HashAlgo]
const SIZES = [64 * 1024, 256 * 1024, 1024 * 1024, 8 * 1024 * 1024]
const label = (bytes: number): string => (bytes >= 1024 * 1024 ? `${bytes / 1024 / 1024} MiB` : `${bytes / 1024} KiB`)

interface Contender {
  name: string
  /** Hashes the buffer once (init, update(s), digest) and returns the digest. */
  hash(): string
}

function contenders(reference: IHasher, simd: Xxh3Simd, data: Uint8Array): Contender[] {
  const size = data.length
  simd.input(size).set(data)
  return [
    { name: 'hash-wasm update()', hash: () => reference.init().update(data).digest('hex') },
    { name: 'simd update()', hash: () => simd.init().update(data).digest() },
    { name: 'simd updateInput()', hash: () => simd.init().updateInput(0, size).digest() },
  ]
}

/** GB/s of `count` hashes of `size` bytes; fails unless the last digest is `expected`. */
function measure(c: Contender, size: number, count: number, expected: string): number {
  let digest = ''
  const start = process.hrtime.bigint()
  for (let i = 0; i < count; i++) digest = c.hash()
  const ns = Number(process.hrtime.bigint() - start)
  if (digest !== expected) throw new Error(`${c.name}: digest ${digest}, expected ${expected}`)
  return (size * count) / ns
}


const data = new Uint8Array(Math.max(...SIZES))
randomFillSync(data)
console.log(`node ${process.version}, ${runs} runs of ~${values.mib} MiB per cell, median GB/s (1e9 B/s), one thread\n`)
const header = ['algo', 'size', 'hash-wasm update()', 'simd update()', 'simd updateInput()', 'update() x', 'updateInput() x']
const rows: string[][] = [header]
for (const algo of algos) {
  const reference = algo === 'xxh3' ? await createXXHash3() : await createXXHash128()
  const simd = await Xxh3Simd.create(algo)
  for (const size of SIZES) {
    const buf = data.subarray(0, size)
    const timed = contenders(reference, simd, buf)
    const expected = reference.init().update(buf).digest('hex')
    const count = Math.max(1, Math.round(bytesPerRun / size))
    for (const c of timed) measure(c, size, Math.max(1, count >> 2), expected) // warm-up: lets V8 optimise
    const results = timed.map(() => [] as number[])
    for (let run = 0; run < runs; run++) {
      // Rotated order, so that no contender always runs right after the same one.
      for (let k = 0; k < timed.length; k++) {
        const i = (k + run) % timed.length
        results[i]?.push(measure(timed[i] as Contender, size, count, expected))
      }
    }
    const [base, copied, inPlace] = results.map(median) as [number, number, number]
    rows.push([algo, label(size), base.toFixed(2), copied.toFixed(2), inPlace.toFixed(2), `${(copied / base).toFixed(2)}x`, `${(inPlace / base).toFixed(2)}x`])
    process.stderr.write(`${algo} ${label(size)} done\n`)
  }
}

const widths = header.map((_, col) => Math.max(...rows.map((row) => (row[col] ?? '').length)))
for (const row of rows) console.log(row.map((cell, col) => (col < 2 ? cell.padEnd(widths[col] ?? 0) : cell.padStart(widths[col] ?? 0))).join('  '))
