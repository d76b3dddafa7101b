import { spawnSync } from 'node:child_process'
import { closeSync, openSync, readSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createClient } from '../src/index.js'
import { hexOf, Xxh3 } from '../src/hash/xxh3.js'
import { nativeBackend, withTempDir } from './helpers/native.js'
import { readRange, writeRandomFile } from './helpers/tmp.js'

/*
 * preadCached reads only what the page cache holds (preadv2 RWF_NOWAIT), and
 * a hash reads cached chunks that way and the rest with O_DIRECT: the
 * digests are the same whichever way each byte came.
 */
const test = suite('page cache: preadCached and hashes of partly cached files')
const MiB = 1024 * 1024
const SIZE = 64 * MiB

/** Writes the file, flushes it and drops it from the page cache. */
function coldFile(path: string): void {
  writeRandomFile(path, SIZE, 7)
  const sync = spawnSync('sync', [path])
  assert.is(sync.status, 0, String(sync.stderr))
  // count=0 with iflag=nocache: posix_fadvise(DONTNEED) over the whole file.
  const drop = spawnSync('dd', [`if=${path}`, 'iflag=nocache', 'count=0', 'status=none'])
  assert.is(drop.status, 0, String(drop.stderr))
}

/** Drops [from, from + length) of path from the page cache (dd: posix_fadvise DONTNEED over what it read). */
function drop(path: string, from: number, length: number): void {
  const run = spawnSync('dd', [`if=${path}`, 'iflag=nocache,skip_bytes,count_bytes', `skip=${from}`, `count=${length}`, 'bs=1M', 'of=/dev/null', 'status=none'])
  assert.is(run.status, 0, String(run.stderr))
}

/** Reads [from, from + length) of path through the page cache. */
function warm(path: string, length: number, from = 0): void {
  const fd = openSync(path, 'r')
  try {
    const buf = Buffer.alloc(length)
    for (let done = 0; done < length; ) done += readSync(fd, buf, done, length - done, from + done)
  } finally {
    closeSync(fd)
  }
}

test('reads nothing of a file out of the cache, at least what is cached of a partly cached one, all of a cached one', async () => {
  await withTempDir('io-native-cached', (dir) => {
    const path = join(dir, 'f')
    coldFile(path)
    const io = nativeBackend()
    const fd = io.open(path, { write: false, create: false, direct: false })
    try {
      const buf = Buffer.alloc(SIZE)
      assert.is(io.preadCached(fd, buf, 0, SIZE, 0), 0, 'a file dropped from the cache')
      // Partly cached by dropping a middle piece of a cached file. How much it returns past the piece still
      // cached is the kernel's to say: a RWF_NOWAIT read that meets an uncached page starts read-ahead there
      // (it does not wait for it), and on a loaded machine that I/O can land before the next call, once as far
      // as the whole 64 MiB file. What holds whatever the timing: all that is cached, and only the file's bytes.
      warm(path, SIZE)
      drop(path, 16 * MiB, 16 * MiB)
      const got = io.preadCached(fd, buf, 0, SIZE, 0) as number
      assert.ok(got >= 16 * MiB && got <= SIZE, `${got} bytes of a file whose first 16 MiB are cached`)
      assert.ok(buf.subarray(0, got).equals(readRange(path, 0, got)))
      warm(path, SIZE)
      assert.is(io.preadCached(fd, buf, 3, SIZE - 10, 5), SIZE - 10)
      assert.ok(buf.subarray(3, SIZE - 7).equals(readRange(path, 5, SIZE - 10)))
      assert.is(io.preadCached(fd, buf, 0, MiB, SIZE - 100), 100, 'stops at the end of the file')
    } finally {
      io.close(fd)
    }
  })
})

test('a hash of a partly cached file reads the rest directly and gives the digests of a cached one', async () => {
  await withTempDir('io-native-cached', async (dir) => {
    const path = join(dir, 'f')
    coldFile(path)
    // The last 4 MiB: read-ahead (8 MiB here) cannot reach past the end of
    // the file, and reads of cached chunks may start it, so a cached head
    // could become a cached whole before the hash gets there.
    warm(path, 4 * MiB, SIZE - 4 * MiB)
    const client = await createClient({ threads: 2, chunkBytes: MiB })
    try {
      const partly = await client.hash(path).result
      assert.is(partly.ok, true)
      assert.is(partly.directBytes, SIZE - 4 * MiB, 'the cold part read directly, the cached 4 MiB not')
      warm(path, SIZE)
      const cached = await client.hash(path).result
      assert.is(cached.directBytes, 0, 'nothing read directly from a cached file')
      assert.equal(cached.chunks, partly.chunks)
      assert.is(cached.digest, partly.digest)
      // And the same as hashing the bytes on the main thread.
      const h = await Xxh3.create()
      for (const c of cached.chunks) assert.is(c.digest, hexOf(h.digest(readRange(path, c.offset, c.length), 0, c.length)), `chunk at ${c.offset}`)
    } finally {
      await client.destroy()
    }
  })
})

test.run()
