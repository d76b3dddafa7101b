import { execFileSync } from 'node:child_process'
import { mkdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createClient, type CopyClient } from '../src/index.js'
import { attachLoop, detachLoop } from './helpers/loop.js'
import { unmount } from './helpers/mounts.js'
import { withImageFs } from './helpers/native.js'
import { logSkip, skipUnlessRoot } from './helpers/root.js'
import { allocatedBytes, writeSparseFile, type Piece } from './helpers/sparse.js'
import { cmpFiles, makeTempDir, readRange, removeTempDir, writePatternFile, writeRandomFile } from './helpers/tmp.js'

const test = suite('sparse copies onto devices and file systems with and without holes')
let client: CopyClient
let dir: string
const KiB = 1024
const MiB = 1024 * KiB
const SIZE = 16 * MiB + 1000
const PIECES: Piece[] = [
  { offset: 333, length: MiB },
  { offset: 6 * MiB, length: 2 * MiB, zeros: true },
  { offset: 10 * MiB + 5, length: 512 * KiB },
]
const DATA = MiB + 512 * KiB

test.before(async () => {
  client = await createClient({ threads: 3, chunkBytes: MiB })
})
test.after(async () => {
  await client.destroy()
})
test.before.each(() => {
  dir = makeTempDir('copy-sparse-targets-')
})
test.after.each(() => {
  removeTempDir(dir)
})

// BLKZEROOUT lets the loop driver punch its backing file (REQ_OP_WRITE_ZEROES
// without NOUNMAP), so the holes show up there once the device is detached.
test('a loop device destination reads back byte-identical, zeroed out where the source has zeros', async () => {
  const why = skipUnlessRoot('attaches loop devices')
  if (why) return logSkip(why)
  const backing = join(dir, 'backing.img')
  writePatternFile(backing, 32 * MiB, 0x5a)
  const src = join(dir, 'src.img')
  writeSparseFile(src, SIZE, PIECES)
  const dev = await attachLoop(backing)
  const offset = 4 * MiB + 512
  try {
    const r = await client.copy({ path: src }, [{ path: dev, offset }], { sparse: true, verify: 'readback' }).result
    assert.is(r.ok, true, JSON.stringify(r.errors))
    assert.ok(r.holeBytes >= SIZE - DATA - 512 * KiB, `holeBytes ${r.holeBytes}`)
    assert.ok(cmpFiles(src, dev, { bOffset: offset, length: SIZE }))
  } finally {
    await detachLoop(dev)
  }
  assert.ok(cmpFiles(src, backing, { bOffset: offset, length: SIZE }))
  assert.ok(readRange(backing, 0, offset).every((b) => b === 0x5a), 'bytes before the range')
  assert.ok(readRange(backing, offset + SIZE, 32 * MiB - offset - SIZE).every((b) => b === 0x5a), 'bytes after the range')
  const used = allocatedBytes(backing)
  assert.ok(used <= 32 * MiB - SIZE + DATA + 512 * KiB, `du of the backing file: ${used}`)
})

// ramfs has no fallocate, so a loop device over it has no write-zeroes:
// punching it is EOPNOTSUPP, and BLKZEROOUT (which the kernel then does by
// writing zero pages) must clear the old bytes.
test('a loop device that cannot unmap gets its zeros through BLKZEROOUT, and reads back byte-identical', async () => {
  const why = skipUnlessRoot('mounts ramfs and attaches a loop device')
  if (why) return logSkip(why)
  const mnt = join(dir, 'ramfs')
  mkdirSync(mnt)
  execFileSync('mount', ['-t', 'ramfs', 'ramfs', mnt])
  try {
    const backing = join(mnt, 'backing.img')
    writeRandomFile(backing, 20 * MiB, 4)
    const src = join(dir, 'src.img')
    writeSparseFile(src, SIZE, PIECES)
    const dev = await attachLoop(backing)
    try {
      const r = await client.copy({ path: src }, [{ path: dev, offset: 8192 }], { sparse: true, verify: 'readback' }).result
      assert.is(r.ok, true, JSON.stringify(r.errors))
      assert.ok(r.holeBytes >= SIZE - DATA - 512 * KiB, `holeBytes ${r.holeBytes}`)
    } finally {
      await detachLoop(dev)
    }
    assert.ok(cmpFiles(src, backing, { bOffset: 8192, length: SIZE }))
  } finally {
    await unmount(mnt)
  }
})

