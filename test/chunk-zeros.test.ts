import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'

import { isZero, MIN_HOLE_BYTES, sourceIsHole, zeroRuns } from '../src/chunk/zero-runs.js'
import { FsBackend } from '../src/io/index.js'
import type { IoBackend } from '../src/io/types.js'
import { nativeBackend, withTempDir } from './helpers/native.js'
import { writeSparseFile } from './helpers/sparse.js'

const KiB = 1024
const MiB = 1024 * KiB
const P = 4096

/** A chunk of random bytes with the given relative ranges zeroed. */
function chunk(length: number, zeros: Array<[number, number]>): Buffer {
  const buf = randomBytes(length)
  for (const [a, b] of zeros) buf.fill(0, a, b)
  // No accidental zero blocks: every 512th byte outside the zeros is non-zero.
  for (let i = 0; i < length; i += 512) if (!zeros.some(([a, b]) => i >= a && i < b)) buf[i] = 1
  return buf
}

test('isZero sees a single non-zero byte anywhere, at the start, the end, and past 64 KiB', () => {
  const buf = Buffer.alloc(3 * MIN_HOLE_BYTES + 17)
  assert.ok(isZero(buf, 0, buf.length))
  assert.ok(isZero(buf, 5, 0))
  for (const at of [0, 63, 64, MIN_HOLE_BYTES - 1, MIN_HOLE_BYTES, 2 * MIN_HOLE_BYTES + 5, buf.length - 1]) {
    buf[at] = 7
    assert.not.ok(isZero(buf, 0, buf.length), `a non-zero byte at ${at}`)
    assert.ok(at === 0 || isZero(buf, 0, at), `bytes before ${at}`)
    buf[at] = 0
  }
})

test('a chunk of zeros is one run, whatever its length and phase', () => {
  assert.equal(zeroRuns(Buffer.alloc(MiB), 0, MiB, 0, P), [0, MiB])
  assert.equal(zeroRuns(Buffer.alloc(10_000), 100, 9000, 12_345, P), [0, 9000])
})

test('zero runs are whole blocks on absolute offsets, kept from 64 KiB, and partial blocks at the chunk edges count', () => {
  // The chunk starts 1000 bytes into a block: relative block edges are at 3096 + k * 4096.
  const src = 5 * P + 1000
  const buf = chunk(MiB, [
    [0, 3096 + 16 * P], // the partial first block and 16 whole ones
    [3096 + 20 * P + 1, 3096 + 40 * P], // not from a block edge: its first block holds data
    [3096 + 50 * P, 3096 + 65 * P], // 15 blocks: 60 KiB, too short
    [MiB - 70 * KiB, MiB], // up to the chunk's end
  ])
  assert.equal(zeroRuns(buf, 0, MiB, src, P), [
    0, 3096 + 16 * P,
    3096 + 21 * P, 3096 + 40 * P,
    MiB - 70 * KiB + (P - ((src + MiB - 70 * KiB) % P)) % P, MiB,
  ])
})

test('data in every 64 KiB leaves no run', () => {
  const buf = Buffer.alloc(MiB)
  for (let at = 0; at < MiB; at += MIN_HOLE_BYTES - P) buf[at + 10] = 1
  assert.equal(zeroRuns(buf, 0, MiB, 0, P), [])
})

for (const [name, io] of [['the native backend', () => nativeBackend()], ['the fs backend', () => new FsBackend()]] as const) {
  test(`sourceIsHole through ${name}: a chunk is a hole only if no byte of it is data and the file reaches its end`, async () => {
    await withTempDir('chunk-zeros', (dir) => {
      const path = join(dir, 'sparse.img')
      writeSparseFile(path, 8 * MiB, [{ offset: 3 * MiB + 5, length: 10 }])
      const backend: IoBackend = io()
      const fd = backend.open(path, { write: false, create: false, direct: false })
      try {
        const at = (offset: number, length: number) => sourceIsHole(backend, { path, fd, directFd: -1, alignBytes: 0, uncachedEdges: false, offsetBytes: offset }, length)
        const native = backend.info.kind === 'native'
        assert.is(at(0, MiB), native)
        assert.is(at(2 * MiB, MiB), native, 'the chunk just before the data')
        assert.is(at(3 * MiB, MiB), false, 'the chunk with the data')
        assert.is(at(2 * MiB, MiB + 6), false, 'a chunk ending inside the data')
        assert.is(at(4 * MiB, 4 * MiB), native, 'the hole up to the end of the file')
        assert.is(at(7 * MiB, 2 * MiB), false, 'a chunk past the end of the file is read, and fails there')
      } finally {
        backend.close(fd)
      }
    })
  })
}

test.run()
