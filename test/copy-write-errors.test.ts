import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createClient, type CopyClient, type RangeFailure } from '../src/index.js'
import { mountFaultFsIn, type FaultFs } from './helpers/faultfs.js'
import { logSkip } from './helpers/root.js'
import { cmpFiles, makeTempDir, removeTempDir, writeRandomFile } from './helpers/tmp.js'

const test = suite('write errors on one destination')
const KiB = 1024
const MiB = 1024 * KiB
const CHUNK = 64 * KiB
let client: CopyClient
let dir: string

test.before(async () => {
  client = await createClient({ threads: 3, chunkBytes: CHUNK })
})
test.after(async () => {
  await client.destroy()
})
test.before.each(() => {
  dir = makeTempDir('copy-write-errors')
})
test.after.each(() => {
  removeTempDir(dir)
})

/** Lets every pending callback, timer and I/O completion run. */
const settle = (): Promise<void> => new Promise((done) => setTimeout(done, 50))

const LENGTH = 2 * MiB
// Destination 1 is written at another offset than the others, so its
// failures must be reported in its own coordinates.
const OFFSETS = [0, 8 * KiB, 4 * KiB]

interface Setup {
  fs: FaultFs
  src: string
  dsts: string[]
}

/** Source and destinations 0 and 2 on the disk, destination 1 on faultfs failing writes over [offset, +length). */
async function setup(failOffset: number, failLength: number): Promise<Setup | string> {
  const fs = await mountFaultFsIn(dir, [{ op: 'write', path: 'dst1.img', offset: failOffset, length: failLength, errno: 'EIO' }])
  if (typeof fs === 'string') return fs
  const src = join(dir, 'src.img')
  writeRandomFile(src, LENGTH, 21)
  return { fs, src, dsts: [join(dir, 'dst0.img'), join(fs.mountDir, 'dst1.img'), join(dir, 'dst2.img')] }
}

function checkFailures(errors: RangeFailure[], failOffset: number, failLength: number): void {
  assert.ok(errors.length >= 1)
  for (const e of errors) assert.equal([e.dest, e.code, e.errno, e.syscall], [1, 'EIO', 5, 'pwrite'], JSON.stringify(e))
  const covered = errors.some((e) => e.offset <= failOffset && e.offset + e.length >= failOffset + failLength)
  assert.ok(covered, `${JSON.stringify(errors)} covers ${failOffset}+${failLength}`)
}

test('a write error on the middle destination sets only bit 1, and notify gets the same values and context once', async () => {
  // In the last chunk, so every chunk has started before the error stops new ones.
  const failOffset = (OFFSETS[1] as number) + LENGTH - 20 * KiB
  const failLength = 4 * KiB
  const s = await setup(failOffset, failLength)
  if (typeof s === 'string') return logSkip(s)
  try {
    const context = { tenant: 'write-errors' }
    const calls: Array<[boolean, number, unknown]> = []
    const r = await client.copy(
      { path: s.src, offset: 0, length: LENGTH },
      s.dsts.map((path, i) => ({ path, offset: OFFSETS[i] })),
      { notify: (readErr, writeErr, ctx) => calls.push([readErr, writeErr, ctx]), context },
    ).result
    await settle()

    assert.is(r.writeErr, 0b010)
    assert.is(r.readErr, false)
    assert.is(r.ok, false)
    checkFailures(r.errors, failOffset, failLength)
    assert.ok(cmpFiles(s.src, s.dsts[0] as string, { bOffset: OFFSETS[0], length: LENGTH }), 'destination 0')
    assert.ok(cmpFiles(s.src, s.dsts[2] as string, { bOffset: OFFSETS[2], length: LENGTH }), 'destination 2')

    assert.is(calls.length, 1)
    const [readErr, writeErr, ctx] = calls[0] as [boolean, number, unknown]
    assert.is(readErr, r.readErr)
    assert.is(writeErr, r.writeErr)
    assert.is(ctx, context, 'the very object passed in')
  } finally {
    await s.fs.unmount()
  }
})

