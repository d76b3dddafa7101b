import { closeSync, copyFileSync, openSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createClient, type CopyClient } from '../src/index.js'
import { readManifest, writeManifest } from '../src/hash/manifest.js'
import { attachLoop, detachLoop } from './helpers/loop.js'
import { nativeBackend } from './helpers/native.js'
import { logSkip, skipUnlessRoot } from './helpers/root.js'
import { allocatedBytes, writeSparseFile, type Piece } from './helpers/sparse.js'
import { cmpFiles, makeTempDir, readRange, removeTempDir, writePatternFile, writeRandomFile } from './helpers/tmp.js'

const test = suite('by default the source\'s holes stay holes where a destination file is one already')
const KiB = 1024
const MiB = 1024 * KiB
let client: CopyClient
let dir: string

// Data at odd offsets inside chunks, and holes inside chunks around it.
const SIZE = 12 * MiB + 777
const PIECES: Piece[] = [
  { offset: 100 * KiB + 5, length: 8 * KiB },
  { offset: 3 * MiB - 4 * KiB, length: 64 * KiB },
  { offset: 9 * MiB + 200 * KiB, length: 300 * KiB + 3 },
]
const DATA = 8 * KiB + 64 * KiB + 300 * KiB + 3

test.before(async () => {
  client = await createClient({ threads: 3, chunkBytes: MiB })
})
test.after(async () => {
  await client.destroy()
})
test.before.each(() => {
  dir = makeTempDir('copy-sparse-auto')
})
test.after.each(() => {
  removeTempDir(dir)
})

/** At most the data rounded out to 4 KiB blocks at both ends of each piece, and a block for the odd tail. */
const SLACK = PIECES.length * 2 * 4 * KiB + 4 * KiB

test('a new file keeps the source\'s holes, even inside a chunk, and reads back as the source (verify readback)', async () => {
  const src = join(dir, 'src.img')
  const dst = join(dir, 'dst.img')
  writeSparseFile(src, SIZE, PIECES)
  const r = await client.copy({ path: src }, [{ path: dst }], { verify: 'readback' }).result
  assert.is(r.ok, true, JSON.stringify(r.errors))
  assert.is(statSync(dst).size, SIZE)
  assert.ok(cmpFiles(src, dst))
  assert.ok(allocatedBytes(dst) <= DATA + SLACK, `du of the destination: ${allocatedBytes(dst)} for ${DATA} bytes of data`)
  assert.ok(r.holeBytes >= SIZE - DATA - SLACK && r.holeBytes <= SIZE - DATA, `holeBytes ${r.holeBytes}`)
  // The same digest as a copy that writes every byte.
  const hashed = await client.copy({ path: src }, [{ path: join(dir, 'auto.img') }], { verify: 'hash' }).result
  const dense = await client.copy({ path: src }, [{ path: join(dir, 'never.img') }], { verify: 'hash', sparse: 'never' }).result
  assert.is(dense.holeBytes, 0)
  assert.ok(allocatedBytes(join(dir, 'never.img')) >= SIZE - 4 * KiB, 'sparse never allocates it all')
  assert.ok(hashed.digest !== null && hashed.digest === dense.digest)
})

test('an existing file gets zeros written where the source has holes and the file had data; past its old end the holes stay', async () => {
  const src = join(dir, 'src.img')
  const dst = join(dir, 'dst.img')
  writeSparseFile(src, SIZE, PIECES)
  // 4 MiB of old data: it must all be overwritten, zeros where the source has holes.
  writeRandomFile(dst, 4 * MiB, 1)
  const r = await client.copy({ path: src }, [{ path: dst }]).result
  assert.is(r.ok, true, JSON.stringify(r.errors))
  assert.is(statSync(dst).size, SIZE)
  assert.ok(cmpFiles(src, dst), 'byte-identical: no old byte left in a hole')
  // The old 4 MiB stay allocated (now zeros and data); past them only the source's data.
  const past = PIECES.filter((p) => p.offset >= 4 * MiB).reduce((n, p) => n + p.length, 0)
  assert.ok(allocatedBytes(dst) <= 4 * MiB + past + SLACK, `du of the destination: ${allocatedBytes(dst)}`)
  assert.ok(allocatedBytes(dst) >= 4 * MiB, 'the old bytes were overwritten, not punched')
})

