import { closeSync, openSync, statSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createClient, type CopyClient } from '../src/index.js'
import { allocatedBytes, writeSparseFile } from './helpers/sparse.js'
import { cmpFiles, makeTempDir, readRange, removeTempDir, writePatternFile, writeRandomFile } from './helpers/tmp.js'

const test = suite('sparse copies leave zeros as holes')
let client: CopyClient
let dir: string
const KiB = 1024
const MiB = 1024 * KiB
const GiB = 1024 * MiB
// Zeros the copy still writes: up to a 64 KiB run (too short for a hole)
// plus a partial page on each side of each piece of data, and the file
// system's extent blocks. Measured: 28 KiB over the data for the 1 GiB case.
const SLACK = 512 * KiB

test.before(async () => {
  client = await createClient({ threads: 4, chunkBytes: MiB })
})
test.after(async () => {
  await client.destroy()
})
test.before.each(() => {
  dir = makeTempDir('copy-sparse-')
})
test.after.each(() => {
  removeTempDir(dir)
})

test('a sparse 1 GiB source with 10 MiB of data copies to about 10 MiB on disk, byte-exact and the same size', async () => {
  const src = join(dir, 'src.img')
  const dst = join(dir, 'dst.img')
  // Unaligned pieces, one across several chunk edges, and a hole of 4099
  // bytes at the end that only the file's size can carry.
  const data = writeSparseFile(src, GiB, [
    { offset: 12_345, length: 3 * MiB },
    { offset: 300 * MiB + 777, length: 2 * MiB },
    { offset: 700 * MiB + 4095, length: 4 * MiB },
    { offset: GiB - MiB - 4099, length: MiB },
  ])
  assert.is(data, 10 * MiB)
  const r = await client.copy({ path: src }, [{ path: dst }], { sparse: true }).result
  assert.is(r.ok, true, JSON.stringify(r.errors))
  assert.is(statSync(dst).size, GiB)
  assert.ok(cmpFiles(src, dst), 'the destination reads back byte for byte as the source')
  const used = allocatedBytes(dst)
  assert.ok(used >= data && used <= data + SLACK, `du of the destination: ${used} bytes for ${data} of data`)
  assert.ok(r.holeBytes >= GiB - data - SLACK && r.holeBytes <= GiB - data, `holeBytes ${r.holeBytes}`)
  assert.is(r.completedBytes, GiB)
})

test('an existing destination full of data gets holes where the source has zeros, and reads back identical', async () => {
  const src = join(dir, 'src.img')
  const dst = join(dir, 'dst.img')
  const size = 64 * MiB + 5000
  const data = writeSparseFile(src, size, [
    { offset: 0, length: 100 },
    { offset: 3 * MiB + 1, length: 5 * MiB },
    // Written zeros: allocated in the source, holes in the destination.
    { offset: 20 * MiB, length: 10 * MiB, zeros: true },
    { offset: 40 * MiB - 7, length: 3 * MiB },
  ])
  writeRandomFile(dst, size, 9)
  assert.is(allocatedBytes(dst), size + 4096 - (size % 4096))
  const r = await client.copy({ path: src }, [{ path: dst }], { sparse: true }).result
  assert.is(r.ok, true, JSON.stringify(r.errors))
  assert.ok(cmpFiles(src, dst))
  assert.is(statSync(dst).size, size)
  const used = allocatedBytes(dst)
  assert.ok(used <= data + SLACK, `du of the destination: ${used} bytes for ${data} of data`)
  assert.ok(r.holeBytes >= size - data - SLACK, `holeBytes ${r.holeBytes}`)
})

test('zeros written in a source without holes become holes in the destination', async () => {
  const src = join(dir, 'src.img')
  const dst = join(dir, 'dst.img')
  const size = 32 * MiB
  writeRandomFile(src, size, 3)
  // Most of it overwritten with zeros: every block stays allocated.
  const fd = openSync(src, 'r+')
  for (const z of [{ offset: MiB + 3, length: 12 * MiB }, { offset: 16 * MiB, length: 15 * MiB }]) {
    writeSync(fd, Buffer.alloc(z.length), 0, z.length, z.offset)
  }
  closeSync(fd)
  assert.is(allocatedBytes(src), size, 'the source has no holes')
  const r = await client.copy({ path: src }, [{ path: dst }], { sparse: true }).result
  assert.is(r.ok, true, JSON.stringify(r.errors))
  assert.ok(cmpFiles(src, dst))
  const data = size - 27 * MiB
  const used = allocatedBytes(dst)
  assert.ok(used >= data && used <= data + SLACK, `du of the destination: ${used} bytes for ${data} of data`)
})

test('two destinations at another page phase than the source both get the holes and the exact bytes', async () => {
  const src = join(dir, 'src.img')
  const [a, b] = [join(dir, 'a.img'), join(dir, 'b.img')]
  const size = 24 * MiB
  const data = writeSparseFile(src, size, [{ offset: 5 * MiB + 99, length: 2 * MiB }, { offset: 17 * MiB, length: MiB }])
  writeRandomFile(b, 30 * MiB, 4)
  const r = await client.copy({ path: src, offset: 100 }, [{ path: a, offset: 512 }, { path: b, offset: 3 * MiB + 1000 }], { sparse: true }).result
  assert.is(r.ok, true, JSON.stringify(r.errors))
  assert.ok(cmpFiles(src, a, { aOffset: 100, bOffset: 512, length: size - 100 }))
  assert.ok(cmpFiles(src, b, { aOffset: 100, bOffset: 3 * MiB + 1000, length: size - 100 }))
  assert.ok(allocatedBytes(a) <= data + SLACK, `du of a: ${allocatedBytes(a)}`)
  // b keeps its own 3 MiB in front and its last bytes after the range.
  assert.ok(allocatedBytes(b) <= data + 3 * MiB + 6 * MiB + SLACK, `du of b: ${allocatedBytes(b)}`)
  assert.ok(r.holeBytes >= size - data - SLACK, `holeBytes ${r.holeBytes}`)
})

test('a sparse copy into the middle of an existing file punches only inside the range and leaves every byte around it', async () => {
  const src = join(dir, 'src.img')
  const dst = join(dir, 'dst.img')
  writeSparseFile(src, 8 * MiB, [{ offset: 2 * MiB, length: 4096 }])
  writePatternFile(dst, 16 * MiB, 0xa5)
  const offset = 4 * MiB + 1234
  const length = 8 * MiB - 777
  const r = await client.copy({ path: src, offset: 777, length }, [{ path: dst, offset }], { sparse: true, verify: 'readback' }).result
  assert.is(r.ok, true, JSON.stringify(r.errors))
  assert.ok(cmpFiles(src, dst, { aOffset: 777, bOffset: offset, length }))
  assert.ok(readRange(dst, 0, offset).every((x) => x === 0xa5), 'bytes before the range')
  assert.ok(readRange(dst, offset + length, 16 * MiB - offset - length).every((x) => x === 0xa5), 'bytes after the range')
  assert.is(statSync(dst).size, 16 * MiB)
  assert.ok(allocatedBytes(dst) <= 16 * MiB - length + SLACK, `du of the destination: ${allocatedBytes(dst)}`)
})

test.run()
