import { randomBytes } from 'node:crypto'
import { closeSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'

import { SystemError } from '../src/errors.js'
import { devMajorMinor, FsBackend } from '../src/io/fs-backend.js'
import { makeTempDir, readRange, removeTempDir } from './helpers/tmp.js'

function withDir(fn: (dir: string) => void): void {
  const dir = makeTempDir('io-fs-backend')
  try {
    fn(dir)
  } finally {
    removeTempDir(dir)
  }
}

function thrown(fn: () => unknown): unknown {
  try {
    fn()
  } catch (err) {
    return err
  }
  throw new Error('expected a throw, but the call returned')
}

test('the fs backend reports kind fs and the reason it was given', () => {
  assert.equal(new FsBackend('because').info, { kind: 'fs', reason: 'because' })
  assert.equal(new FsBackend().info, { kind: 'fs' })
})

test('the fs backend round-trips bytes exactly, stops at end of file and leaves bytes around the range', () => {
  withDir((dir) => {
    const path = join(dir, 'f')
    const before = randomBytes(64 * 1024)
    writeFileSync(path, before)
    const io = new FsBackend()
    const data = randomBytes(10_000)
    const fd = io.open(path, { write: true, create: true, direct: false })
    try {
      io.pwrite(fd, data, 0, data.length, 60_000)
      io.fdatasync(fd)
      const buf = io.allocAligned(20_000, 4096)
      assert.ok(buf.equals(Buffer.alloc(20_000)), 'allocAligned memory starts zeroed')
      assert.is(io.pread(fd, buf, 7, 20_000 - 7, 60_000), 10_000)
      assert.ok(buf.subarray(7, 10_007).equals(data))
      assert.is(io.pread(fd, buf, 0, 10, 70_000), 0)
    } finally {
      io.close(fd)
    }
    const after = readRange(path, 0, 100_000)
    assert.is(after.length, 70_000)
    assert.ok(after.subarray(0, 60_000).equals(before.subarray(0, 60_000)))
    assert.ok(after.subarray(60_000).equals(data))
  })
})

test('the fs backend refuses direct I/O with EINVAL from open and creates nothing', () => {
  withDir((dir) => {
    const path = join(dir, 'new')
    const err = thrown(() => new FsBackend().open(path, { write: true, create: true, direct: true })) as SystemError
    assert.instance(err, SystemError)
    assert.equal([err.code, err.errno, err.syscall, err.path], ['EINVAL', 22, 'open', path])
    assert.match(err.message, 'no direct I/O')
    assert.throws(() => statSync(path))
  })
})

test('fs backend errors carry code, errno, the interface syscall name and the path', () => {
  withDir((dir) => {
    const io = new FsBackend()
    const missing = join(dir, 'missing')
    const open = thrown(() => io.open(missing, { write: false, create: false, direct: false })) as SystemError
    assert.instance(open, SystemError)
    assert.equal([open.code, open.errno, open.syscall, open.path], ['ENOENT', 2, 'open', missing])
    assert.is(open.message, `ENOENT: no such file or directory, open '${missing}'`)

    const path = join(dir, 'f')
    writeFileSync(path, 'x')
    const fd = io.open(path, { write: false, create: false, direct: false })
    closeSync(fd)
    const read = thrown(() => io.pread(fd, Buffer.alloc(1), 0, 1, 0)) as SystemError
    assert.instance(read, SystemError)
    assert.equal([read.code, read.errno, read.syscall, read.path], ['EBADF', 9, 'pread', path])
    assert.is(read.message, `EBADF: bad file descriptor, pread '${path}'`)
  })
})

test('the fs backend has no alignment and no zero-out, and rejects the same arguments as the addon', () => {
  withDir((dir) => {
    const path = join(dir, 'f')
    writeFileSync(path, Buffer.alloc(12345, 1))
    const io = new FsBackend()
    const fd = io.open(path, { write: true, create: false, direct: false })
    try {
      assert.equal(io.directAlignment(fd), { memAlignBytes: 0, offsetAlignBytes: 0, reported: false })
      assert.is(io.zeroRange(fd, 0, 4096), false)
      assert.ok(readRange(path, 0, 12345).equals(Buffer.alloc(12345, 1)))
      const st = statSync(path)
      assert.equal(io.blockInfo(fd), {
        isBlockDevice: false, sizeBytes: 12345, logicalBlockBytes: 512,
        physicalBlockBytes: st.blksize, dev: st.dev, ino: st.ino,
      })
      const range = thrown(() => io.pread(fd, Buffer.alloc(8), 4, 5, 0)) as RangeError & { code: string }
      assert.instance(range, RangeError)
      assert.is(range.code, 'ERR_OUT_OF_RANGE')
      const align = thrown(() => io.allocAligned(4096, 3)) as SystemError
      assert.equal([align.code, align.syscall], ['EINVAL', 'posix_memalign'])
    } finally {
      io.close(fd)
    }
  })
})

test('dev_t numbers decode to major and minor as glibc does, beyond 32 bits', () => {
  // glibc makedev: minor low 8 bits | major low 12 << 8 | minor high << 12 | major high << 32
  const makedev = (major: number, minor: number): number => Number(
    (BigInt(minor) & 0xffn) | ((BigInt(major) & 0xfffn) << 8n) |
    ((BigInt(minor) & ~0xffn) << 12n) | ((BigInt(major) & ~0xfffn) << 32n),
  )
  for (const [major, minor] of [[7, 0], [8, 1], [259, 3], [0x12345, 0x6789a], [4095, 1048575]] as const) {
    assert.equal(devMajorMinor(makedev(major, minor)), { major, minor })
  }
})

test.run()
