import { spawnSync } from 'node:child_process'
import { statSync, statfsSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'

import { SystemError } from '../src/errors.js'
import { FsBackend } from '../src/io/fs-backend.js'
import type { IoBackend } from '../src/io/types.js'
import { hasProgram } from './helpers/mounts.js'
import { logSkip } from './helpers/root.js'
import { cmpFiles, fsTypeOf, readRange, writeRandomFile } from './helpers/tmp.js'
import { nativeBackend, withTempDir, withImageFs } from './helpers/native.js'

const MiB = 1024 * 1024
/** FIEMAP_EXTENT_SHARED: the extent's blocks belong to more than one file. */
const FIEMAP_SHARED = 0x2000

/** Opens src read-only and dst read-write (created), runs fn, closes both. */
function withPair<T>(io: IoBackend, src: string, dst: string, fn: (s: number, d: number) => T): T {
  const s = io.open(src, { write: false, create: false, direct: false })
  try {
    const d = io.open(dst, { write: true, create: true, direct: false })
    try {
      return fn(s, d)
    } finally {
      io.close(d)
    }
  } finally {
    io.close(s)
  }
}

/** The flags of every data extent of path, from the file system's own FIEMAP report. */
function extentFlags(path: string): number[] {
  const run = spawnSync('xfs_io', ['-r', '-c', 'fiemap -v', path], { encoding: 'utf8' })
  if (run.status !== 0) throw new Error(`xfs_io fiemap ${path} failed: ${run.stderr}`)
  // "   0: [0..16383]:      192..16575       16384 0x2001"; holes have no flags.
  return run.stdout.split('\n')
    .filter((line) => /^\s*\d+:/.test(line) && !/hole/.test(line))
    .map((line) => Number(line.trim().split(/\s+/).at(-1)))
}

function freeBytes(dir: string): number {
  const s = statfsSync(dir)
  return s.bfree * s.bsize
}

/** What `fn` threw, as a SystemError; fails the test if it did not throw one. */
function thrown(fn: () => unknown): SystemError {
  try {
    fn()
  } catch (err) {
    assert.instance(err, SystemError)
    return err as SystemError
  }
  throw new assert.Assertion({ message: 'expected a SystemError, nothing was thrown', operator: 'throws', expects: 'throw', actual: 'none' })
}

test('cloneRange on XFS with reflink shares the blocks: FIEMAP flags them shared and free space does not shrink', async () => {
  if (!hasProgram('xfs_io')) return logSkip('xfs_io is not installed (apt-get install xfsprogs)')
  await withTempDir('io-offload', (dir) => withImageFs(dir, 'xfs', (mnt) => {
    const io = nativeBackend()
    const src = join(mnt.dir, 'src')
    const dst = join(mnt.dir, 'clone')
    writeRandomFile(src, 16 * MiB, 1)
    spawnSync('sync', ['-f', src])
    assert.ok(extentFlags(src).every((f) => (f & FIEMAP_SHARED) === 0), 'a freshly written file shares nothing')
    const before = freeBytes(mnt.dir)
    withPair(io, src, dst, (s, d) => io.cloneRange(s, 0, d, 0, 16 * MiB))
    spawnSync('sync', ['-f', dst])
    const after = freeBytes(mnt.dir)
    assert.ok(cmpFiles(src, dst))
    const flags = extentFlags(dst)
    assert.ok(flags.length > 0, 'the clone has data extents')
    for (const f of flags) assert.ok((f & FIEMAP_SHARED) !== 0, `extent flags 0x${f.toString(16)} lack SHARED (0x2000)`)
    assert.ok(extentFlags(src).every((f) => (f & FIEMAP_SHARED) !== 0), 'the source extents are shared too')
    assert.ok(before - after < MiB, `free space shrank by ${before - after} bytes for a 16 MiB clone`)
  }))
})

test('cloneRange on XFS clones a partial range at other offsets byte-exact and leaves the bytes around it', async () => {
  await withTempDir('io-offload', (dir) => withImageFs(dir, 'xfs', (mnt) => {
    const io = nativeBackend()
    const src = join(mnt.dir, 'src')
    const dst = join(mnt.dir, 'dst')
    writeRandomFile(src, 4 * MiB, 2)
    writeRandomFile(dst, 4 * MiB, 3)
    const old = readRange(dst, 0, 4 * MiB)
    withPair(io, src, dst, (s, d) => io.cloneRange(s, 64 * 1024, d, MiB + 8192, 2 * MiB))
    assert.ok(cmpFiles(src, dst, { aOffset: 64 * 1024, bOffset: MiB + 8192, length: 2 * MiB }))
    assert.ok(readRange(dst, 0, MiB + 8192).equals(old.subarray(0, MiB + 8192)))
    assert.ok(readRange(dst, 3 * MiB + 8192, MiB).equals(old.subarray(3 * MiB + 8192)))
  }))
})

test('cloneRange on btrfs works, is byte-exact, and FIEMAP flags the clone shared', async () => {
  await withTempDir('io-offload', (dir) => withImageFs(dir, 'btrfs', (mnt) => {
    const io = nativeBackend()
    const src = join(mnt.dir, 'src')
    const dst = join(mnt.dir, 'clone')
    writeRandomFile(src, 8 * MiB + 100, 4)
    // A range may end at the source's end of file even when that is unaligned.
    withPair(io, src, dst, (s, d) => io.cloneRange(s, 0, d, 0, 8 * MiB + 100))
    assert.ok(cmpFiles(src, dst))
    if (hasProgram('xfs_io')) {
      spawnSync('sync', ['-f', dst])
      assert.ok(extentFlags(dst).every((f) => (f & FIEMAP_SHARED) !== 0))
    }
  }))
})

test('cloneRange on ext4 throws EOPNOTSUPP from ioctl naming the destination', async () => {
  await withTempDir('io-offload', (dir) => {
    if (fsTypeOf(dir) !== 'ext4') return logSkip(`temp dir is on ${fsTypeOf(dir)}, not ext4`)
    const io = nativeBackend()
    const src = join(dir, 'src')
    const dst = join(dir, 'dst')
    writeRandomFile(src, MiB, 5)
    const err = thrown(() => withPair(io, src, dst, (s, d) => io.cloneRange(s, 0, d, 0, MiB)))
    assert.is(err.code, 'EOPNOTSUPP')
    assert.is(err.errno, 95)
    assert.is(err.syscall, 'ioctl')
    assert.is(err.path, dst)
  })
})

test('cloneRange of zero bytes does nothing, even where the file system cannot clone', async () => {
  await withTempDir('io-offload', (dir) => {
    const io = nativeBackend()
    const src = join(dir, 'src')
    const dst = join(dir, 'dst')
    writeRandomFile(src, 8192, 6)
    withPair(io, src, dst, (s, d) => io.cloneRange(s, 0, d, 0, 0))
    assert.is(readRange(dst, 0, 8192).length, 0)
  })
})

test('cloneRange and copyFileRange across two file systems throw EXDEV on this kernel', async () => {
  await withTempDir('io-offload', (dir) => withImageFs(dir, 'xfs', (mnt) => {
    const io = nativeBackend()
    const src = join(mnt.dir, 'src')
    const dst = join(dir, 'dst')
    writeRandomFile(src, MiB, 7)
    withPair(io, src, dst, (s, d) => {
      const clone = thrown(() => io.cloneRange(s, 0, d, 0, MiB))
      assert.equal([clone.code, clone.syscall, clone.path], ['EXDEV', 'ioctl', dst])
      // Since 5.19 the kernel copies across file systems only between two of
      // the same type that implement copy_file_range themselves (NFS, CIFS).
      const copy = thrown(() => io.copyFileRange(s, 0, d, 0, MiB))
      assert.equal([copy.code, copy.syscall], ['EXDEV', 'copy_file_range'])
    })
    assert.is(readRange(dst, 0, 10).length, 0)
  }))
})

test('cloneRange of an unaligned range on XFS throws EINVAL and changes nothing', async () => {
  await withTempDir('io-offload', (dir) => withImageFs(dir, 'xfs', (mnt) => {
    const io = nativeBackend()
    const src = join(mnt.dir, 'src')
    const dst = join(mnt.dir, 'dst')
    writeRandomFile(src, MiB, 8)
    writeRandomFile(dst, MiB, 9)
    const old = readRange(dst, 0, MiB)
    withPair(io, src, dst, (s, d) => {
      for (const [so, dof, len] of [[512, 0, 4096], [0, 512, 4096], [0, 0, 4096 + 512]] as const) {
        const err = thrown(() => io.cloneRange(s, so, d, dof, len))
        assert.equal([err.code, err.syscall], ['EINVAL', 'ioctl'], `clone ${so}:${dof}:${len}`)
      }
    })
    assert.ok(readRange(dst, 0, MiB).equals(old))
  }))
})

test('copyFileRange within one file system copies partial ranges at any offsets byte-exact', async () => {
  await withTempDir('io-offload', (dir) => {
    const io = nativeBackend()
    const src = join(dir, 'src')
    const dst = join(dir, 'dst')
    writeRandomFile(src, 3 * MiB, 10)
    writeRandomFile(dst, 2 * MiB, 11)
    const old = readRange(dst, 0, 2 * MiB)
    const n = withPair(io, src, dst, (s, d) => io.copyFileRange(s, 12_345, d, 777, MiB + 3))
    assert.is(n, MiB + 3)
    assert.ok(cmpFiles(src, dst, { aOffset: 12_345, bOffset: 777, length: MiB + 3 }))
    assert.ok(readRange(dst, 0, 777).equals(old.subarray(0, 777)))
    assert.ok(readRange(dst, 777 + MiB + 3, 2 * MiB).equals(old.subarray(777 + MiB + 3)))
  })
})

// vfs_copy_file_range tries the file system's remap (reflink) first when both
// files are on one superblock, so on XFS a "copy" shares extents too.
test('copyFileRange of aligned whole blocks on XFS shares the extents, as a clone would', async () => {
  if (!hasProgram('xfs_io')) return logSkip('xfs_io is not installed (apt-get install xfsprogs)')
  await withTempDir('io-offload', (dir) => withImageFs(dir, 'xfs', (mnt) => {
    const io = nativeBackend()
    const src = join(mnt.dir, 'src')
    const dst = join(mnt.dir, 'dst')
    writeRandomFile(src, 4 * MiB, 15)
    spawnSync('sync', ['-f', src])
    assert.is(withPair(io, src, dst, (s, d) => io.copyFileRange(s, 0, d, 0, 4 * MiB)), 4 * MiB)
    spawnSync('sync', ['-f', dst])
    assert.ok(cmpFiles(src, dst))
    assert.ok(extentFlags(dst).every((f) => (f & FIEMAP_SHARED) !== 0))
  }))
})

test('copyFileRange stops at the end of the source and returns the short count; zero bytes copy nothing', async () => {
  await withTempDir('io-offload', (dir) => {
    const io = nativeBackend()
    const src = join(dir, 'src')
    const dst = join(dir, 'dst')
    writeRandomFile(src, 100_000, 12)
    withPair(io, src, dst, (s, d) => {
      assert.is(io.copyFileRange(s, 90_000, d, 5, 50_000), 10_000)
      assert.is(io.copyFileRange(s, 100_000, d, 0, 4096), 0)
      assert.is(io.copyFileRange(s, 0, d, 0, 0), 0)
    })
    assert.ok(cmpFiles(src, dst, { aOffset: 90_000, bOffset: 5 }))
    assert.is(statSync(dst).size, 10_005)
  })
})

test('the fs backend throws EOPNOTSUPP for cloneRange and copyFileRange, saying the native addon is not loaded', async () => {
  await withTempDir('io-offload', (dir) => {
    const io = new FsBackend('test: no addon')
    const src = join(dir, 'src')
    const dst = join(dir, 'dst')
    writeRandomFile(src, 8192, 13)
    withPair(io, src, dst, (s, d) => {
      for (const [fn, syscall] of [[() => io.cloneRange(s, 0, d, 0, 4096), 'ioctl'], [() => io.copyFileRange(s, 0, d, 0, 4096), 'copy_file_range']] as const) {
        const err = thrown(fn)
        assert.equal([err.code, err.errno, err.syscall, err.path], ['EOPNOTSUPP', 95, syscall, dst])
        assert.match(err.message, /native addon is not loaded \(test: no addon\)/)
      }
    })
    assert.is(readRange(dst, 0, 10).length, 0)
  })
})

test('fsBlockBytes and seekData/seekHole agree between backends where both can answer', async () => {
  await withTempDir('io-offload', (dir) => {
    const a = nativeBackend()
    const b = new FsBackend()
    const file = join(dir, 'f')
    writeRandomFile(file, 10_000, 14)
    withPair(a, file, join(dir, 'g'), (fa) => withPair(b, file, join(dir, 'h'), (fb) => {
      assert.is(a.fsBlockBytes(fa), statfsSync(dir).bsize)
      assert.is(b.fsBlockBytes(fb), statfsSync(dir).bsize)
      for (const io of [a, b]) {
        const fd = io === a ? fa : fb
        assert.equal([io.seekData(fd, 0), io.seekHole(fd, 0), io.seekData(fd, 10_000), io.seekHole(fd, 20_000)], [0, 10_000, -1, -1])
      }
    }))
  })
})

test.run()
