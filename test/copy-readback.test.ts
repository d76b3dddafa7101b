import { join } from 'node:path'
import { xxhash3 } from 'hash-wasm'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createClient, type CopyClient, type CopyResult, type RangeFailure } from '../src/index.js'
import { mountFaultFsIn, type FaultEvent, type FaultRule } from './helpers/faultfs.js'
import { logSkip } from './helpers/root.js'
import { cmpFiles, makeTempDir, readRange, removeTempDir, writeRandomFile } from './helpers/tmp.js'

const test = suite('read-back verification')
const KiB = 1024
const MiB = 1024 * KiB
const CHUNK = 64 * KiB
let client: CopyClient
let dir: string

test.before(async () => {
  client = await createClient({ threads: 2, chunkBytes: CHUNK })
})
test.after(async () => {
  await client.destroy()
})
test.before.each(() => {
  dir = makeTempDir('copy-readback')
})
test.after.each(() => {
  removeTempDir(dir)
})

const LENGTH = MiB
// Reads of destination 1 come back with bytes [CORRUPT_AT, +CORRUPT_LEN)
// flipped. The range straddles the boundary between chunks 2 and 3, and in
// 4 KiB blocks it is [188 KiB, 196 KiB) + [196 KiB, 200 KiB) = 192512 + 8192.
const CORRUPT_AT = 3 * CHUNK - 3000
const CORRUPT_LEN = 6000
const BLOCKS = { offset: 192512, length: 8192 }

/**
 * Copies a fresh source to a disk file (destination 0) and to faultfs
 * (destination 1, whose reads come back corrupted), checks what can be checked
 * whatever the verify mode, and hands the result and the fault log to `check`.
 */
async function copyWithCorruptReads(verify: 'hash' | 'readback', check: (r: CopyResult, events: FaultEvent[]) => void): Promise<void> {
  const rule: FaultRule = { op: 'read', path: 'dst1.img', offset: CORRUPT_AT, length: CORRUPT_LEN, corrupt: true }
  const fs = await mountFaultFsIn(dir, [rule])
  if (typeof fs === 'string') return logSkip(fs)
  try {
    const src = join(dir, 'src.img')
    const dst0 = join(dir, 'dst0.img')
    const dst1 = join(fs.mountDir, 'dst1.img')
    writeRandomFile(src, LENGTH, 31)
    // ignoreErrors: a mismatch would otherwise stop new chunks, and every chunk should be written.
    const r = await client.copy({ path: src }, [{ path: dst0 }, { path: dst1 }], { verify, ignoreErrors: true }).result
    assert.is(r.readErr, false)
    // What was written is right on both: only reads through faultfs are wrong.
    assert.ok(cmpFiles(src, dst0))
    assert.ok(cmpFiles(src, join(fs.backingDir, 'dst1.img')))
    check(r, fs.events())
  } finally {
    await fs.unmount()
  }
}

test("verify 'readback' reports the corrupted blocks of the destination whose reads come back wrong", async () => {
  await copyWithCorruptReads('readback', (r, events) => {
    assert.is(r.writeErr, 0b10)
    assert.is(r.ok, false)
    assert.is(r.errors.length, 1, JSON.stringify(r.errors))
    const e = r.errors[0] as RangeFailure
    assert.equal({ dest: e.dest, code: e.code, syscall: e.syscall, errno: e.errno }, { dest: 1, code: 'VERIFY_MISMATCH', syscall: 'readback', errno: 0 })
    assert.equal({ offset: e.offset, length: e.length }, BLOCKS)
    assert.ok(events.some((ev) => ev.op === 'read' && ev.action === 'corrupt'), 'the destination was read back')
    // The two chunks holding the corrupted blocks are not complete; the rest are.
    assert.equal(r.completed, [{ offset: 0, length: 2 * CHUNK }, { offset: 4 * CHUNK, length: LENGTH - 4 * CHUNK }])
  })
})

test("a mismatch found in two chunks is listed once, with a message naming the whole range", async () => {
  await copyWithCorruptReads('readback', (r) => {
    assert.is(r.errors.length, 1, JSON.stringify(r.errors))
    const e = r.errors[0] as RangeFailure
    assert.equal({ offset: e.offset, length: e.length }, BLOCKS)
    assert.match(e.message, `bytes ${BLOCKS.offset}..${BLOCKS.offset + BLOCKS.length} differ`)
  })
})

test("verify 'hash' does not read destinations back, so the same corruption goes unseen", async () => {
  await copyWithCorruptReads('hash', (r, events) => {
    assert.is(r.writeErr, 0, JSON.stringify(r.errors))
    assert.is(r.ok, true)
    assert.equal(r.errors, [])
    assert.equal(events, [], 'no read of a destination reached faultfs')
    assert.is(r.completedBytes, LENGTH)
  })
})

test("verify 'hash' returns a digest per chunk equal to xxh3-64 of that chunk's source bytes", async () => {
  const src = join(dir, 'src.img')
  const dst = join(dir, 'dst.img')
  const srcOffset = 100 * KiB + 13
  const length = 3 * CHUNK + 7 * KiB + 5
  writeRandomFile(src, 512 * KiB, 32)
  const r = await client.copy({ path: src, offset: srcOffset, length }, [{ path: dst, offset: 0 }], { verify: 'hash' }).result
  assert.is(r.ok, true, JSON.stringify(r.errors))
  assert.ok(cmpFiles(src, dst, { aOffset: srcOffset, length }))
  assert.ok(typeof r.digest === 'string' && /^[0-9a-f]{16}$/.test(r.digest), `digest ${String(r.digest)}`)

  // The chunks tile [0, length): in order, touching, first one up to the next CHUNK multiple of the source.
  assert.is(r.chunks.length, 4)
  let at = 0
  for (const c of r.chunks) {
    assert.is(c.offset, at)
    at += c.length
  }
  assert.is(at, length)
  assert.is(r.chunks[0]?.length, 128 * KiB - srcOffset)

  for (const c of r.chunks) {
    const expected = await xxhash3(readRange(src, srcOffset + c.offset, c.length))
    assert.is(c.digest, expected, `chunk at ${c.offset}+${c.length}`)
  }
})

test.run()
