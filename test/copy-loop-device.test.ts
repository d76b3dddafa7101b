import { execFileSync } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createClient, type CopyClient } from '../src/index.js'
import { attachLoop, detachLoop } from './helpers/loop.js'
import { unmount } from './helpers/mounts.js'
import { logSkip, skipUnlessRoot } from './helpers/root.js'
import { cmpFiles, makeTempDir, readRange, removeTempDir, writePatternFile, writeRandomFile } from './helpers/tmp.js'

const test = suite('block devices')
let client: CopyClient
let dir: string
const MiB = 1024 * 1024

test.before(async () => {
  client = await createClient({ threads: 4, chunkBytes: MiB })
})
test.after(async () => {
  await client.destroy()
})
test.before.each(() => {
  dir = makeTempDir('copy-loop-')
})
test.after.each(() => {
  removeTempDir(dir)
})

test('a loop device as the source copies the device bytes, sized by BLKGETSIZE64', async () => {
  const why = skipUnlessRoot('attaches loop devices')
  if (why) return logSkip(why)
  const backing = join(dir, 'backing.img')
  writeRandomFile(backing, 16 * MiB, 5)
  const dev = await attachLoop(backing, { readOnly: true })
  try {
    const dst = join(dir, 'dst.img')
    // No length: the rest of the device, which fstat would call 0 bytes.
    const r = await client.copy({ path: dev, offset: 4096 + 512 }, [{ path: dst }], { verify: 'hash' }).result
    assert.is(r.ok, true, JSON.stringify(r.errors))
    assert.is(r.totalBytes, 16 * MiB - 4608)
    assert.ok(cmpFiles(backing, dst, { aOffset: 4608, bOffset: 0, length: 16 * MiB - 4608 }))
  } finally {
    await detachLoop(dev)
  }
})

test('a loop device as a destination receives exact bytes and keeps the bytes around the range', async () => {
  const why = skipUnlessRoot('attaches loop devices')
  if (why) return logSkip(why)
  const backing = join(dir, 'backing.img')
  writePatternFile(backing, 16 * MiB, 0x5a)
  const src = join(dir, 'src.img')
  writeRandomFile(src, 6 * MiB, 6)
  const dev = await attachLoop(backing)
  const offset = 3 * MiB + 1000
  const length = 5 * MiB + 123
  try {
    const r = await client.copy({ path: src, offset: 11, length }, [{ path: dev, offset }], { verify: 'readback' }).result
    assert.is(r.ok, true, JSON.stringify(r.errors))
    assert.is(r.direct.dests[0], true, 'a block device takes O_DIRECT')
    assert.ok(cmpFiles(src, dev, { aOffset: 11, bOffset: offset, length }))
  } finally {
    await detachLoop(dev)
  }
  // After detach, the backing file shows what reached the device.
  assert.ok(cmpFiles(src, backing, { aOffset: 11, bOffset: offset, length }))
  assert.ok(readRange(backing, 0, offset).every((b) => b === 0x5a))
  assert.ok(readRange(backing, offset + length, 16 * MiB - offset - length).every((b) => b === 0x5a))
})

test('a range past the end of a destination device is refused before any byte is written', async () => {
  const why = skipUnlessRoot('attaches loop devices')
  if (why) return logSkip(why)
  const backing = join(dir, 'backing.img')
  writePatternFile(backing, 4 * MiB, 0x33)
  const src = join(dir, 'src.img')
  writeRandomFile(src, 2 * MiB, 7)
  const dev = await attachLoop(backing)
  try {
    assert.throws(
      () => client.copy({ path: src }, [{ path: dev, offset: 3 * MiB }]),
      (e: Error & { code?: string }) => e.code === 'INVALID_ARGUMENT' && /to\[0\].*end of device/.test(e.message),
    )
  } finally {
    await detachLoop(dev)
  }
  assert.ok(readRange(backing, 0, 4 * MiB).every((b) => b === 0x33))
})

test('a destination device with a mounted file system is refused (EBUSY) and not written', async () => {
  const why = skipUnlessRoot('attaches and mounts a loop device')
  if (why) return logSkip(why)
  const backing = join(dir, 'fs.img')
  writePatternFile(backing, 16 * MiB, 0)
  execFileSync('mkfs.ext4', ['-q', '-F', backing])
  const dev = await attachLoop(backing)
  const mnt = join(dir, 'mnt')
  mkdirSync(mnt)
  execFileSync('mount', [dev, mnt])
  try {
    const src = join(dir, 'src.img')
    writeRandomFile(src, MiB, 8)
    const before = readRange(backing, 0, 2 * MiB)
    assert.throws(() => client.copy({ path: src }, [{ path: dev }]), (e: Error & { code?: string }) => e.code === 'EBUSY')
    assert.ok(readRange(backing, 0, 2 * MiB).equals(before), 'the mounted file system is untouched')
  } finally {
    await unmount(mnt)
    await detachLoop(dev)
  }
})

test('two destination ranges on one device share its exclusive claim', async () => {
  const why = skipUnlessRoot('attaches loop devices')
  if (why) return logSkip(why)
  const backing = join(dir, 'backing.img')
  writePatternFile(backing, 8 * MiB, 0x66)
  const src = join(dir, 'src.img')
  writeRandomFile(src, MiB, 9)
  const dev = await attachLoop(backing)
  try {
    const r = await client.copy({ path: src }, [{ path: dev }, { path: dev, offset: 4 * MiB }], { verify: 'readback' }).result
    assert.is(r.ok, true, JSON.stringify(r.errors))
  } finally {
    await detachLoop(dev)
  }
  assert.ok(cmpFiles(src, backing, { aOffset: 0, bOffset: 0, length: MiB }))
  assert.ok(cmpFiles(src, backing, { aOffset: 0, bOffset: 4 * MiB, length: MiB }))
})

test.run()
