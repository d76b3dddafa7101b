import { closeSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'

import { SystemError } from '../src/errors.js'
import { loadAddon } from '../src/io/native.js'
import { makeTempDir, removeTempDir } from './helpers/tmp.js'
import { nativeBackend } from './helpers/native.js'

/** What fn throws; fails the test when it returns. */
function thrown(fn: () => unknown): unknown {
  try {
    fn()
  } catch (err) {
    return err
  }
  throw new Error('expected a throw, but the call returned')
}

function withDir(fn: (dir: string) => void): void {
  const dir = makeTempDir('io-native-errors')
  try {
    fn(dir)
  } finally {
    removeTempDir(dir)
  }
}

test('opening a missing file throws a SystemError ENOENT with errno, syscall open and the path', () => {
  withDir((dir) => {
    const path = join(dir, 'missing')
    const err = thrown(() => nativeBackend().open(path, { write: false, create: false, direct: false }))
    assert.instance(err, SystemError)
    const e = err as SystemError
    assert.is(e.code, 'ENOENT')
    assert.is(e.errno, 2)
    assert.is(e.syscall, 'open')
    assert.is(e.path, path)
    assert.is(e.message, `ENOENT: no such file or directory, open '${path}'`)
  })
})

test('a pread on a descriptor closed behind the backend fails with EBADF naming pread and the path', () => {
  withDir((dir) => {
    const path = join(dir, 'f')
    writeFileSync(path, 'data')
    const io = nativeBackend()
    const fd = io.open(path, { write: false, create: false, direct: false })
    closeSync(fd)
    const err = thrown(() => io.pread(fd, Buffer.alloc(4), 0, 4, 0)) as SystemError
    assert.instance(err, SystemError)
    assert.equal([err.code, err.errno, err.syscall, err.path], ['EBADF', 9, 'pread', path])
  })
})

test('the raw addon reports errors without a path when it has none', () => {
  const load = loadAddon()
  if (!load.ok) throw new Error(load.reason)
  const err = thrown(() => load.addon.fdatasync(2 ** 30)) as SystemError
  assert.instance(err, SystemError)
  assert.equal([err.code, err.syscall, err.path], ['EBADF', 'fdatasync', undefined])
  assert.is(err.message, 'EBADF: bad file descriptor, fdatasync')
})

test('a pwrite on a read-only descriptor fails with EBADF and syscall pwrite', () => {
  withDir((dir) => {
    const path = join(dir, 'f')
    writeFileSync(path, 'data')
    const io = nativeBackend()
    const fd = io.open(path, { write: false, create: false, direct: false })
    try {
      const err = thrown(() => io.pwrite(fd, Buffer.from('x'), 0, 1, 0)) as SystemError
      assert.equal([err.code, err.syscall, err.path], ['EBADF', 'pwrite', path])
    } finally {
      io.close(fd)
    }
  })
})

test('a range beyond the buffer is a RangeError with ERR_OUT_OF_RANGE, before any syscall', () => {
  const io = nativeBackend()
  // That descriptor is not open: reaching the syscall would give EBADF instead.
  const err = thrown(() => io.pread(2 ** 30, Buffer.alloc(8), 4, 5, 0)) as RangeError & { code: string }
  assert.instance(err, RangeError)
  assert.is(err.code, 'ERR_OUT_OF_RANGE')
  const neg = thrown(() => io.pwrite(2 ** 30, Buffer.alloc(8), 0, 1, -1)) as RangeError & { code: string }
  assert.is(neg.code, 'ERR_OUT_OF_RANGE')
})

test('a descriptor that is not a number is a TypeError with ERR_INVALID_ARG_TYPE', () => {
  const io = nativeBackend()
  const err = thrown(() => io.fdatasync('3' as unknown as number)) as TypeError & { code: string }
  assert.instance(err, TypeError)
  assert.is(err.code, 'ERR_INVALID_ARG_TYPE')
})

test('allocAligned refuses an alignment that is not a power of two with EINVAL from posix_memalign', () => {
  const io = nativeBackend()
  for (const align of [0, 3, 4095]) {
    const err = thrown(() => io.allocAligned(4096, align)) as SystemError
    assert.instance(err, SystemError)
    assert.equal([err.code, err.syscall], ['EINVAL', 'posix_memalign'])
  }
})

test('zeroRange on a read-only descriptor throws EBADF from fallocate instead of answering false', () => {
  withDir((dir) => {
    const path = join(dir, 'f')
    writeFileSync(path, Buffer.alloc(8192, 1))
    const io = nativeBackend()
    const fd = io.open(path, { write: false, create: false, direct: false })
    try {
      const err = thrown(() => io.zeroRange(fd, 0, 4096)) as SystemError
      assert.equal([err.code, err.syscall, err.path], ['EBADF', 'fallocate', path])
    } finally {
      io.close(fd)
    }
  })
})

test.run()
