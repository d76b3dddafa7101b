import { randomBytes } from 'node:crypto'
import { statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'

import { makeTempDir, readRange, removeTempDir } from './helpers/tmp.js'
import { nativeBackend } from './helpers/native.js'

function withDir(fn: (dir: string) => void): void {
  const dir = makeTempDir('io-native-roundtrip')
  try {
    fn(dir)
  } finally {
    removeTempDir(dir)
  }
}

test('pwrite then pread round-trip byte-exact at unaligned offsets', () => {
  withDir((dir) => {
    const path = join(dir, 'f')
    const io = nativeBackend()
    const data = randomBytes(3 * 1024 * 1024 + 17)
    const fd = io.open(path, { write: true, create: true, direct: false })
    try {
      io.pwrite(fd, data, 5, data.length - 5, 12345)
      const back = Buffer.alloc(data.length + 10, 0xcc)
      assert.is(io.pread(fd, back, 3, data.length - 5, 12345), data.length - 5)
      assert.ok(back.subarray(3, 3 + data.length - 5).equals(data.subarray(5)))
      assert.is(back[2], 0xcc)
      assert.is(back[3 + data.length - 5], 0xcc)
    } finally {
      io.close(fd)
    }
    assert.ok(readRange(path, 12345, data.length).equals(data.subarray(5)))
    assert.ok(readRange(path, 0, 12345).equals(Buffer.alloc(12345)))
  })
})

test('pread stops at end of file, returns the short count and leaves the rest of the buffer alone', () => {
  withDir((dir) => {
    const path = join(dir, 'f')
    const data = randomBytes(1000)
    writeFileSync(path, data)
    const io = nativeBackend()
    const fd = io.open(path, { write: false, create: false, direct: false })
    try {
      const buf = Buffer.alloc(4096, 0x5a)
      assert.is(io.pread(fd, buf, 0, 4096, 900), 100)
      assert.ok(buf.subarray(0, 100).equals(data.subarray(900)))
      assert.ok(buf.subarray(100).equals(Buffer.alloc(3996, 0x5a)))
      assert.is(io.pread(fd, buf, 0, 10, 1000), 0)
      assert.is(io.pread(fd, buf, 0, 10, 2 ** 40), 0)
      assert.is(io.pread(fd, buf, 0, 0, 0), 0)
    } finally {
      io.close(fd)
    }
  })
})

test('pwrite never touches bytes outside its range', () => {
  withDir((dir) => {
    const path = join(dir, 'f')
    const before = randomBytes(64 * 1024)
    writeFileSync(path, before)
    const io = nativeBackend()
    const patch = Buffer.alloc(1000, 0xff)
    const fd = io.open(path, { write: true, create: false, direct: false })
    try {
      io.pwrite(fd, patch, 0, patch.length, 4097)
      io.fdatasync(fd)
    } finally {
      io.close(fd)
    }
    const after = readRange(path, 0, 128 * 1024)
    assert.is(after.length, before.length)
    assert.ok(after.subarray(0, 4097).equals(before.subarray(0, 4097)))
    assert.ok(after.subarray(4097, 5097).equals(patch))
    assert.ok(after.subarray(5097).equals(before.subarray(5097)))
  })
})

test('a pwrite beyond the end of file extends it with a zero-filled gap', () => {
  withDir((dir) => {
    const path = join(dir, 'f')
    writeFileSync(path, 'ab')
    const io = nativeBackend()
    const fd = io.open(path, { write: true, create: false, direct: false })
    try {
      io.pwrite(fd, Buffer.from('z'), 0, 1, 2 ** 33)
      assert.is(io.blockInfo(fd).sizeBytes, 2 ** 33 + 1)
      const buf = Buffer.alloc(4, 9)
      assert.is(io.pread(fd, buf, 0, 4, 2 ** 33 - 2), 3)
      assert.equal([...buf], [0, 0, 'z'.charCodeAt(0), 9])
    } finally {
      io.close(fd)
    }
  })
})

test('blockInfo on a regular file reports its size, 512 logical bytes and st_blksize', () => {
  withDir((dir) => {
    const path = join(dir, 'f')
    writeFileSync(path, Buffer.alloc(12345))
    const io = nativeBackend()
    const fd = io.open(path, { write: false, create: false, direct: false })
    try {
      const info = io.blockInfo(fd)
      assert.is(info.isBlockDevice, false)
      assert.is(info.sizeBytes, 12345)
      assert.is(info.logicalBlockBytes, 512)
      const st = statSync(path)
      assert.is(info.physicalBlockBytes, st.blksize)
      assert.is(info.dev, st.dev)
      assert.is(info.ino, st.ino)
    } finally {
      io.close(fd)
    }
  })
})

test.run()
