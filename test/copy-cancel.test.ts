import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createClient, type CopyClient, type Progress } from '../src/index.js'
import { cmpFiles, makeTempDir, removeTempDir, writeRandomFile } from './helpers/tmp.js'

const test = suite('cancel and progress')
let client: CopyClient
let dir: string
const KiB = 1024
const MiB = 1024 * KiB

test.before(async () => {
  client = await createClient({ threads: 4, chunkBytes: 64 * KiB })
})
test.after(async () => {
  await client.destroy()
})
test.before.each(() => {
  dir = makeTempDir('copy-cancel-')
})
test.after.each(() => {
  removeTempDir(dir)
})

test('aborting the signal starts no new chunks, lets running ones finish, and says cancelled', async () => {
  const src = join(dir, 'src.img')
  const dst = join(dir, 'dst.img')
  writeRandomFile(src, 64 * MiB, 9)
  const controller = new AbortController()
  const notified: unknown[][] = []
  const job = client.copy({ path: src }, [{ path: dst }], {
    signal: controller.signal,
    notify: (...args) => notified.push(args),
    context: 'ctx',
  })
  job.once('progress', () => controller.abort())
  const r = await job.result
  assert.is(r.cancelled, true)
  assert.is(r.ok, false)
  assert.is(r.readErr, false)
  assert.is(r.writeErr, 0)
  // At most the chunks in flight when the first one finished: threads × 2.
  assert.ok(r.completedBytes > 0 && r.completedBytes <= 8 * 64 * KiB, `completed ${r.completedBytes}`)
  // What the result calls completed is really in the destination.
  for (const e of r.completed) assert.ok(cmpFiles(src, dst, { aOffset: e.offset, bOffset: e.offset, length: e.length }))
  assert.equal(notified, [[false, 0, 'ctx']])
})

test('a progress listener that throws does not stop the job: it completes, syncs and notifies once', async () => {
  const src = join(dir, 'src.img')
  const dst = join(dir, 'dst.img')
  writeRandomFile(src, 2 * MiB, 13)
  const warnings: string[] = []
  const onWarning = (w: Error) => warnings.push(w.message)
  process.on('warning', onWarning)
  let notified = 0
  try {
    const job = client.copy({ path: src }, [{ path: dst }], { notify: () => notified++ })
    job.on('progress', () => {
      throw new Error('listener bug')
    })
    const r = await job.result
    assert.is(r.ok, true)
    assert.ok(cmpFiles(src, dst))
    await new Promise((resolve) => setImmediate(resolve))
    assert.is(notified, 1)
    assert.ok(warnings.some((w) => /listener bug/.test(w)), JSON.stringify(warnings))
  } finally {
    process.off('warning', onWarning)
  }
})

test('an abort after the last chunk has started cancels nothing: the copy completes', async () => {
  const src = join(dir, 'src.img')
  writeRandomFile(src, 128 * KiB, 14)
  const controller = new AbortController()
  const job = client.copy({ path: src }, [{ path: join(dir, 'dst.img') }], { signal: controller.signal })
  // Two 64 KiB chunks: both were handed to the pool when copy() returned.
  controller.abort()
  const r = await job.result
  assert.is(r.cancelled, false)
  assert.is(r.ok, true)
  assert.is(r.completedBytes, 128 * KiB)
})

test('job.cancel() stops a job the same way', async () => {
  const src = join(dir, 'src.img')
  writeRandomFile(src, 32 * MiB, 10)
  const job = client.copy({ path: src }, [{ path: join(dir, 'dst.img') }])
  job.once('progress', () => job.cancel())
  const r = await job.result
  assert.is(r.cancelled, true)
  assert.ok(r.completedBytes < 32 * MiB)
})

test('progress extents never overlap, are each reported once, and add up to the total', async () => {
  const src = join(dir, 'src.img')
  const size = 10 * MiB + 12345
  writeRandomFile(src, size + 7, 11)
  const events: Progress[] = []
  const job = client.copy({ path: src, offset: 7 }, [{ path: join(dir, 'a.img') }, { path: join(dir, 'b.img'), offset: 3 }])
  job.on('progress', (p) => events.push(p))
  const r = await job.result
  assert.is(r.ok, true)
  const extents = events.map((p) => p.extent).sort((a, b) => a.offset - b.offset)
  let end = 0
  for (const e of extents) {
    assert.is(e.offset, end, 'extents tile the range without gap or overlap')
    end = e.offset + e.length
  }
  assert.is(end, size)
  const done = events.map((p) => p.doneBytes)
  assert.equal(done, [...done].sort((a, b) => a - b), 'doneBytes only grows')
  assert.is(done[done.length - 1], size)
  assert.ok(events.every((p) => p.totalBytes === size && p.ok))
  assert.equal(r.completed, [{ offset: 0, length: size }])
})

test('destroy waits for a running job to finish before ending the workers', async () => {
  const c = await createClient({ threads: 2, chunkBytes: 64 * KiB })
  const src = join(dir, 'src.img')
  const dst = join(dir, 'dst.img')
  writeRandomFile(src, 16 * MiB, 12)
  const job = c.copy({ path: src }, [{ path: dst }])
  let finished = false
  void job.result.then(() => {
    finished = true
  })
  const during = osThreads()
  await c.destroy()
  assert.is(finished, true, 'the job had finished when destroy resolved')
  // The two workers are gone (and with them their buffers).
  assert.is(osThreads(), during - 2)
  const r = await job.result
  assert.is(r.ok, true)
  assert.ok(cmpFiles(src, dst))
})

/** Threads of this process, as the kernel counts them. */
function osThreads(): number {
  return Number(/^Threads:\s+(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1])
}

test.run()
