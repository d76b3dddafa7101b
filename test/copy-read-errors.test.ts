import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createClient, type CopyClient, type RangeFailure } from '../src/index.js'
import { mountFaultFsIn } from './helpers/faultfs.js'
import { logSkip } from './helpers/root.js'
import { cmpFiles, makeTempDir, removeTempDir, writeRandomFile } from './helpers/tmp.js'

const test = suite('read errors on the source')
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
  dir = makeTempDir('copy-read-errors')
})
test.after.each(() => {
  removeTempDir(dir)
})

/** Start of the chunk holding absolute source byte `at` (chunks sit on multiples of CHUNK in the source). */
const chunkStart = (at: number): number => at - (at % CHUNK)

const covers = (f: RangeFailure, start: number, end: number): boolean => f.offset <= start && f.offset + f.length >= end

// The source range starts 100 KiB into the file, so source coordinates and
// range-relative coordinates differ: a failure reported relative to the range
// would not cover the failing bytes.
const SRC_OFFSET = 100 * KiB
const LENGTH = 2 * MiB

test('a read error stops new chunks and is reported as EIO from pread at its source offset', async () => {
  const failAt = SRC_OFFSET + 10 * CHUNK + 1000
  const failLen = 5000
  const fs = await mountFaultFsIn(dir, [{ op: 'read', path: 'src.img', offset: failAt, length: failLen, errno: 'EIO' }])
  if (typeof fs === 'string') return logSkip(fs)
  try {
    const src = join(fs.mountDir, 'src.img')
    const dst = join(dir, 'dst.img')
    writeRandomFile(join(fs.backingDir, 'src.img'), SRC_OFFSET + LENGTH + 7 * KiB, 11)
    const r = await client.copy({ path: src, offset: SRC_OFFSET, length: LENGTH }, [{ path: dst, offset: 0 }]).result

    assert.is(r.readErr, true)
    assert.is(r.ok, false)
    assert.is(r.writeErr, 0)
    assert.is(r.errors.length, 1, JSON.stringify(r.errors))
    const e = r.errors[0] as RangeFailure
    assert.equal([e.dest, e.code, e.errno, e.syscall], [-1, 'EIO', 5, 'pread'])
    assert.ok(covers(e, failAt, failAt + failLen), `failure ${e.offset}+${e.length} covers ${failAt}+${failLen}`)
    // No wider than the chunk that held the failing bytes.
    const start = chunkStart(failAt)
    assert.ok(e.offset >= start && e.offset + e.length <= start + CHUNK, `failure ${e.offset}+${e.length} within chunk ${start}`)

    // Stop on first error: 33 chunks in all, at most a handful in flight when chunk 11 failed.
    assert.ok(r.completedBytes < r.totalBytes, `completed ${r.completedBytes} of ${r.totalBytes}`)
    assert.ok(r.completedBytes <= 20 * CHUNK, `completed ${r.completedBytes}`)
    const lastChunk = chunkStart(SRC_OFFSET + LENGTH - 1) - SRC_OFFSET
    assert.not.ok(cmpFiles(src, dst, { aOffset: SRC_OFFSET + lastChunk, bOffset: lastChunk, length: LENGTH - lastChunk }),
      'the last chunk was never copied')
    // Everything before the failing chunk had started before it, so it finished.
    const first = r.completed[0]
    assert.ok(first && first.offset === 0 && first.length >= start - SRC_OFFSET, JSON.stringify(r.completed))
    assert.ok(cmpFiles(src, dst, { aOffset: SRC_OFFSET, bOffset: 0, length: start - SRC_OFFSET }))
  } finally {
    await fs.unmount()
  }
})

test('with ignoreErrors every chunk but the failing ones is copied and each failing range is listed', async () => {
  const fails = [
    { offset: SRC_OFFSET + 5 * CHUNK + 3 * KiB, length: 100 },
    { offset: SRC_OFFSET + 20 * CHUNK + 40 * KiB, length: 30 * KiB },
  ]
  const fs = await mountFaultFsIn(dir, fails.map((f) => ({ op: 'read', path: 'src.img', ...f, errno: 'EIO' })))
  if (typeof fs === 'string') return logSkip(fs)
  try {
    const src = join(fs.mountDir, 'src.img')
    const dst = join(dir, 'dst.img')
    writeRandomFile(join(fs.backingDir, 'src.img'), SRC_OFFSET + LENGTH, 12)
    const r = await client.copy({ path: src, offset: SRC_OFFSET, length: LENGTH }, [{ path: dst, offset: 0 }], { ignoreErrors: true }).result

    assert.is(r.readErr, true)
    assert.is(r.ok, false)
    assert.is(r.writeErr, 0)
    assert.is(r.errors.length, 2, JSON.stringify(r.errors))
    const bad = fails.map((f) => chunkStart(f.offset))
    r.errors.forEach((e, i) => {
      const f = fails[i] as { offset: number; length: number }
      assert.equal([e.dest, e.code, e.errno, e.syscall], [-1, 'EIO', 5, 'pread'])
      assert.ok(covers(e, f.offset, f.offset + f.length), `failure ${e.offset}+${e.length} covers ${f.offset}+${f.length}`)
      assert.ok(e.offset >= (bad[i] ?? 0) && e.offset + e.length <= (bad[i] ?? 0) + CHUNK)
    })

    // Every other chunk is in place, byte for byte; the two failing chunks are not counted done.
    assert.is(r.completedBytes, LENGTH - 2 * CHUNK)
    const goodSpans = [
      [SRC_OFFSET, bad[0] as number],
      [(bad[0] as number) + CHUNK, bad[1] as number],
      [(bad[1] as number) + CHUNK, SRC_OFFSET + LENGTH],
    ]
    for (const [from, to] of goodSpans as Array<[number, number]>) {
      assert.ok(cmpFiles(src, dst, { aOffset: from, bOffset: from - SRC_OFFSET, length: to - from }), `source bytes ${from}..${to}`)
    }
    assert.equal(r.completed, goodSpans.map(([from, to]) => ({ offset: (from as number) - SRC_OFFSET, length: (to as number) - (from as number) })))
  } finally {
    await fs.unmount()
  }
})

test.run()
