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

test('with ignoreErrors every readable block is copied and each unreadable run of 512-byte blocks is listed exactly', async () => {
  const fails = [
    { offset: SRC_OFFSET + 5 * CHUNK + 3 * KiB + 7, length: 100 },
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
    // A file's logical block is 512 bytes: each failure, rounded out to whole blocks.
    const bad = fails.map((f) => {
      const from = Math.floor(f.offset / 512) * 512
      return { offset: from, length: Math.ceil((f.offset + f.length) / 512) * 512 - from }
    })
    assert.equal(r.errors.map((e) => ({ offset: e.offset, length: e.length })), bad, JSON.stringify(r.errors))
    for (const e of r.errors) assert.equal([e.dest, e.code, e.errno, e.syscall], [-1, 'EIO', 5, 'pread'])

    // Every other byte is in place and counted done.
    assert.is(r.completedBytes, LENGTH - bad.reduce((n, b) => n + b.length, 0))
    const goodSpans = [
      [SRC_OFFSET, (bad[0] as { offset: number }).offset],
      [(bad[0] as { offset: number; length: number }).offset + (bad[0] as { length: number }).length, (bad[1] as { offset: number }).offset],
      [(bad[1] as { offset: number; length: number }).offset + (bad[1] as { length: number }).length, SRC_OFFSET + LENGTH],
    ] as Array<[number, number]>
    for (const [from, to] of goodSpans) {
      assert.ok(cmpFiles(src, dst, { aOffset: from, bOffset: from - SRC_OFFSET, length: to - from }), `source bytes ${from}..${to}`)
    }
    assert.equal(r.completed, goodSpans.map(([from, to]) => ({ offset: from - SRC_OFFSET, length: to - from })))
  } finally {
    await fs.unmount()
  }
})

test.run()