test('on ramfs, which has no punch hole, zeros are written over old data and the bytes are exact', async () => {
  const why = skipUnlessRoot('mounts ramfs')
  if (why) return logSkip(why)
  const mnt = join(dir, 'ramfs')
  mkdirSync(mnt)
  execFileSync('mount', ['-t', 'ramfs', 'ramfs', mnt])
  try {
    const src = join(dir, 'src.img')
    writeSparseFile(src, SIZE, PIECES)
    const [old, fresh] = [join(mnt, 'old.img'), join(mnt, 'fresh.img')]
    writeRandomFile(old, SIZE, 5)
    const r = await client.copy({ path: src }, [{ path: old }, { path: fresh }], { sparse: true, verify: 'readback' }).result
    assert.is(r.ok, true, JSON.stringify(r.errors))
    assert.ok(cmpFiles(src, old))
    assert.ok(cmpFiles(src, fresh))
    assert.is(statSync(fresh).size, SIZE)
    // Holes are counted only where every destination has them: old.img has none.
    assert.is(r.holeBytes, 0)
  } finally {
    await unmount(mnt)
  }
})

test('the node:fs backend copies sparse sources exactly: holes in a new file, zeros written over old data', async () => {
  const fsClient = await createClient({ threads: 2, chunkBytes: MiB, io: 'fs' })
  try {
    assert.is(fsClient.backend.kind, 'fs')
    const src = join(dir, 'src.img')
    writeSparseFile(src, SIZE, PIECES)
    const [fresh, old] = [join(dir, 'fresh.img'), join(dir, 'old.img')]
    writeRandomFile(old, SIZE, 6)
    const one = await fsClient.copy({ path: src }, [{ path: fresh }], { sparse: true, verify: 'readback' }).result
    const two = await fsClient.copy({ path: src }, [{ path: old }], { sparse: true, verify: 'hash' }).result
    assert.is(one.ok, true, JSON.stringify(one.errors))
    assert.is(two.ok, true, JSON.stringify(two.errors))
    assert.ok(cmpFiles(src, fresh))
    assert.ok(cmpFiles(src, old))
    assert.ok(allocatedBytes(fresh) <= DATA + 512 * KiB, `du of the new file: ${allocatedBytes(fresh)}`)
    assert.ok(one.holeBytes > SIZE - DATA - 512 * KiB)
    assert.is(two.holeBytes, 0, 'node:fs cannot punch holes')
  } finally {
    await fsClient.destroy()
  }
})

for (const kind of ['xfs', 'btrfs'] as const) {
  test(`on ${kind}, old data gets holes punched and the bytes are exact`, async () => {
    const why = skipUnlessRoot(`mounts ${kind}`)
    if (why) return logSkip(why)
    await withImageFs(dir, kind, async (mnt) => {
      const src = join(dir, 'src.img')
      writeSparseFile(src, SIZE, PIECES)
      const dst = join(mnt.dir, 'dst.img')
      writeRandomFile(dst, SIZE, 8)
      execFileSync('sync')
      const r = await client.copy({ path: src }, [{ path: dst }], { sparse: true, verify: 'readback' }).result
      assert.is(r.ok, true, JSON.stringify(r.errors))
      assert.ok(cmpFiles(src, dst))
      execFileSync('sync')
      assert.ok(allocatedBytes(dst) <= DATA + 512 * KiB, `du on ${kind}: ${allocatedBytes(dst)}`)
    })
  })
}

test.run()
