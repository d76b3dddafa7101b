import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { diffRuns, MAX_RUNS_PER_CHUNK, MERGE_GAP_BYTES } from '../src/chunk/diff-runs.js'
import { RunCollector } from '../src/verify/runs.js'

const test = suite('verify: exact runs of differing bytes, in a chunk and across chunks')
const KiB = 1024

/** Deterministic bytes: xorshift32 from seed (mixed, so that no two seeds give the same stream). */
function bytes(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length)
  let x = Math.imul(seed, 0x9e3779b1) ^ 0x6a09e667
  for (let i = 0; i < length; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = x & 0xff
  }
  return out
}

/** The runs a byte-by-byte scan gives, with every run listed: [runs, spanBytes, differingBytes, offset, length, ...]. */
function naive(a: Buffer, b: Buffer, at: number, length: number, fileOffset: number): number[] {
  const runs: number[] = []
  let differing = 0
  let start = -1
  let end = 0
  for (let k = 0; k < length; k++) {
    if (a[at + k] === b[at + k]) continue
    differing++
    if (start >= 0 && k - end < MERGE_GAP_BYTES) end = k + 1
    else {
      if (start >= 0) runs.push(fileOffset + start, end - start)
      start = k
      end = k + 1
    }
  }
  if (start >= 0) runs.push(fileOffset + start, end - start)
  if (runs.length === 0) return []
  let span = 0
  for (let k = 1; k < runs.length; k += 2) span += runs[k] as number
  return [runs.length / 2, span, differing, ...runs]
}

/** b is a with the bytes at `offsets` changed (each XORed with a non-zero value). */
function changed(a: Buffer, offsets: number[], xor = 0x5a): Buffer {
  const b = Buffer.from(a)
  for (const at of offsets) b[at] = (b[at] as number) ^ xor
  return b
}

test('equal buffers: nothing', () => {
  const a = bytes(1024 * KiB, 1)
  assert.equal(diffRuns(a, Buffer.from(a), 0, a.length, 0), [])
})

test('5 scattered bytes in 2 MiB are 5 one-byte runs, at their absolute offsets', () => {
  const a = bytes(2048 * KiB, 2)
  const at = [7, 333_333, 1_048_500, 1_048_576, 2048 * KiB - 1]
  const b = changed(a, at)
  const fileOffset = 10 * 1024 * KiB
  assert.equal(diffRuns(a, b, 0, a.length, fileOffset), [5, 5, 5, ...at.flatMap((k) => [fileOffset + k, 1])])
})

test('differing bytes with fewer than 64 equal bytes between are one run; with 64 they are two', () => {
  const a = bytes(64 * KiB, 3)
  // 10 bytes apart: one run of 11 with 2 bytes differing.
  assert.equal(diffRuns(a, changed(a, [1000, 1010]), 0, a.length, 0), [1, 11, 2, 1000, 11])
  // 63 equal bytes between: one run; 64 between: two.
  assert.equal(diffRuns(a, changed(a, [5000, 5000 + MERGE_GAP_BYTES]), 0, a.length, 0), [1, 65, 2, 5000, 65])
  assert.equal(diffRuns(a, changed(a, [5000, 5001 + MERGE_GAP_BYTES]), 0, a.length, 0), [2, 2, 2, 5000, 1, 5065, 1])
})

test('a chunk that differs throughout is one run, every byte counted', () => {
  const a = bytes(1024 * KiB, 4)
  const b = Buffer.from(a.map((x) => x ^ 0xff))
  assert.equal(diffRuns(a, b, 0, a.length, 4096), [1, a.length, a.length, 4096, a.length])
  // Random against random: some bytes are equal by chance, never 64 in a row.
  const c = bytes(1024 * KiB, 10)
  const r = diffRuns(a, c, 0, a.length, 0)
  assert.is(r[0], 1)
  assert.equal(r, naive(a, c, 0, a.length, 0))
})

test('any alignment, any length: the same runs as a byte-by-byte scan', () => {
  for (let seed = 1; seed <= 40; seed++) {
    const size = 20 * KiB + seed * 13
    const a = bytes(size + 8, seed)
    const offsets = Array.from(bytes(8 * 4, seed + 100)).slice(0, 4 + (seed % 25)).map((x, i) => (x * 997 + i * 7919 * seed) % size)
    // Around every 4-byte word edge and block edge too.
    offsets.push(4095, 4096, 4097, 8191, 8192, size - 1, 0, 1, 2, 3)
    const b = changed(a, offsets, (seed % 255) + 1)
    for (const at of [0, 1, 2, 3]) {
      const length = size - at - (seed % 5)
      assert.equal(diffRuns(a, b, at, length, 1_000_000), naive(a, b, at, length, 1_000_000), `seed ${seed} at ${at}`)
    }
  }
})

