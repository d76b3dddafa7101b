import { spawnSync } from 'node:child_process'
import { closeSync, openSync, readSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createXXHash128, createXXHash3, type IHasher } from 'hash-wasm'
import type { HashAlgo } from '../src/protocol/protocol.js'
import { Xxh3Simd } from '../src/hash/xxh3-simd.js'
import { logSkip } from './helpers/root.js'
import { makeTempDir, removeTempDir } from './helpers/tmp.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))

const test = suite('xxh3-simd')
const KiB = 1024
const MiB = 1024 * KiB
const ALGOS: readonly HashAlgo[] = ['xxh3', 'xxh128']

/** A small deterministic random-number source: next(n) is a whole number in [0, n). */
function rng(seed: number): { next(n: number): number } {
  let x = seed | 1
  return {
    next(n) {
      x ^= x << 13
      x ^= x >>> 17
      x ^= x << 5
      return (x >>> 0) % n
    },
  }
}

/** Deterministic pseudo-random bytes, so a failure repeats. */
function randomBytes(length: number, seed: number): Uint8Array {
  const r = rng(seed)
  return Uint8Array.from({ length }, () => r.next(256))
}

const DATA = randomBytes(5 * MiB + 333, 0x5eed)
const reference: Partial<Record<HashAlgo, IHasher>> = {}
const simd: Partial<Record<HashAlgo, Xxh3Simd>> = {}

test.before(async () => {
  reference.xxh3 = await createXXHash3()
  reference.xxh128 = await createXXHash128()
  simd.xxh3 = await Xxh3Simd.create('xxh3')
  simd.xxh128 = Xxh3Simd.createSync('xxh128')
})

function want(algo: HashAlgo, bytes: Uint8Array): string {
  const h = reference[algo] as IHasher
  return h.init().update(bytes).digest('hex')
}

function hasher(algo: HashAlgo): Xxh3Simd {
  return simd[algo] as Xxh3Simd
}

/** Digest of `bytes` given to update() in pieces cut at `cuts` (ascending offsets). */
function digestInPieces(h: Xxh3Simd, bytes: Uint8Array, cuts: readonly number[]): string {
  h.init()
  let at = 0
  for (const cut of [...cuts, bytes.length]) {
    h.update(bytes.subarray(at, cut))
    at = cut
  }
  return h.digest()
}

test('every length from 0 to 2000 bytes matches hash-wasm, both algorithms', () => {
  for (const algo of ALGOS) {
    const h = hasher(algo)
    for (let length = 0; length <= 2000; length++) {
      const bytes = DATA.subarray(length % 61, (length % 61) + length)
      assert.is(h.init().update(bytes).digest(), want(algo, bytes), `${algo}, ${length} bytes`)
    }
  }
})

test('assorted lengths up to 5 MiB match hash-wasm', () => {
  const lengths = [2047, 2048, 2049, 4095, 4096, 4097, 16 * KiB + 1, 64 * KiB - 1, 64 * KiB, 64 * KiB + 1,
    100_000, 256 * KiB, 256 * KiB + 7, MiB - 1, MiB, MiB + 1, 3 * MiB + 17, 5 * MiB + 333]
  for (const algo of ALGOS) {
    for (const length of lengths) {
      const bytes = DATA.subarray(0, length)
      assert.is(hasher(algo).init().update(bytes).digest(), want(algo, bytes), `${algo}, ${length} bytes`)
    }
  }
})

test('streaming with splits at and around the 64, 240, 256 and 1024-byte boundaries matches one update', () => {
  const edges = [1, 16, 63, 64, 65, 127, 128, 129, 239, 240, 241, 255, 256, 257, 320, 1023, 1024, 1025, 1088, 2048, 4096]
  const tails = [0, 1, 7, 63, 64, 65, 200, 257, 1000, 1030, 5000]
  for (const algo of ALGOS) {
    const h = hasher(algo)
    for (const first of edges) {
      for (const tail of tails) {
        const bytes = DATA.subarray(3, 3 + first + tail)
        const expected = want(algo, bytes)
        assert.is(digestInPieces(h, bytes, [first]), expected, `${algo}: ${first} + ${tail}`)
        // The same boundary reached by a run of small pieces, then the rest at once.
        const small = Array.from({ length: Math.floor(first / 7) }, (_, i) => 7 * (i + 1))
        assert.is(digestInPieces(h, bytes, [...small, first]), expected, `${algo}: 7-byte pieces to ${first}, + ${tail}`)
      }
    }
  }
})

test('streaming with random split points matches hash-wasm', () => {
  const r = rng(42)
  for (const algo of ALGOS) {
    const h = hasher(algo)
    for (let round = 0; round < 400; round++) {
      const length = round < 300 ? r.next(6000) : r.next(3 * MiB)
      const bytes = DATA.subarray(r.next(64), length)
      const cuts = new Set<number>()
      const pieces = r.next(round % 3 === 0 ? 40 : 6)
      const scale = [bytes.length, 300, 70][round % 3] as number
      for (let at = 0, i = 0; i < pieces; i++) {
        at += r.next(scale + 1)
        if (at < bytes.length) cuts.add(at)
      }
      const sorted = [...cuts].sort((a, b) => a - b)
      assert.is(digestInPieces(h, bytes, sorted), want(algo, bytes), `${algo}, ${bytes.length} bytes cut at ${sorted.join(',')}`)
    }
  }
})

