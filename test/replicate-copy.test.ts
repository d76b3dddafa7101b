import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createClient, type CopyClient, type ReplicateRange } from '../src/index.js'
import { mountFaultFsIn } from './helpers/faultfs.js'
import { mountTmpfs, unmount } from './helpers/mounts.js'
import { logSkip, skipUnlessRoot } from './helpers/root.js'
import { makeTempDir, readRange, removeTempDir, writePatternFile, writeRandomFile } from './helpers/tmp.js'
import { refuses } from './helpers/refuses.js'

const test = suite('replicate with type copy')
const KiB = 1024
const MiB = 1024 * KiB
let client: CopyClient
let dir: string

test.before(async () => {
  client = await createClient({ threads: 4, chunkBytes: 64 * KiB })
})
test.after(async () => {
  await client.destroy()
})
test.before.each(() => {
  dir = makeTempDir('replicate-copy-')
})
test.after.each(() => {
  removeTempDir(dir)
})

/** What the file holds after the ranges are applied, read first and written after (memmove). */
function expected(before: Buffer, src: Buffer, ranges: ReplicateRange[]): Buffer {
  const out = Buffer.from(before)
  for (const r of ranges) src.copy(out, r.dstOffset, r.srcOffset, r.srcOffset + r.length)
  return out
}

test('ranges go to their own offsets in another file, and bytes between them are untouched', async () => {
  const src = join(dir, 'src.img')
  const dst = join(dir, 'dst.img')
  writeRandomFile(src, 4 * MiB, 1)
  writePatternFile(dst, 5 * MiB, 0xee)
  const ranges = [
    { srcOffset: 0, dstOffset: 3 * MiB, length: 100 * KiB + 3 },
    { srcOffset: 2 * MiB + 17, dstOffset: 5, length: MiB },
    { srcOffset: 4 * MiB - 4096, dstOffset: 4 * MiB + 1, length: 4096 },
  ]
  const before = readFileSync(dst)
  const r = await client.replicate(src, dst, ranges, { type: 'copy', verify: 'readback' }).result
  assert.is(r.ok, true, JSON.stringify(r.errors))
  assert.is(r.method, 'copy')
  assert.is(r.totalBytes, 100 * KiB + 3 + MiB + 4096)
  assert.ok(readFileSync(dst).equals(expected(before, readFileSync(src), ranges)))
  assert.is(statSync(dst).size, 5 * MiB)
})

for (const [name, shift] of [['forward', 4096 * 3 + 5], ['backward', -(4096 * 3 + 5)], ['by one byte', 1], ['by a whole chunk', 64 * KiB]] as const) {
  test(`a range overlapping itself in one file, moved ${name}, gives what memmove gives`, async () => {
    const file = join(dir, 'self.img')
    writeRandomFile(file, 2 * MiB, 2)
    const before = readFileSync(file)
    const range = { srcOffset: 200 * KiB + 7, dstOffset: 200 * KiB + 7 + shift, length: MiB + 333 }
    const r = await client.replicate(file, file, [range], { type: 'copy' }).result
    assert.is(r.ok, true, JSON.stringify(r.errors))
    const want = Buffer.from(before)
    want.copyWithin(range.dstOffset, range.srcOffset, range.srcOffset + range.length)
    assert.ok(readFileSync(file).equals(want))
  })
}

test('an overlapping move waits for slow earlier reads before it overwrites their source bytes', async () => {
  const fs = await mountFaultFsIn(dir)
  if (typeof fs === 'string') return logSkip(fs)
  try {
    const file = join(fs.mountDir, 'slow.img')
    writeRandomFile(file, 2 * MiB, 8)
    const before = readFileSync(file)
    const range = { srcOffset: 0, dstOffset: 100 * KiB, length: MiB }
    // Tasks run from the top down; the first one's source read is slow, and
    // the tasks after it write over exactly those source bytes.
    fs.setRules([{ op: 'read', path: 'slow.img', offset: MiB - 64 * KiB, length: 64 * KiB, delayMs: 400, times: 1 }])
    const r = await client.replicate(file, file, [range], { type: 'copy', direct: 'never' }).result
    assert.is(r.ok, true, JSON.stringify(r.errors))
    assert.ok(fs.events().some((e) => e.action.startsWith('delay')), 'the slow read happened')
    const want = Buffer.from(before)
    want.copyWithin(range.dstOffset, range.srcOffset, range.srcOffset + range.length)
    assert.ok(readFileSync(file).equals(want))
  } finally {
    await fs.unmount()
  }
})

