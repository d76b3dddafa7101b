import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'

import { mountTmpfs, unmount } from './helpers/mounts.js'
import { logSkip, skipUnlessRoot } from './helpers/root.js'
import { fsTypeOf, readRange } from './helpers/tmp.js'
import { nativeBackend, withTempDir } from './helpers/native.js'

/** Writes random bytes to path, zeroes [offset, +length) with zeroRange, returns (answer, before, after). */
function zeroFile(path: string, sizeBytes: number, offset: number, length: number) {
  const before = randomBytes(sizeBytes)
  writeFileSync(path, before)
  const io = nativeBackend()
  const fd = io.open(path, { write: true, create: false, direct: false })
  let answer: boolean
  try {
    answer = io.zeroRange(fd, offset, length)
  } finally {
    io.close(fd)
  }
  return { answer, before, after: readRange(path, 0, sizeBytes + 4096) }
}

test('zeroRange on an ext4 file zeroes exactly the range, even unaligned, and leaves the bytes around it', async () => {
  await withTempDir('io-native-zero', (dir) => {
    if (fsTypeOf(dir) !== 'ext4') return logSkip(`temp dir is on ${fsTypeOf(dir)}, not ext4`)
    const { answer, before, after } = zeroFile(join(dir, 'f'), 256 * 1024, 4097, 70_000)
    assert.is(answer, true)
    assert.is(after.length, before.length)
    assert.ok(after.subarray(0, 4097).equals(before.subarray(0, 4097)))
    assert.ok(after.subarray(4097, 4097 + 70_000).equals(Buffer.alloc(70_000)))
    assert.ok(after.subarray(4097 + 70_000).equals(before.subarray(4097 + 70_000)))
  })
})

test('zeroRange past the end of an ext4 file extends it with zeros', async () => {
  await withTempDir('io-native-zero', (dir) => {
    if (fsTypeOf(dir) !== 'ext4') return logSkip(`temp dir is on ${fsTypeOf(dir)}, not ext4`)
    const { answer, before, after } = zeroFile(join(dir, 'f'), 8192, 6000, 4000)
    assert.is(answer, true)
    assert.is(after.length, 10_000)
    assert.ok(after.subarray(0, 6000).equals(before.subarray(0, 6000)))
    assert.ok(after.subarray(6000).equals(Buffer.alloc(4000)))
  })
})

test('zeroRange of zero bytes answers true and changes nothing', async () => {
  await withTempDir('io-native-zero', (dir) => {
    const { answer, before, after } = zeroFile(join(dir, 'f'), 4096, 100, 0)
    assert.is(answer, true)
    assert.ok(after.equals(before))
  })
})

// shmem_fallocate knows only PUNCH_HOLE and plain allocation: ZERO_RANGE is
// EOPNOTSUPP on tmpfs (checked on 6.18), so the caller must write zeros.
test('zeroRange on tmpfs answers false and leaves the file as it was', async () => {
  const why = skipUnlessRoot('mounts a tmpfs')
  if (why) return logSkip(why)
  await withTempDir('io-native-zero', async (dir) => {
    const mnt = join(dir, 'tmpfs')
    await mountTmpfs(mnt, 16 * 1024 * 1024)
    try {
      const { answer, before, after } = zeroFile(join(mnt, 'f'), 64 * 1024, 4096, 8192)
      assert.is(answer, false)
      assert.ok(after.equals(before))
    } finally {
      await unmount(mnt)
    }
  })
})

test.run()