test('destinations at an offset: before the range nothing changes, and the file is a hole only from its old end', async () => {
  const src = join(dir, 'src.img')
  writeSparseFile(src, SIZE, PIECES)
  const fresh = join(dir, 'fresh.img')
  const old = join(dir, 'old.img')
  writePatternFile(old, 2 * MiB + 100, 0x77)
  const offset = MiB + 512
  const r = await client.copy({ path: src }, [{ path: fresh, offset }, { path: old, offset }], { verify: 'readback' }).result
  assert.is(r.ok, true, JSON.stringify(r.errors))
  for (const d of [fresh, old]) assert.ok(cmpFiles(src, d, { bOffset: offset }), d)
  assert.ok(readRange(old, 0, offset).every((b) => b === 0x77), 'the bytes before the range')
  assert.ok(readRange(fresh, 0, offset).every((b) => b === 0), 'a new file is zeros before the range')
  assert.ok(allocatedBytes(fresh) <= DATA + SLACK, `du of the new file: ${allocatedBytes(fresh)}`)
  // Every destination got the least: the old file's written zeros count for neither.
  assert.ok(r.holeBytes <= SIZE - (2 * MiB + 100 - offset), `holeBytes ${r.holeBytes}`)
})

test('a block device gets every zero written by default, and reads back as the source', async () => {
  const why = skipUnlessRoot('attaches a loop device')
  if (why) return logSkip(why)
  const src = join(dir, 'src.img')
  writeSparseFile(src, SIZE, PIECES)
  const backing = join(dir, 'backing.img')
  writePatternFile(backing, 16 * MiB, 0x5a)
  const dev = await attachLoop(backing)
  try {
    const r = await client.copy({ path: src }, [{ path: dev }, { path: join(dir, 'file.img') }], { verify: 'readback' }).result
    assert.is(r.ok, true, JSON.stringify(r.errors))
    assert.is(r.holeBytes, 0, 'the device holds no holes')
    assert.ok(cmpFiles(src, dev, { length: SIZE }))
  } finally {
    await detachLoop(dev)
  }
  assert.ok(allocatedBytes(backing) >= 16 * MiB - 4 * KiB, 'zeros were written, not unmapped')
  assert.ok(allocatedBytes(join(dir, 'file.img')) <= DATA + SLACK, 'the file beside it kept the holes')
})

test('a resumed copy (map) and an incremental one (since) hold: holes read back as zeros, old bytes in them are overwritten', async () => {
  const src = join(dir, 'src.img')
  writeSparseFile(src, SIZE, PIECES)
  // Interrupted after the first chunk, then resumed from its map.
  const dst = join(dir, 'dst.img')
  const map = join(dir, 'dst.map')
  const controller = new AbortController()
  const first = client.copy({ path: src }, [{ path: dst }], { map, signal: controller.signal })
  first.on('progress', () => controller.abort())
  const r1 = await first.result
  assert.is(r1.cancelled, true)
  const r2 = await client.copy({ path: src }, [{ path: dst }], { map, verify: 'readback' }).result
  assert.is(r2.ok, true, JSON.stringify(r2.errors))
  assert.ok(cmpFiles(src, dst))

  // since: the destination's manifest, then a source whose data became a hole.
  const m = join(dir, 'dst.bcm')
  const hashed = await client.hash(dst).manifest
  assert.ok(hashed)
  await writeManifest(m, hashed)
  const changed = join(dir, 'changed.img')
  copyFileSync(src, changed)
  const fd = openSync(changed, 'r+')
  try {
    assert.ok(nativeBackend().punchHole(fd, 3 * MiB - 4 * KiB, 64 * KiB), 'punched the source')
  } finally {
    closeSync(fd)
  }
  const job = client.copy({ path: changed }, [{ path: dst }], { since: await readManifest(m) })
  const r3 = await job.result
  assert.is(r3.ok, true, JSON.stringify(r3.errors))
  assert.ok(r3.incremental && r3.incremental.writtenBytes > 0 && r3.incremental.writtenBytes < SIZE, JSON.stringify(r3.incremental))
  assert.ok(cmpFiles(changed, dst), 'the data that became a hole reads back as zeros')
})

test.run()