test('a chain of ranges in one file (A to B, B to C) reads every source before overwriting it', async () => {
  const file = join(dir, 'chain.img')
  writeRandomFile(file, 4 * MiB, 3)
  const before = readFileSync(file)
  const ranges = [
    { srcOffset: 0, dstOffset: MiB, length: MiB },
    { srcOffset: MiB, dstOffset: 2 * MiB, length: MiB },
    { srcOffset: 2 * MiB, dstOffset: 3 * MiB, length: MiB - 5 },
  ]
  const r = await client.replicate(file, file, ranges, { type: 'copy', verify: 'hash' }).result
  assert.is(r.ok, true, JSON.stringify(r.errors))
  assert.ok(readFileSync(file).equals(expected(before, before, ranges)))
})

test('ranges that swap two areas of one file are staged through a scratch file: every source is read before it is overwritten', async () => {
  const file = join(dir, 'swap.img')
  writeRandomFile(file, 3 * MiB, 4)
  const before = readFileSync(file)
  const ranges = [
    { srcOffset: 0, dstOffset: MiB + 5, length: MiB },
    { srcOffset: MiB + 5, dstOffset: 0, length: MiB },
    { srcOffset: 2 * MiB + 100, dstOffset: 2 * MiB + 50, length: 4096 },
  ]
  const r = await client.replicate(file, file, ranges, { type: 'copy', verify: 'readback' }).result
  assert.is(r.ok, true, JSON.stringify(r.errors))
  assert.is(r.totalBytes, 2 * MiB + 4096)
  // Progress and completion count the bytes that reached their destinations, once.
  assert.equal(r.completed, [{ offset: 0, length: 2 * MiB + 4096 }])
  assert.ok(readFileSync(file).equals(expected(before, before, ranges)))
  assert.equal(readdirSync(dir), ['swap.img'], 'the scratch file leaves nothing behind')
})

test('when staging fails (no room for the scratch copy), the file is not written and the ranges say why', async () => {
  const why = skipUnlessRoot('mounts a small tmpfs')
  if (why) return logSkip(why)
  const mnt = join(dir, 'small')
  await mountTmpfs(mnt, 3 * MiB)
  try {
    const file = join(mnt, 'swap.img')
    writeRandomFile(file, 2 * MiB + 512 * KiB, 9)
    const before = readFileSync(file)
    const ranges = [
      { srcOffset: 0, dstOffset: MiB, length: MiB },
      { srcOffset: MiB, dstOffset: 0, length: MiB },
    ]
    const r = await client.replicate(file, file, ranges, { type: 'copy', ignoreErrors: true }).result
    assert.is(r.ok, false)
    assert.ok(readFileSync(file).equals(before), 'nothing was written to the file')
    // Every destination error is a destination range, never an offset in the scratch file.
    const dest = r.errors.filter((e) => e.dest === 0)
    assert.ok(dest.length > 0 && dest.every((e) => e.code === 'STAGING_FAILED'), JSON.stringify(r.errors))
    assert.ok(dest.every((e) => e.offset >= 0 && e.offset + e.length <= 2 * MiB), JSON.stringify(dest))
    // Together they cover both destination ranges, and the scratch file's ENOSPC is said.
    const covered = new Uint8Array(2 * MiB / KiB)
    for (const e of dest) covered.fill(1, Math.floor(e.offset / KiB), Math.ceil((e.offset + e.length) / KiB))
    assert.ok(covered.every((b) => b === 1), 'every destination byte is named')
    assert.ok(dest.some((e) => /ENOSPC/.test(e.message)), JSON.stringify(dest))
    assert.equal(r.completed.filter((e) => e.length > 0), [])
  } finally {
    await unmount(mnt)
  }
})