test('with ignoreErrors an EIO on destination 1 stops writes to it; the others are whole copies, and every range it lacks is listed', async () => {
  // Straddles the boundary between two chunks (chunks sit on the source's multiples of CHUNK).
  const failOffset = (OFFSETS[1] as number) + 10 * CHUNK - 2 * KiB
  const failLength = 4 * KiB
  const s = await setup(failOffset, failLength)
  if (typeof s === 'string') return logSkip(s)
  try {
    let calls = 0
    const r = await client.copy(
      { path: s.src, offset: 0, length: LENGTH },
      s.dsts.map((path, i) => ({ path, offset: OFFSETS[i] })),
      { ignoreErrors: true, notify: () => calls++, verify: 'readback' },
    ).result
    await settle()

    assert.is(r.writeErr, 0b010)
    assert.is(r.readErr, false)
    assert.is(calls, 1)
    assert.ok(r.errors.every((e) => e.dest === 1), JSON.stringify(r.errors))
    checkFailures(r.errors.filter((e) => e.code === 'EIO'), failOffset, failLength)
    assert.ok(cmpFiles(s.src, s.dsts[0] as string, { bOffset: OFFSETS[0], length: LENGTH }), 'destination 0')
    assert.ok(cmpFiles(s.src, s.dsts[2] as string, { bOffset: OFFSETS[2], length: LENGTH }), 'destination 2')

    // Chunk 9 failed on destination 1; chunks dispatched after that skipped it (DEST_STOPPED).
    // Together the failures and the completed extents cover the range exactly once.
    const d1 = OFFSETS[1] as number
    const failed = r.errors.reduce((n, e) => n + e.length, 0)
    assert.is(r.completedBytes + failed, LENGTH)
    assert.ok(r.errors.some((e) => e.code === 'DEST_STOPPED'), 'later chunks were not written to it')
    for (const c of r.completed) {
      assert.ok(cmpFiles(s.src, s.dsts[1] as string, { aOffset: c.offset, bOffset: d1 + c.offset, length: c.length }), `destination 1 at ${c.offset}`)
    }
  } finally {
    await s.fs.unmount()
  }
})

test('without ignoreErrors a write error early in the range stops new chunks', async () => {
  const failOffset = (OFFSETS[1] as number) + 2 * CHUNK + 100
  const s = await setup(failOffset, 1)
  if (typeof s === 'string') return logSkip(s)
  try {
    const r = await client.copy({ path: s.src, offset: 0, length: LENGTH }, s.dsts.map((path, i) => ({ path, offset: OFFSETS[i] }))).result
    assert.is(r.writeErr, 0b010)
    assert.is(r.readErr, false)
    checkFailures(r.errors, failOffset, 1)
    // 32 chunks; three workers with six in flight cannot get far past chunk 2.
    assert.ok(r.completedBytes <= 12 * CHUNK, `completed ${r.completedBytes}`)
    assert.not.ok(cmpFiles(s.src, s.dsts[0] as string, { aOffset: LENGTH - CHUNK, bOffset: LENGTH - CHUNK, length: CHUNK }),
      'the last chunk never reached destination 0')
  } finally {
    await s.fs.unmount()
  }
})

test('a destination whose fdatasync fails gets its bit, and no extent is called completed', async () => {
  const fs = await mountFaultFsIn(dir, [{ op: 'fsync', path: 'dst.img', errno: 'EIO' }])
  if (typeof fs === 'string') return logSkip(fs)
  try {
    const src = join(dir, 'src.img')
    writeRandomFile(src, 300 * KiB, 21)
    const r = await client.copy({ path: src }, [{ path: join(dir, 'ok.img') }, { path: join(fs.mountDir, 'dst.img') }]).result
    assert.is(r.writeErr, 0b10)
    assert.ok(r.errors.some((e) => e.dest === 1 && e.code === 'EIO' && e.syscall === 'fdatasync' && e.offset === 0 && e.length === 300 * KiB), JSON.stringify(r.errors))
    assert.equal(r.completed, [])
    assert.is(r.completedBytes, 0)
    assert.is(r.ok, false)
  } finally {
    await fs.unmount()
  }
})

test.run()
