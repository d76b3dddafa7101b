import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createClient, type CopyResult, type Job } from '../src/index.js'
import { Throttle } from '../src/throttle.js'
import { refuses } from './helpers/refuses.js'
import { cmpFiles, makeTempDir, removeTempDir, writeRandomFile } from './helpers/tmp.js'

const test = suite('throttling: one rate for every job of a client')
const ROOT = fileURLToPath(new URL('..', import.meta.url))
const MiB = 1024 * 1024
let dir: string

test.before.each(() => {
  dir = makeTempDir('throttle')
})
test.after.each(() => {
  removeTempDir(dir)
})

/*
 * The schedule is checked on a clock the test turns by hand. Real copies are
 * checked only against what load cannot break: a chunk may not start before
 * the bytes ahead of it have had their time at the rate, so N chunks take at
 * least (N - 1) chunks' time, however slow the machine. How close a copy
 * comes to the limit is a speed figure, and speed lives in the benchmarks.
 */

/** The least time the rate allows for `bytes` in chunks of `chunkBytes`: every chunk but the first waits its turn. */
const leastMs = (bytes: number, chunkBytes: number, rate: number) => ((bytes - chunkBytes) / rate) * 1000

/** Resolves at the job's first progress event: a chunk has gone through, so the job runs under the throttle. */
const firstChunk = (job: Job) => new Promise<void>((resolve) => job.once('progress', () => resolve()))

test('the schedule: each chunk waits for the bytes before it at the rate; a late start is made up, an idle spell is not', () => {
  let now = 1000
  const t = new Throttle(MiB, () => now)
  assert.is(t.waitMs(), 0, 'the first chunk goes at once')
  t.take(MiB)
  assert.is(t.waitMs(), 1000)
  now += 400
  assert.is(t.waitMs(), 600)
  now += 630
  // 30 ms late: within the catch-up window, so the next slot counts from the missed one.
  assert.is(t.waitMs(), 0)
  t.take(MiB / 2)
  assert.is(t.waitMs(), 1000 + 500 - 1030)
  // Idle for a long time: the schedule restarts from now, no burst of saved-up slots.
  now += 10_000
  t.take(MiB)
  assert.is(t.waitMs(), 1000)
})

test('the schedule: a new rate applies from the next chunk; null lifts the limit and wakes a waiting job', () => {
  let now = 0
  const t = new Throttle(4096, () => now)
  let woken = 0
  const unsubscribe = t.onChange(() => woken++)
  t.take(64 * 1024)
  assert.is(t.waitMs(), 16_000)
  t.set(null)
  assert.is(woken, 1)
  assert.is(t.waitMs(), 0)
  assert.is(t.rate, null)
  t.set(2 * MiB)
  assert.is(woken, 2)
  // The old rate's queue is not kept: the new one starts now.
  assert.is(t.waitMs(), 0)
  t.take(MiB)
  now += 100
  assert.is(t.waitMs(), 400)
  unsubscribe()
  t.set(null)
  assert.is(woken, 2, 'no call after unsubscribing')
})

// A limit far below what the disk does, so that it, not the disk, sets the pace.
const RATE = 32 * MiB

test('a copy never runs faster than the limit, and stays byte-exact', async () => {
  const client = await createClient({ threads: 2, chunkBytes: MiB, rateBytesPerSec: RATE })
  try {
    const src = join(dir, 'src.img')
    writeRandomFile(src, 64 * MiB, 1)
    const r = await client.copy({ path: src }, [{ path: join(dir, 'dst.img') }]).result
    assert.is(r.ok, true)
    assert.ok(r.elapsedMs >= leastMs(64 * MiB, MiB, RATE), `${r.elapsedMs} ms for 64 MiB at ${RATE / MiB} MiB/s`)
    assert.ok(cmpFiles(src, join(dir, 'dst.img')))
  } finally {
    await client.destroy()
  }
})