test('digest leaves the state as it was: more updates may follow', () => {
  for (const algo of ALGOS) {
    const h = hasher(algo).init()
    let at = 0
    for (const step of [0, 100, 140, 16, 700, 3000, 1, 70_000]) {
      h.update(DATA.subarray(at, at + step))
      at += step
      assert.is(h.digest(), want(algo, DATA.subarray(0, at)), `${algo} after ${at} bytes`)
    }
    assert.equal(h.digest('binary'), Uint8Array.from(Buffer.from(want(algo, DATA.subarray(0, at)), 'hex')))
  }
})

test('hashers of both algorithms and several instances keep separate states', () => {
  const other = Xxh3Simd.createSync('xxh3')
  const a = hasher('xxh3').init()
  const b = hasher('xxh128').init()
  other.init()
  for (let at = 0; at < 300_000; at += 10_000) {
    a.update(DATA.subarray(at, at + 10_000))
    b.update(DATA.subarray(at, at + 10_000))
    other.update(DATA.subarray(at + 1, at + 10_001))
  }
  assert.is(a.digest(), want('xxh3', DATA.subarray(0, 300_000)))
  assert.is(b.digest(), want('xxh128', DATA.subarray(0, 300_000)))
  assert.is(other.digest(), want('xxh3', DATA.subarray(1, 300_001)))
  assert.is(a.digestSize, 8)
  assert.is(b.digestSize, 16)
})

test('the in-place API hashes bytes read straight into the aligned input area', () => {
  const dir = makeTempDir('xxh3-simd')
  try {
    const file = join(dir, 'data.bin')
    const size = 3 * MiB + 4097
    writeFileSync(file, DATA.subarray(0, size))
    for (const algo of ALGOS) {
      const h = Xxh3Simd.createSync(algo)
      const small = h.input(100)
      const start = small.byteOffset
      assert.is(start % 4096, 0)
      assert.ok(h.inputCapacity() < size, 'the memory has to grow')
      const view = h.input(size)
      assert.ok(view.length === size && h.inputCapacity() >= size)
      assert.is(view.byteOffset, start)
      assert.is(small.length, 0, 'growth detaches the old view')
      const fd = openSync(file, 'r')
      try {
        for (let done = 0; done < size; ) done += readSync(fd, view, done, size - done, done)
      } finally {
        closeSync(fd)
      }
      assert.is(h.init().updateInput(0, size).digest(), want(algo, DATA.subarray(0, size)), `${algo} whole file`)
      // In place from an offset, in pieces, mixed with copied pieces.
      h.init().updateInput(5, 1000).update(DATA.subarray(1005, 1300)).updateInput(1300, 2 * MiB).updateInput(1300 + 2 * MiB, 1)
      assert.is(h.digest(), want(algo, DATA.subarray(5, 1301 + 2 * MiB)), `${algo} mixed`)
      assert.is(h.init().updateInput(size, 0).digest(), want(algo, new Uint8Array(0)))
    }
  } finally {
    removeTempDir(dir)
  }
})

test('bad input-area arguments throw a RangeError', () => {
  const h = Xxh3Simd.createSync('xxh3')
  const capacity = h.inputCapacity()
  assert.throws(() => h.updateInput(0, capacity + 1), RangeError)
  assert.throws(() => h.updateInput(-1, 1), RangeError)
  assert.throws(() => h.updateInput(0.5, 1), RangeError)
  assert.throws(() => h.input(-1), RangeError)
  assert.throws(() => h.input(8 * 1024 * MiB), RangeError)
})

/** The first 16- or 32-digit hex number in xxhsum's output (`XXH3 (f) = HEX`, `XXH3_HEX  f` or `HEX  f`). */
function xxhsumDigest(args: string[], file: string, digits: number): string | null {
  const run = spawnSync('xxhsum', [...args, file], { encoding: 'utf8' })
  if (run.error || run.status !== 0) return null
  const match = new RegExp(`(?:^|[^0-9a-f])([0-9a-f]{${digits}})(?![0-9a-f])`).exec(run.stdout.replace(file, ''))
  return match?.[1] ?? null
}

test('digests equal xxhsum -H3 and xxhsum -H2 of the same file', () => {
  if (spawnSync('xxhsum', ['--version']).error) return logSkip('xxhsum is not installed')
  const dir = makeTempDir('xxh3-simd-xxhsum')
  try {
    for (const size of [0, 5, 200, 241, 4096 + 65, 2 * MiB + 3]) {
      const file = join(dir, `data-${size}.bin`)
      const bytes = DATA.subarray(7, 7 + size)
      writeFileSync(file, bytes)
      assert.is(hasher('xxh3').init().update(bytes).digest(), xxhsumDigest(['-H3'], file, 16), `xxh3, ${size} bytes`)
      assert.is(hasher('xxh128').init().update(bytes).digest(), xxhsumDigest(['-H2'], file, 32), `xxh128, ${size} bytes`)
    }
  } finally {
    removeTempDir(dir)
  }
})

test('the committed native/wasm/xxh3.wasm is what native/wasm/xxh3.c builds to', () => {
  const clang = ['clang', ...Array.from({ length: 7 }, (_, i) => `clang-${20 - i}`)].find((c) => !spawnSync(c, ['--version']).error)
  if (!clang) return logSkip('clang is not installed (apt-get install clang lld)')
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'build-wasm.mjs'), '--check'], { encoding: 'utf8' })
  assert.is(r.status, 0, `${r.stdout}${r.stderr}`)
})

test.run()
