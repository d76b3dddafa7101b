import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createClient, type CopyResult } from '../src/index.js'
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

/** Bytes per second over the job's own elapsed time. */
const rateOf = (r: CopyResult) => r.completedBytes / (r.elapsedMs / 1000)

// A limit far below what the disk does, so that it, not the disk, sets the pace.
const RATE = 32 * MiB

test('a copy runs within 10 % of the limit, and stays byte-exact', async () => {
  const client = await createClient({ threads: 2, chunkBytes: MiB, rateBytesPerSec: RATE })
  try {
    const src = join(dir, 'src.img')
    writeRandomFile(src, 64 * MiB, 1)
    const r = await client.copy({ path: src }, [{ path: join(dir, 'dst.img') }]).result
    assert.is(r.ok, true)
    const ratio = rateOf(r) / RATE
    assert.ok(ratio > 0.9 && ratio < 1.1, `${(rateOf(r) / MiB).toFixed(1)} MiB/s against a limit of ${RATE / MiB}`)
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
    const seconds = (performance.now() - started) / 1000
    const total = rs.reduce((n, r) => n + r.completedBytes, 0)
    const ratio = total / seconds / RATE
    assert.ok(ratio > 0.9 && ratio < 1.1, `together ${(total / seconds / MiB).toFixed(1)} MiB/s against ${RATE / MiB}`)
  } finally {
    await client.destroy()
  }
})

test('setRate applies to running jobs from their next chunk; null lifts the limit', async () => {
  const client = await createClient({ threads: 2, chunkBytes: MiB, rateBytesPerSec: 8 * MiB })
  try {
    const src = join(dir, 'src.img')
    writeRandomFile(src, 48 * MiB, 2)
    const job = client.copy({ path: src }, [{ path: join(dir, 'dst.img') }])
    await new Promise((done) => setTimeout(done, 500))
    const before = job.doneBytes
    client.setRate(null)
    assert.is(client.rate, null)
    const r = await job.result
    assert.is(r.ok, true)
    // At 8 MiB/s the first half second moves about 4 MiB (5 with the first chunk at once)...
    assert.ok(before <= 7 * MiB, `${before} bytes in the first 0.5 s at 8 MiB/s`)
    // ...and the 48 MiB would take 6 s at that rate; unlimited it takes far less.
    assert.ok(r.elapsedMs < 4000, `${r.elapsedMs} ms`)
    client.setRate(RATE)
    assert.is(client.rate, RATE)
  } finally {
    await client.destroy()
  }
})

test('a job waiting for its slot at a very low rate starts again at once when the rate is lifted', async () => {
  const client = await createClient({ threads: 1, chunkBytes: 64 * 1024, memoryBytes: 4 * MiB, rateBytesPerSec: 8192 })
  try {
    const src = join(dir, 'src.img')
    writeRandomFile(src, MiB, 4)
    // At 8 KiB/s every 64 KiB chunk waits 8 s for its slot.
    const job = client.copy({ path: src }, [{ path: join(dir, 'dst.img') }])
    await new Promise((done) => setTimeout(done, 300))
    client.setRate(null)
    const r = await job.result
    assert.is(r.ok, true)
    assert.ok(r.elapsedMs < 4000, `${r.elapsedMs} ms: the wait for the old slot ended with the new rate`)
  } finally {
    await client.destroy()
  }
})

test('bad rates are refused naming the argument', async () => {
  const client = await createClient({ threads: 1 })
  try {
    refuses(() => client.setRate(100), 'INVALID_ARGUMENT', /^rate: must be null \(no limit\) or a whole number of bytes per second, at least 4096, got 100/)
    refuses(() => client.setRate(1.5e6 + 0.5), 'INVALID_ARGUMENT', /^rate: /)
  } finally {
    await client.destroy()
  }
  await createClient({ rateBytesPerSec: -1 }).then(() => assert.unreachable('should refuse'), (err: Error) => assert.match(err.message, /^rateBytesPerSec: must be null/))
})

test('blockcopy --rate: the limit on the command line, and a clear error for a bad one', () => {
  const src = join(dir, 'src.img')
  writeRandomFile(src, 24 * MiB, 3)
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/bin.ts', 'copy', src, join(dir, 'dst.img'), '--rate', '16MiB', '--json'], { cwd: ROOT, encoding: 'utf8' })
  assert.is(run.status, 0, run.stderr)
  const r = JSON.parse(run.stdout) as CopyResult
  const ratio = rateOf(r) / (16 * MiB)
  assert.ok(ratio > 0.9 && ratio < 1.1, `${(rateOf(r) / MiB).toFixed(1)} MiB/s against 16`)
  const bad = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/bin.ts', 'copy', src, join(dir, 'x.img'), '--rate', 'fast'], { cwd: ROOT, encoding: 'utf8' })
  assert.is(bad.status, 2)
  assert.match(bad.stderr, /--rate/)
})

test.run()