test('two jobs at once share the one limit', async () => {
  const client = await createClient({ threads: 2, chunkBytes: MiB, rateBytesPerSec: RATE })
  try {
    const srcs = [join(dir, 'a.img'), join(dir, 'b.img')]
    srcs.forEach((s, i) => writeRandomFile(s, 32 * MiB, 10 + i))
    const started = performance.now()
    const rs = await Promise.all(srcs.map((s) => client.copy({ path: s }, [{ path: `${s}.copy` }]).result))
    const ms = performance.now() - started
    const total = rs.reduce((n, r) => n + r.completedBytes, 0)
    assert.is(total, 64 * MiB)
    // Each alone would be allowed 32 MiB in ~1 s; sharing, the two together take the 64 MiB's time.
    assert.ok(ms >= leastMs(total, MiB, RATE), `together ${ms} ms for 64 MiB at ${RATE / MiB} MiB/s`)
    for (const s of srcs) assert.ok(cmpFiles(s, `${s}.copy`))
  } finally {
    await client.destroy()
  }
})

test('setRate applies to running jobs from their next chunk; null lifts the limit', async () => {
  // 48 MiB at 1 MiB/s would take 47 s or more.
  const client = await createClient({ threads: 2, chunkBytes: MiB, rateBytesPerSec: MiB })
  try {
    const src = join(dir, 'src.img')
    writeRandomFile(src, 48 * MiB, 2)
    const job = client.copy({ path: src }, [{ path: join(dir, 'dst.img') }])
    await firstChunk(job)
    client.setRate(null)
    assert.is(client.rate, null)
    const r = await job.result
    assert.is(r.ok, true)
    assert.ok(r.elapsedMs < leastMs(48 * MiB, MiB, MiB) / 2, `${r.elapsedMs} ms: the limit was lifted, not kept`)
    assert.ok(cmpFiles(src, join(dir, 'dst.img')))
    client.setRate(RATE)
    assert.is(client.rate, RATE)
  } finally {
    await client.destroy()
  }
})

test('a job waiting for its slot at a very low rate starts again at once when the rate is lifted', async () => {
  const client = await createClient({ threads: 1, chunkBytes: 64 * 1024, memoryBytes: 4 * MiB, rateBytesPerSec: 4096 })
  try {
    const src = join(dir, 'src.img')
    writeRandomFile(src, MiB, 4)
    // At 4 KiB/s every 64 KiB chunk waits 16 s for its slot: 240 s for the 1 MiB.
    const job = client.copy({ path: src }, [{ path: join(dir, 'dst.img') }])
    await firstChunk(job)
    client.setRate(null)
    const r = await job.result
    assert.is(r.ok, true)
    assert.ok(r.elapsedMs < leastMs(MiB, 64 * 1024, 4096) / 2, `${r.elapsedMs} ms: the wait for the old slot ended with the new rate`)
  } finally {
    await client.destroy()
  }
})

test('bad rates are refused naming the argument', async () => {
  const client = await createClient({ threads: 1 })
  try {
    refuses(() => client.setRate(100), 'INVALID_ARGUMENT', /^rate: must be at least 4096 bytes \(4 KiB\) per second, got 100$/)
    refuses(() => client.setRate(1.5e6 + 0.5), 'INVALID_ARGUMENT', /^rate: must be null \(no limit\) or a whole number of bytes per second, at least 4096, got 1500000.5$/)
  } finally {
    await client.destroy()
  }
  await createClient({ rateBytesPerSec: -1 }).then(() => assert.unreachable('should refuse'), (err: Error) => assert.match(err.message, /^rateBytesPerSec: must be at least 4096 bytes/))
})

test('blockcopy --rate: the limit on the command line, and a clear error for a bad one', () => {
  const src = join(dir, 'src.img')
  writeRandomFile(src, 24 * MiB, 3)
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/bin.ts', 'copy', src, join(dir, 'dst.img'), '--rate', '16MiB', '--json'], { cwd: ROOT, encoding: 'utf8' })
  assert.is(run.status, 0, run.stderr)
  const r = JSON.parse(run.stdout) as CopyResult
  assert.ok(r.elapsedMs >= leastMs(24 * MiB, MiB, 16 * MiB), `${r.elapsedMs} ms for 24 MiB at 16 MiB/s`)
  assert.ok(cmpFiles(src, join(dir, 'dst.img')))
  const bad = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/bin.ts', 'copy', src, join(dir, 'x.img'), '--rate', 'fast'], { cwd: ROOT, encoding: 'utf8' })
  assert.is(bad.status, 2)
  assert.match(bad.stderr, /--rate/)
})

test.run()