test('buffers of different alignment are compared byte by byte, with the same result', () => {
  const a = bytes(32 * KiB, 6)
  const b = changed(a, [3, 100, 4097, 20_000, 20_001])
  const shifted = Buffer.alloc(b.length + 1).subarray(1)
  b.copy(shifted)
  assert.equal(diffRuns(a, shifted, 0, a.length, 0), naive(a, b, 0, a.length, 0))
})

test(`a worker returns at most ${MAX_RUNS_PER_CHUNK} runs per chunk: the first ones and the last, with exact totals`, () => {
  const a = bytes(1024 * KiB, 7)
  const at = Array.from({ length: 1000 }, (_, i) => 100 + i * 1000)
  const r = diffRuns(a, changed(a, at), 0, a.length, 0)
  assert.equal(r.slice(0, 3), [1000, 1000, 1000])
  assert.is(r.length, 3 + 2 * MAX_RUNS_PER_CHUNK)
  const listed = at.slice(0, MAX_RUNS_PER_CHUNK - 1).concat(at[999] as number)
  assert.equal(r.slice(3), listed.flatMap((k) => [k, 1]))
})

/** Feeds each chunk's runs to a collector in the given order, as workers would return them. */
function collect(a: Buffer, b: Buffer, chunk: number, limit: number, order: (n: number) => number[]) {
  const c = new RunCollector(limit)
  const count = Math.ceil(a.length / chunk)
  for (const i of order(count)) {
    const start = i * chunk
    const end = Math.min(a.length, start + chunk)
    c.add(start, end, diffRuns(a, b, start, end - start, start))
  }
  return c.finish()
}

const reversed = (n: number) => Array.from({ length: n }, (_, i) => n - 1 - i)

test('across chunks: runs closer than 64 bytes over a chunk edge are one, chunks in any order; whole differing chunks in a row are one run', () => {
  const chunk = 64 * KiB
  const a = bytes(8 * chunk, 8)
  // 10 bytes apart over the edge of chunks 0 and 1; 70 apart over the next edge; chunks 4 and 5 different throughout.
  const b = changed(a, [chunk - 5, chunk + 5, 2 * chunk - 35, 2 * chunk + 35])
  for (let k = 4 * chunk; k < 6 * chunk; k++) b[k] = (b[k] as number) ^ 0xff
  const runs = collect(a, b, chunk, 1000, reversed)
  assert.equal(runs.listed, [
    { offset: chunk - 5, length: 11 },
    { offset: 2 * chunk - 35, length: 1 },
    { offset: 2 * chunk + 35, length: 1 },
    { offset: 4 * chunk, length: 2 * chunk },
  ])
  assert.equal([runs.count, runs.spanBytes, runs.differingBytes], [4, 11 + 2 + 2 * chunk, 4 + 2 * chunk])
})

test('the list stops at its limit, and where a chunk had more runs than a worker returns; the totals count every run', () => {
  const chunk = 64 * KiB
  const a = bytes(4 * chunk, 9)
  // Chunk 1: 600 runs (more than a worker returns); chunks 0 and 3: 3 runs each.
  const at = [10, 1000, 2000, ...Array.from({ length: 600 }, (_, i) => chunk + 50 + i * 100), 3 * chunk + 7, 3 * chunk + 900, 4 * chunk - 1]
  const b = changed(a, at)
  const all = collect(a, b, chunk, 10_000, (n) => Array.from({ length: n }, (_, i) => i))
  assert.equal([all.count, all.spanBytes, all.differingBytes], [606, 606, 606])
  // Chunk 0's three, then chunk 1's first 255: the list stops there, whatever the limit.
  assert.equal(all.listed, at.slice(0, 3 + MAX_RUNS_PER_CHUNK - 1).map((k) => ({ offset: k, length: 1 })))
  const some = collect(a, b, chunk, 20, reversed)
  assert.equal(some.listed, at.slice(0, 20).map((k) => ({ offset: k, length: 1 })))
  assert.equal(some.count, 606)
})

test('the runs a limit leaves out are not kept: memory stays bounded by the limit', () => {
  const c = new RunCollector(5)
  // One chunk of 255 runs plus its last, 2000 times over.
  for (let i = 0; i < 2000; i++) {
    const start = i * 65536
    const pairs = Array.from({ length: MAX_RUNS_PER_CHUNK }, (_, k) => [start + 100 + 200 * k, 1]).flat()
    c.add(start, start + 65536, [MAX_RUNS_PER_CHUNK, MAX_RUNS_PER_CHUNK, MAX_RUNS_PER_CHUNK, ...pairs])
    const inner = (c as unknown as { inner: unknown[] }).inner.length
    assert.ok(inner <= 2 * 5 + 1024 + MAX_RUNS_PER_CHUNK, `${inner} runs kept`)
  }
  const r = c.finish()
  assert.is(r.count, 2000 * MAX_RUNS_PER_CHUNK)
  assert.equal(r.listed.map((d) => d.offset), [100, 300, 500, 700, 900])
})

test.run()
