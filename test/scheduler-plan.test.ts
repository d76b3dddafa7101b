import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import type { ChunkResult, ChunkTask, RangeFailure, RangeFailureCode } from '../src/protocol/protocol.js'
import { chunkAt, chunkCount, coalesceFailures, schedule, type ChunkPlan } from '../src/scheduler.js'

const test = suite('chunk planning and scheduling')
const KiB = 1024

function chunks(plan: ChunkPlan) {
  return Array.from({ length: chunkCount(plan) }, (_, i) => chunkAt(plan, i))
}

test('chunk boundaries fall on absolute multiples of the chunk size, so only the edges are unaligned', () => {
  const plan = { anchorOffsetBytes: 1000, totalBytes: 300 * KiB, chunkBytes: 64 * KiB }
  const c = chunks(plan)
  assert.equal(c[0], { offset: 0, length: 64 * KiB - 1000 })
  for (const x of c.slice(1)) assert.is((plan.anchorOffsetBytes + x.offset) % plan.chunkBytes, 0)
  assert.is(c.reduce((n, x) => n + x.length, 0), 300 * KiB)
  assert.is(c.length, 5)
})

test('a range that fits in one chunk is one chunk, and an empty range is none', () => {
  assert.equal(chunks({ anchorOffsetBytes: 5, totalBytes: 10, chunkBytes: 64 * KiB }), [{ offset: 0, length: 10 }])
  assert.is(chunkCount({ anchorOffsetBytes: 0, totalBytes: 0, chunkBytes: 64 * KiB }), 0)
})

test('touching failures of one file, code and call are merged; others are kept apart', () => {
  const f = (dest: number, offset: number, length: number, code: RangeFailureCode = 'EIO'): RangeFailure => ({ dest, offset, length, code, errno: 5, syscall: 'pwrite', message: '' })
  const merged = coalesceFailures([f(1, 100, 50), f(0, 0, 10), f(1, 50, 50), f(1, 150, 10, 'ENOSPC'), f(1, 300, 1)])
  assert.equal(merged.map((m) => [m.dest, m.offset, m.length, m.code]), [
    [0, 0, 10, 'EIO'], [1, 50, 100, 'EIO'], [1, 150, 10, 'ENOSPC'], [1, 300, 1, 'EIO'],
  ])
})

test('a merged failure whose message names its range names the merged range', () => {
  const f = (offset: number): RangeFailure => ({
    dest: 0, offset, length: 4096, code: 'VERIFY_MISMATCH', errno: 0, syscall: 'readback', message: `VERIFY_MISMATCH: d.img bytes ${offset}..${offset + 4096} differ`,
  })
  const [merged] = coalesceFailures([f(4096), f(8192), f(12288)])
  assert.is(merged?.message, 'VERIFY_MISMATCH: d.img bytes 4096..16384 differ')
})

// A runner that finishes tasks only when the test says so, to watch the window.
function manualRunner() {
  const pending: Array<{ task: ChunkTask; finish: (r: ChunkResult) => void }> = []
  const run = (task: ChunkTask) => new Promise<ChunkResult>((finish) => pending.push({ task, finish }))
  const ok = (task: ChunkTask): ChunkResult => ({
    kind: task.kind, chunkIndex: task.chunkIndex, lengthBytes: 1, digest: null, readErr: false, writeErr: 0, errors: [], directBytes: 0,
  })
  return { pending, run, ok }
}

const tick = () => new Promise((r) => setImmediate(r))
const zeroTask = (chunkIndex: number): ChunkTask => ({ kind: 'zero', chunkIndex, lengthBytes: 1, dests: [], verify: 0 })

test('no more than `inflight` chunks run at once, and chunks start in index order', async () => {
  const m = manualRunner()
  const started: number[] = []
  const outcome = schedule({
    count: 10, inflight: 3, stopOnError: true, onResult: () => undefined, run: m.run,
    makeTask: (i) => {
      started.push(i)
      return zeroTask(i)
    },
  })
  await tick()
  assert.is(m.pending.length, 3)
  for (let finished = 0; finished < 10; finished++) {
    const next = m.pending.shift()
    assert.ok(next)
    next.finish(m.ok(next.task))
    await tick()
    assert.ok(m.pending.length <= 3)
  }
  assert.equal(started, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
  assert.equal(await outcome, { cancelled: false, stopped: false, skipped: 0 })
})

test('the first error stops new chunks unless errors are ignored', async () => {
  for (const stopOnError of [true, false]) {
    const m = manualRunner()
    const outcome = schedule({ count: 6, inflight: 2, stopOnError, onResult: () => undefined, run: m.run, makeTask: zeroTask })
    await tick()
    const first = m.pending.shift()
    assert.ok(first)
    first.finish({ ...m.ok(first.task), writeErr: 1 })
    await tick()
    while (m.pending.length > 0) {
      const t = m.pending.shift()
      if (t) t.finish(m.ok(t.task))
      await tick()
    }
    const o = await outcome
    assert.is(o.stopped, stopOnError)
    assert.is(o.skipped, stopOnError ? 4 : 0)
  }
})

test('a worker that throws ends its chunk as a WORKER_FAILED error instead of hanging the job', async () => {
  const results: ChunkResult[] = []
  const outcome = await schedule({
    count: 1, inflight: 1, stopOnError: true, onResult: (r) => results.push(r),
    run: () => Promise.reject(new Error('boom')), makeTask: zeroTask,
  })
  assert.is(outcome.skipped, 0)
  assert.is(results[0]?.errors[0]?.code, 'WORKER_FAILED')
  assert.match(results[0]?.errors[0]?.message ?? '', /boom/)
})

test('a hash chunk whose worker died is a failed read, not a success', async () => {
  const results: ChunkResult[] = []
  const src = { path: 'x', fd: 3, directFd: -1, alignBytes: 0, uncachedEdges: false, offsetBytes: 4096 }
  await schedule({
    count: 1, inflight: 1, stopOnError: true, onResult: (r) => results.push(r),
    run: () => Promise.reject(new Error('gone')), makeTask: (i) => ({ kind: 'hash', chunkIndex: i, lengthBytes: 10, src, algo: 'xxh3', chunkBytes: 10, probeCache: false }),
  })
  assert.is(results[0]?.readErr, true)
  assert.equal(results[0]?.errors.map((e) => [e.dest, e.offset, e.length]), [[-1, 4096, 10]])
})

test.run()
