import { existsSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createClient, type CopyClient } from '../src/index.js'
import { cmpFiles, makeTempDir, removeTempDir, writeRandomFile } from './helpers/tmp.js'

const test = suite('copy sizes and offsets')
let client: CopyClient
let dir: string

test.before(async () => {
  client = await createClient({ threads: 4, chunkBytes: 1024 * 1024 })
})
test.after(async () => {
  await client.destroy()
})
test.before.each(() => {
  dir = makeTempDir('copy-sizes-')
})
test.after.each(() => {
  removeTempDir(dir)
})

const MiB = 1024 * 1024
const sizes = [0, 1, 511, 4096, MiB + 7, 64 * MiB]
// [source offset, destination offset]: aligned, both unaligned alike, and of different page phases.
const placements: Array<[number, number]> = [[0, 0], [4096, 8192], [513, 1025], [7, 4096 * 3 + 1]]

for (const size of sizes) {
  for (const [srcOffset, dstOffset] of placements) {
    if (size === 64 * MiB && srcOffset === 4096) continue // the three others cover 64 MiB
    test(`a copy of ${size} bytes from offset ${srcOffset} to offset ${dstOffset} is byte-exact`, async () => {
      const src = join(dir, 'src.img')
      const dst = join(dir, 'dst.img')
      writeRandomFile(src, srcOffset + size + 100, size)
      const job = client.copy({ path: src, offset: srcOffset, length: size }, [{ path: dst, offset: dstOffset }], { verify: 'hash' })
      const r = await job.result
      assert.is(r.ok, true, JSON.stringify(r.errors))
      assert.is(r.totalBytes, size)
      assert.is(r.completedBytes, size)
      assert.ok(existsSync(dst), 'destination created')
      // A new file ends where the copy ends: nothing is written past the range.
      assert.is(statSync(dst).size, size === 0 ? 0 : dstOffset + size)
      assert.ok(cmpFiles(src, dst, { aOffset: srcOffset, bOffset: dstOffset, length: size }))
      if (size > 0) assert.match(r.digest ?? '', /^[0-9a-f]{16}$/)
    })
  }
}

test('a copy to three destinations at three offsets makes three byte-exact copies from one read per chunk', async () => {
  const src = join(dir, 'src.img')
  writeRandomFile(src, 5 * MiB + 3, 42)
  const dsts = [0, 1, 2].map((i) => join(dir, `dst${i}.img`))
  const offsets = [0, 4096, 777]
  const r = await client.copy({ path: src, offset: 3 }, dsts.map((path, i) => ({ path, offset: offsets[i] ?? 0 })), { verify: 'readback' }).result
  assert.is(r.ok, true, JSON.stringify(r.errors))
  assert.is(r.writeErr, 0)
  dsts.forEach((d, i) => assert.ok(cmpFiles(src, d, { aOffset: 3, bOffset: offsets[i] ?? 0, length: 5 * MiB }), d))
  // 5 MiB from offset 3 in 1 MiB chunks anchored on the source: 6 chunks.
  assert.is(r.chunks.length, 6)
})

test('aligned middles of aligned copies go through O_DIRECT on a disk file system', async () => {
  const src = join(dir, 'src.img')
  const dst = join(dir, 'dst.img')
  writeRandomFile(src, 8 * MiB, 7)
  const r = await client.copy({ path: src }, [{ path: dst }]).result
  assert.is(r.ok, true)
  assert.equal(r.direct, { source: true, dests: [true] })
  // Every byte was read and written with O_DIRECT: 8 MiB read + 8 MiB written.
  assert.is(r.directBytes, 16 * MiB)
})

test.run()
