import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'

import { FsBackend } from '../src/io/index.js'
import type { IoBackend } from '../src/io/types.js'
import { attachLoop, detachLoop } from './helpers/loop.js'
import { unmount } from './helpers/mounts.js'
import { nativeBackend, withTempDir } from './helpers/native.js'
import { logSkip, skipUnlessRoot } from './helpers/root.js'
import { fsTypeOf, readRange } from './helpers/tmp.js'

const KiB = 1024

/** Writes random bytes to path, punches [offset, +length) through io, returns (answer, before, after). */
function punchFile(io: IoBackend, path: string, sizeBytes: number, offset: number, length: number) {
  const before = randomBytes(sizeBytes)
  writeFileSync(path, before)
  const fd = io.open(path, { write: true, create: false, direct: false })
  let answer: boolean
  try {
    answer = io.punchHole(fd, offset, length)
  } finally {
    io.close(fd)
  }
  return { answer, before, after: readRange(path, 0, sizeBytes + 4096) }
}

test('punchHole on an ext4 file frees exactly the range, which reads as zeros, and keeps the size and the bytes around it', async () => {
  await withTempDir('io-native-punch', (dir) => {
    if (fsTypeOf(dir) !== 'ext4') return logSkip(`temp dir is on ${fsTypeOf(dir)}, not ext4`)
    const path = join(dir, 'f')
    const { answer, before, after } = punchFile(nativeBackend(), path, 512 * KiB, 64 * KiB, 128 * KiB)
    assert.is(answer, true)
    assert.is(after.length, before.length)
    assert.ok(after.subarray(0, 64 * KiB).equals(before.subarray(0, 64 * KiB)))
    assert.ok(after.subarray(64 * KiB, 192 * KiB).equals(Buffer.alloc(128 * KiB)))
    assert.ok(after.subarray(192 * KiB).equals(before.subarray(192 * KiB)))
    assert.is(statSync(path).blocks * 512, 384 * KiB, 'the punched blocks are freed')
  })
})

test('punchHole past the end of a file answers true and does not extend it', async () => {
  await withTempDir('io-native-punch', (dir) => {
    const { answer, before, after } = punchFile(nativeBackend(), join(dir, 'f'), 8192, 4096, 64 * KiB)
    assert.is(answer, true)
    assert.is(after.length, 8192)
    assert.ok(after.subarray(0, 4096).equals(before.subarray(0, 4096)))
    assert.ok(after.subarray(4096).equals(Buffer.alloc(4096)))
  })
})

test('punchHole on ramfs, which has no fallocate, answers false and leaves the file as it was', async () => {
  const why = skipUnlessRoot('mounts ramfs')
  if (why) return logSkip(why)
  await withTempDir('io-native-punch', async (dir) => {
    const mnt = join(dir, 'ramfs')
    mkdirSync(mnt)
    execFileSync('mount', ['-t', 'ramfs', 'ramfs', mnt])
    try {
      const { answer, before, after } = punchFile(nativeBackend(), join(mnt, 'f'), 64 * KiB, 4096, 8192)
      assert.is(answer, false)
      assert.ok(after.equals(before))
    } finally {
      await unmount(mnt)
    }
  })
})

test('punchHole on a loop device unmaps the range in its backing file; unaligned, it answers false', async () => {
  const why = skipUnlessRoot('attaches a loop device')
  if (why) return logSkip(why)
  await withTempDir('io-native-punch', async (dir) => {
    const backing = join(dir, 'backing.img')
    const before = randomBytes(4 * 1024 * KiB)
    writeFileSync(backing, before)
    const dev = await attachLoop(backing)
    const io = nativeBackend()
    try {
      const fd = io.open(dev, { write: true, create: false, direct: false })
      try {
        assert.is(io.punchHole(fd, 100, 4096), false)
        assert.is(io.punchHole(fd, 1024 * KiB, 1024 * KiB), true)
      } finally {
        io.close(fd)
      }
    } finally {
      await detachLoop(dev)
    }
    const after = readRange(backing, 0, before.length)
    assert.ok(after.subarray(0, 1024 * KiB).equals(before.subarray(0, 1024 * KiB)))
    assert.ok(after.subarray(1024 * KiB, 2048 * KiB).equals(Buffer.alloc(1024 * KiB)))
    assert.ok(after.subarray(2048 * KiB).equals(before.subarray(2048 * KiB)))
    assert.is(statSync(backing).blocks * 512, 3 * 1024 * KiB, 'the backing file lost the unmapped MiB')
  })
})

test('the fs backend has no punch hole: it answers false and changes nothing', async () => {
  await withTempDir('io-native-punch', (dir) => {
    const { answer, before, after } = punchFile(new FsBackend(), join(dir, 'f'), 64 * KiB, 0, 64 * KiB)
    assert.is(answer, false)
    assert.ok(after.equals(before))
  })
})

test.run()