test('staging packs small ranges end to end: a swap in 512-byte ranges needs no more scratch than its bytes', async () => {
  const why = skipUnlessRoot('mounts a small tmpfs')
  if (why) return logSkip(why)
  const mnt = join(dir, 'packed')
  // The file and one scratch copy of it fit; a page per 512-byte range (64 MiB) would not.
  await mountTmpfs(mnt, 20 * MiB)
  try {
    const file = join(mnt, 'swap.img')
    writeRandomFile(file, 8 * MiB, 10)
    const before = readFileSync(file)
    const half = 4 * MiB
    const ranges = []
    for (let at = 0; at < half; at += 512) {
      ranges.push({ srcOffset: at, dstOffset: half + at, length: 512 }, { srcOffset: half + at, dstOffset: at, length: 512 })
    }
    const r = await client.replicate(file, file, ranges, { type: 'copy' }).result
    assert.is(r.ok, true, JSON.stringify(r.errors.slice(0, 3)))
    const after = readFileSync(file)
    assert.ok(after.subarray(0, half).equals(before.subarray(half)), 'the halves swapped')
    assert.ok(after.subarray(half).equals(before.subarray(0, half)))
  } finally {
    await unmount(mnt)
  }
})

test('overlapping destination ranges are refused, naming the two ranges', () => {
  const src = join(dir, 'src.img')
  writeRandomFile(src, MiB, 5)
  const dst = join(dir, 'dst.img')
  refuses(() => client.replicate(src, dst, [
    { srcOffset: 0, dstOffset: 0, length: 8192 },
    { srcOffset: 0, dstOffset: 1 * MiB, length: 10 },
    { srcOffset: 8192, dstOffset: 4096, length: 8192 },
  ], { type: 'copy' }), 'INVALID_ARGUMENT', /ranges\[2\]: destination bytes 4096\.\.12288 overlap ranges\[0\] destination bytes 0\.\.8192/)
  assert.not.ok(existsSync(dst))
})

test('ranges past the end of the source, negative, fractional or empty are refused before anything is created', () => {
  const src = join(dir, 'src.img')
  writeRandomFile(src, MiB, 6)
  const dst = join(dir, 'dst.img')
  refuses(() => client.replicate(src, dst, [{ srcOffset: MiB - 10, dstOffset: 0, length: 11 }], { type: 'copy' }), 'INVALID_ARGUMENT', /ranges\[0\]: source bytes 1048566\.\.1048577 pass the end/)
  refuses(() => client.replicate(src, dst, [{ srcOffset: -1, dstOffset: 0, length: 1 }], { type: 'copy' }), 'INVALID_ARGUMENT', /ranges\[0\]\.srcOffset: must be a whole number/)
  refuses(() => client.replicate(src, dst, [{ srcOffset: 0, dstOffset: 0.5, length: 1 }], { type: 'copy' }), 'INVALID_ARGUMENT', /ranges\[0\]\.dstOffset/)
  refuses(() => client.replicate(src, dst, [{ srcOffset: 0, dstOffset: 0, length: 0 }], { type: 'copy' }), 'INVALID_ARGUMENT', /ranges\[0\]\.length: must be at least 1 byte/)
  refuses(() => client.replicate(src, dst, [], { type: 'copy' }), 'INVALID_ARGUMENT', /ranges: at least one/)
  refuses(() => client.replicate(src, dst, [{ srcOffset: 0, dstOffset: 0, length: 1 }], { type: 'move' as never }), 'INVALID_ARGUMENT', /type: must be 'clone' or 'copy'/)
  assert.not.ok(existsSync(dst))
})

test('100,000 ranges of 512 bytes are batched into far fewer tasks and land byte-exact', async () => {
  const n = 100_000
  const block = 512
  const src = join(dir, 'src.img')
  const dst = join(dir, 'dst.img')
  writeRandomFile(src, n * block, 7)
  // Block i goes to block n - 1 - i: every range lands somewhere else.
  const ranges = Array.from({ length: n }, (_, i) => ({ srcOffset: i * block, dstOffset: (n - 1 - i) * block, length: block }))
  let tasks = 0
  const job = client.replicate(src, dst, ranges, { type: 'copy' })
  job.on('progress', () => tasks++)
  const r = await job.result
  assert.is(r.ok, true, JSON.stringify(r.errors.slice(0, 3)))
  assert.ok(tasks <= n / 100, `${tasks} tasks for ${n} ranges`)
  const s = readFileSync(src)
  const d = readFileSync(dst)
  for (let i = 0; i < n; i++) {
    if (!s.subarray(i * block, (i + 1) * block).equals(d.subarray((n - 1 - i) * block, (n - i) * block))) {
      assert.unreachable(`block ${i} did not land at block ${n - 1 - i}`)
    }
  }
  assert.ok(readRange(dst, 0, 16).length === 16)
})

test.run()
