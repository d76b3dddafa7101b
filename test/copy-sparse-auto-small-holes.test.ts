import { closeSync, openSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createClient, type CopyClient } from '../src/index.js'
import { nativeBackend } from './helpers/native.js'
import { allocatedBytes, writeSparseFile, type Piece } from './helpers/sparse.js'
import { cmpFiles, makeTempDir, removeTempDir } from './helpers/tmp.js'

/*
 * By default (sparse 'auto', as cp --sparse=auto) a new destination keeps
 * the source's holes, but only those of 64 KiB or more: a smaller one is
 * written as zeros with the data around it, so a fragmented source is
 * copied in large writes, and what will be written is preallocated in
 * large runs. A hole is measured whole, so one that crosses a chunk
 * boundary stays a hole on both sides.
 */
const test = suite('by default the source\'s holes of 64 KiB or more stay holes; smaller ones are written with the data around them')
const KiB = 1024
const MiB = 1024 * KiB
let client: CopyClient
let dir: string

test.before(async () => {
  client = await createClient({ threads: 2, chunkBytes: MiB })
})
test.after(async () => {
  await client.destroy()
})
test.before.each(() => {
  dir = makeTempDir('copy-sparse-auto-small-holes')
})
test.after.each(() => {
  removeTempDir(dir)
})

/** 4 KiB of data every 8 KiB from `from` up to `to`: 4 KiB holes between. */
function fragmented(from: number, to: number): Piece[] {
  const out: Piece[] = []
  for (let at = from; at < to; at += 8 * KiB) out.push({ offset: at, length: 4 * KiB })
  return out
}

// Holes of 64 KiB at the start, a 60 KiB one, 64 KiB across the first chunk
// boundary (32 KiB on each side), 128 KiB inside a chunk, 4 KiB ones across
// the second boundary, and 100 KiB to the end of the file.
const SIZE = 2660 * KiB
const PIECES: Piece[] = [
  ...fragmented(64 * KiB, 512 * KiB),
  { offset: 508 * KiB, length: 4 * KiB },
  { offset: 572 * KiB, length: 420 * KiB },
  { offset: 1056 * KiB, length: 4 * KiB },
  ...fragmented(1188 * KiB, 2560 * KiB),
]
/** The holes a new destination keeps: the source's of 64 KiB or more. */
const KEPT = [[0, 64 * KiB], [992 * KiB, 1056 * KiB], [1060 * KiB, 1188 * KiB], [2560 * KiB, SIZE]]
const KEPT_BYTES = KEPT.reduce((n, [a, b]) => n + (b as number) - (a as number), 0)

/** A file's holes as [start, end) pairs, from SEEK_HOLE and SEEK_DATA (the end of the file is not one). */
function holesOf(path: string): number[][] {
  const io = nativeBackend()
  const fd = openSync(path, 'r')
  try {
    const size = statSync(path).size
    const out: number[][] = []
    for (let pos = 0; pos < size;) {
      const hole = io.seekHole(fd, pos)
      if (hole < 0 || hole >= size) break
      const data = io.seekData(fd, hole)
      const end = data < 0 ? size : data
      out.push([hole, end])
      pos = end
    }
    return out
  } finally {
    closeSync(fd)
  }
}

test('a new file gets the source\'s holes of 64 KiB or more, across chunk boundaries too, and zeros written in the smaller ones', async () => {
  const src = join(dir, 'src.img')
  const dst = join(dir, 'dst.img')
  writeSparseFile(src, SIZE, PIECES)
  // The source as the file system has it: every hole, the 4 KiB ones and the 60 KiB one too.
  const source = holesOf(src)
  assert.ok(source.some(([a, b]) => (b as number) - (a as number) === 4 * KiB), 'the source has 4 KiB holes')
  assert.ok(source.some(([a, b]) => a === 512 * KiB && b === 572 * KiB), 'and a 60 KiB one')
  const r = await client.copy({ path: src }, [{ path: dst }], { verify: 'readback' }).result
  assert.is(r.ok, true, JSON.stringify(r.errors))
  assert.ok(cmpFiles(src, dst), 'byte-identical')
  assert.equal(holesOf(dst), KEPT)
  assert.is(r.holeBytes, KEPT_BYTES)
})

test('what will be written is preallocated as one run per kept hole\'s gap, small holes included, kept holes not', async () => {
  const src = join(dir, 'src.img')
  const dst = join(dir, 'dst.img')
  writeSparseFile(src, SIZE, PIECES)
  // Cancelled before its first chunk: the destination holds what was preallocated, nothing written.
  const r = await client.copy({ path: src }, [{ path: dst }], { signal: AbortSignal.abort() }).result
  assert.is(r.cancelled, true)
  assert.is(r.completedBytes, 0)
  assert.is(statSync(dst).size, SIZE)
  assert.is(allocatedBytes(dst), SIZE - KEPT_BYTES)
})

test('a source fragmented past 4,096 small holes is preallocated as far as they reach, and the rest allocated as written', async () => {
  const src = join(dir, 'src.img')
  const dst = join(dir, 'dst.img')
  // 6,144 holes of 4 KiB: the walk stops after 4,096 of them, at 32 MiB.
  writeSparseFile(src, 48 * MiB, fragmented(0, 48 * MiB))
  const r = await client.copy({ path: src }, [{ path: dst }], { signal: AbortSignal.abort() }).result
  assert.is(r.cancelled, true)
  const walked = 32 * MiB
  assert.ok(allocatedBytes(dst) >= walked && allocatedBytes(dst) <= walked + 64 * KiB, `preallocated ${allocatedBytes(dst)} of 48 MiB`)
  // Copied, every 4 KiB hole is written: the file is all data.
  const full = await client.copy({ path: src }, [{ path: join(dir, 'full.img') }]).result
  assert.is(full.ok, true, JSON.stringify(full.errors))
  assert.is(full.holeBytes, 0)
  assert.ok(cmpFiles(src, join(dir, 'full.img')))
  assert.equal(holesOf(join(dir, 'full.img')), [])
})

test.run()
