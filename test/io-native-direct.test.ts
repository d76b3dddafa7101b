import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'

import { SystemError } from '../src/errors.js'
import { logSkip } from './helpers/root.js'
import { fsTypeOf, makeTempDir, readRange, removeTempDir } from './helpers/tmp.js'
import { nativeBackend } from './helpers/native.js'

/** Runs fn in a fresh temp dir on a disk file system, or logs why it cannot. */
function withDiskDir(fn: (dir: string, fsType: string) => void): void {
  const dir = makeTempDir('io-native-direct')
  try {
    const fsType = fsTypeOf(dir)
    if (!['ext4', 'xfs'].includes(fsType)) return logSkip(`temp dir ${dir} is on ${fsType || 'an unknown fs'}, not ext4/xfs`)
    fn(dir, fsType)
  } finally {
    removeTempDir(dir)
  }
}

test('directAlignment on an ext4 or xfs file reports nonzero power-of-two alignments', () => {
  withDiskDir((dir) => {
    const path = join(dir, 'f')
    writeFileSync(path, Buffer.alloc(4096))
    const io = nativeBackend()
    const fd = io.open(path, { write: false, create: false, direct: false })
    try {
      const a = io.directAlignment(fd)
      for (const v of [a.memAlignBytes, a.offsetAlignBytes]) {
        assert.ok(v >= 512 && v <= 4096 && (v & (v - 1)) === 0, `alignment ${v}`)
      }
    } finally {
      io.close(fd)
    }
  })
})

// The kernel checks the user address only under O_DIRECT, so an aligned read
// that succeeds where the same read one byte further fails proves the address.
// (Since 6.18 a misaligned buffer passes when no page-sized piece of it breaks
// a logical block, so the read spans a page boundary to stay a proof.)
test('allocAligned memory is aligned: an O_DIRECT read into it succeeds, one byte further EINVAL', () => {
  withDiskDir((dir) => {
    const path = join(dir, 'f')
    const data = randomBytes(64 * 1024)
    writeFileSync(path, data)
    const io = nativeBackend()
    const buf = io.allocAligned(8192, 4096)
    assert.is(buf.length, 8192)
    assert.is(buf.byteOffset, 0)
    const fd = io.open(path, { write: false, create: false, direct: true })
    try {
      assert.is(io.pread(fd, buf, 0, 4096, 0), 4096)
      assert.ok(buf.subarray(0, 4096).equals(data.subarray(0, 4096)))
      let err: unknown
      try {
        io.pread(fd, buf.subarray(1), 0, 4096, 0)
      } catch (caught) {
        err = caught
      }
      assert.instance(err, SystemError)
      assert.equal([(err as SystemError).code, (err as SystemError).syscall], ['EINVAL', 'pread'])
      // An unaligned file offset is refused just the same.
      assert.throws(() => io.pread(fd, buf, 0, 4096, 1), (e: SystemError) => e.code === 'EINVAL')
    } finally {
      io.close(fd)
    }
  })
})

test('an O_DIRECT read across the end of file returns the bytes up to it', () => {
  withDiskDir((dir) => {
    const path = join(dir, 'f')
    const data = randomBytes(5000)
    writeFileSync(path, data)
    const io = nativeBackend()
    const buf = io.allocAligned(16384, 4096).fill(0xee)
    const fd = io.open(path, { write: false, create: false, direct: true })
    try {
      assert.is(io.pread(fd, buf, 0, 8192, 0), 5000)
      assert.ok(buf.subarray(0, 5000).equals(data))
      assert.is(io.pread(fd, buf, 4096, 4096, 4096), 904)
      assert.ok(buf.subarray(4096, 5000).equals(data.subarray(4096)))
      assert.is(io.pread(fd, buf, 0, 4096, 8192), 0)
    } finally {
      io.close(fd)
    }
  })
})

test('O_DIRECT writes of aligned blocks land byte-exact and fdatasync succeeds', () => {
  withDiskDir((dir) => {
    const path = join(dir, 'f')
    const io = nativeBackend()
    const data = randomBytes(1 << 20)
    const fd = io.open(path, { write: true, create: true, direct: true })
    try {
      const buf = io.allocAligned(data.length, 4096)
      data.copy(buf)
      io.pwrite(fd, buf, 0, buf.length, 4096)
      io.fdatasync(fd)
      assert.equal(io.blockInfo(fd).sizeBytes, 4096 + buf.length)
    } finally {
      io.close(fd)
    }
    const back = readRange(path, 0, 4096 + (1 << 20))
    assert.ok(back.subarray(0, 4096).equals(Buffer.alloc(4096)))
    assert.ok(back.subarray(4096).equals(data))
  })
})

test('open with create never truncates an existing file', () => {
  withDiskDir((dir) => {
    const path = join(dir, 'f')
    writeFileSync(path, 'keep me')
    const io = nativeBackend()
    io.close(io.open(path, { write: true, create: true, direct: false }))
    assert.is(readRange(path, 0, 100).toString(), 'keep me')
  })
})

test.run()
