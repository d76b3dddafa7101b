import { statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { FsBackend } from '../src/io/fs-backend.js'
import { loadNativeBackend } from '../src/io/native.js'
import type { IoBackend } from '../src/io/types.js'
import { mountTmpfs, unmount } from './helpers/mounts.js'
import { logSkip, skipUnlessRoot } from './helpers/root.js'
import { makeTempDir, readRange, removeTempDir } from './helpers/tmp.js'

const test = suite('preallocation of destination ranges')
let dir: string
const MiB = 1024 * 1024

test.before.each(() => {
  dir = makeTempDir('io-prealloc-')
})
test.after.each(() => {
  removeTempDir(dir)
})

function native(): IoBackend {
  const b = loadNativeBackend()
  if (typeof b === 'string') throw new Error(`native backend unavailable: ${b}`)
  return b
}

function preallocate(io: IoBackend, path: string, offset: number, length: number): boolean {
  const fd = io.open(path, { write: true, create: true, direct: false })
  try {
    return io.preallocate(fd, offset, length)
  } finally {
    io.close(fd)
  }
}

test('preallocate allocates the blocks of a range, extends the file to its end, and keeps the bytes', () => {
  const path = join(dir, 'f.img')
  writeFileSync(path, Buffer.alloc(4096, 0x42))
  const before = statSync(path)
  assert.is(preallocate(native(), path, MiB, 8 * MiB), true)
  const after = statSync(path)
  assert.is(after.size, 9 * MiB, 'extended to the end of the range')
  // st_blocks counts 512-byte blocks: 8 MiB more are now allocated.
  assert.ok(after.blocks - before.blocks >= (8 * MiB) / 512, `${before.blocks} -> ${after.blocks} blocks`)
  assert.ok(readRange(path, 0, 4096).every((b) => b === 0x42))
  assert.ok(readRange(path, 4096, 9 * MiB - 4096).every((b) => b === 0), 'the rest reads as zeros')
})

test('preallocate never shrinks a file that already reaches past the range', () => {
  const path = join(dir, 'f.img')
  writeFileSync(path, Buffer.alloc(4 * MiB, 0x17))
  assert.is(preallocate(native(), path, 0, MiB), true)
  assert.is(statSync(path).size, 4 * MiB)
  assert.ok(readRange(path, 0, 4 * MiB).every((b) => b === 0x17))
})

test('preallocate answers false, and changes nothing, where there is no room', async () => {
  const why = skipUnlessRoot('mounts a 1 MiB tmpfs')
  if (why) return logSkip(why)
  const mnt = join(dir, 'small')
  await mountTmpfs(mnt, MiB)
  try {
    const path = join(mnt, 'f.img')
    assert.is(preallocate(native(), path, 0, 8 * MiB), false)
    assert.is(statSync(path).size, 0)
  } finally {
    await unmount(mnt)
  }
})

test('the node:fs backend cannot preallocate and says so', () => {
  const path = join(dir, 'f.img')
  assert.is(preallocate(new FsBackend('test'), path, 0, MiB), false)
  assert.is(statSync(path).blocks, 0)
})

test.run()
