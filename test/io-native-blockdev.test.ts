import { randomBytes } from 'node:crypto'
import { readFileSync, statSync, writeFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'

import { FsBackend } from '../src/io/fs-backend.js'
import { attachLoop, detachLoop, type AttachLoopOptions } from './helpers/loop.js'
import { logSkip, skipUnlessRoot } from './helpers/root.js'
import { makeTempDir, readRange, removeTempDir } from './helpers/tmp.js'
import { nativeBackend } from './helpers/native.js'

const MiB = 1024 * 1024

/** Runs fn with a loop device over a fresh file of `content`, or logs why it cannot. */
async function withLoop(
  content: Buffer, options: AttachLoopOptions, fn: (device: string) => void,
): Promise<void> {
  const why = skipUnlessRoot('attaches loop devices')
  if (why) return logSkip(why)
  const dir = makeTempDir('io-native-blockdev')
  try {
    const image = join(dir, 'image')
    writeFileSync(image, content)
    const device = await attachLoop(image, options)
    try {
      fn(device)
    } finally {
      await detachLoop(device)
    }
  } finally {
    removeTempDir(dir)
  }
}

function sysfsQueue(device: string, name: string): number {
  return Number(readFileSync(`/sys/block/${basename(device)}/queue/${name}`, 'utf8'))
}

for (const sectorBytes of [512, 4096]) {
  test(`blockInfo and directAlignment on a loop device with ${sectorBytes}-byte sectors report its geometry`, async () => {
    await withLoop(Buffer.alloc(8 * MiB), { sectorBytes }, (device) => {
      const io = nativeBackend()
      const fd = io.open(device, { write: false, create: false, direct: false })
      try {
        const info = io.blockInfo(fd)
        assert.equal(info, {
          isBlockDevice: true,
          sizeBytes: 8 * MiB,
          logicalBlockBytes: sectorBytes,
          physicalBlockBytes: sysfsQueue(device, 'physical_block_size'),
          dev: statSync(device).rdev,
          ino: statSync(device).ino,
        })
        assert.equal(io.directAlignment(fd), { memAlignBytes: sectorBytes, offsetAlignBytes: sectorBytes, reported: true })
      } finally {
        io.close(fd)
      }
    })
  })
}

test('the fs backend reads the same loop device geometry from sysfs as the native ioctls', async () => {
  await withLoop(Buffer.alloc(3 * MiB), { sectorBytes: 4096 }, (device) => {
    const io = nativeBackend()
    const fs = new FsBackend()
    const a = io.open(device, { write: false, create: false, direct: false })
    const b = fs.open(device, { write: false, create: false, direct: false })
    try {
      assert.equal(fs.blockInfo(b), io.blockInfo(a))
    } finally {
      io.close(a)
      fs.close(b)
    }
  })
})

test('O_DIRECT pwrite and pread on a loop device round-trip byte-exact', async () => {
  await withLoop(Buffer.alloc(4 * MiB), {}, (device) => {
    const io = nativeBackend()
    const data = randomBytes(MiB)
    const fd = io.open(device, { write: true, create: false, direct: true })
    try {
      const buf = io.allocAligned(MiB, 4096)
      data.copy(buf)
      io.pwrite(fd, buf, 0, MiB, 512)
      io.fdatasync(fd)
      buf.fill(0)
      assert.is(io.pread(fd, buf, 0, MiB, 512), MiB)
      assert.ok(buf.equals(data))
      // Reads stop at the end of the device like at the end of a file.
      assert.is(io.pread(fd, buf, 0, MiB, 4 * MiB - 4096), 4096)
    } finally {
      io.close(fd)
    }
  })
})

test('zeroRange on a loop device zeroes an aligned range with BLKZEROOUT and answers false for an unaligned one', async () => {
  const before = randomBytes(4 * MiB)
  await withLoop(before, {}, (device) => {
    const io = nativeBackend()
    const fd = io.open(device, { write: true, create: false, direct: false })
    try {
      assert.is(io.zeroRange(fd, 100, 4096), false)
      assert.is(io.zeroRange(fd, 4096, 65536 + 512), true)
    } finally {
      io.close(fd)
    }
    const after = readRange(device, 0, 4 * MiB)
    assert.ok(after.subarray(0, 4096).equals(before.subarray(0, 4096)))
    assert.ok(after.subarray(4096, 4096 + 65536 + 512).equals(Buffer.alloc(65536 + 512)))
    assert.ok(after.subarray(4096 + 65536 + 512).equals(before.subarray(4096 + 65536 + 512)))
  })
})

test.run()
