import { statSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createClient, type CopyClient } from '../src/index.js'
import { cmpFiles, makeTempDir, readRange, removeTempDir, writePatternFile, writeRandomFile } from './helpers/tmp.js'

const test = suite('bytes outside the range')
let client: CopyClient
let dir: string
const MiB = 1024 * 1024

test.before(async () => {
  client = await createClient({ threads: 3, chunkBytes: 256 * 1024 })
})
test.after(async () => {
  await client.destroy()
})
test.before.each(() => {
  dir = makeTempDir('copy-around-')
})
test.after.each(() => {
  removeTempDir(dir)
})

test('a copy into the middle of an existing destination leaves every byte around the range untouched', async () => {
  const src = join(dir, 'src.img')
  const dst = join(dir, 'dst.img')
  writeRandomFile(src, 3 * MiB, 1)
  writePatternFile(dst, 6 * MiB, 0xa5)
  const offset = MiB + 1234
  const length = 2 * MiB + 17
  const r = await client.copy({ path: src, offset: 99, length }, [{ path: dst, offset }], { verify: 'readback' }).result
  assert.is(r.ok, true, JSON.stringify(r.errors))
  assert.ok(cmpFiles(src, dst, { aOffset: 99, bOffset: offset, length }))
  const before = readRange(dst, 0, offset)
  const after = readRange(dst, offset + length, 6 * MiB - offset - length)
  assert.ok(before.every((b) => b === 0xa5), 'bytes before the range')
  assert.ok(after.every((b) => b === 0xa5), 'bytes after the range')
  assert.is(statSync(dst).size, 6 * MiB, 'an existing destination is never truncated')
})

test('an existing destination longer than the copy keeps its length and its tail', async () => {
  const src = join(dir, 'src.img')
  const dst = join(dir, 'dst.img')
  writeRandomFile(src, MiB, 2)
  writePatternFile(dst, 4 * MiB, 0x11)
  const r = await client.copy({ path: src }, [{ path: dst }]).result
  assert.is(r.ok, true)
  assert.is(statSync(dst).size, 4 * MiB)
  assert.ok(cmpFiles(src, dst, { length: MiB }))
  assert.ok(readRange(dst, MiB, 3 * MiB).every((b) => b === 0x11))
})

test('a destination may be the source file itself when the byte ranges do not overlap', async () => {
  const file = join(dir, 'self.img')
  writeRandomFile(file, 4 * MiB, 3)
  const r = await client.copy({ path: file, offset: 0, length: MiB + 5 }, [{ path: file, offset: 2 * MiB + 3 }]).result
  assert.is(r.ok, true, JSON.stringify(r.errors))
  assert.ok(cmpFiles(file, file, { aOffset: 0, bOffset: 2 * MiB + 3, length: MiB + 5 }))
})

test.run()
