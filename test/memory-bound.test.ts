import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createClient, type CopyClient } from '../src/index.js'
import { makeTempDir, removeTempDir, writeRandomFile } from './helpers/tmp.js'

/*
 * Memory must not grow with the size of a copy: the data lives in the
 * workers' fixed buffers, and the main thread may keep nothing per chunk
 * once the chunk is done (a job's result holds per-chunk digests only when
 * it hashes). This measures what is alive on the main thread, after a full
 * garbage collection, while a copy of 512 chunks and one of 8192 chunks
 * run: an object kept per chunk (a promise, a task, a range in a list)
 * would add 8192 of them. What V8 leaves uncollected between collections
 * is not counted here: BENCHMARKS.md shows that RSS levels off.
 */
const test = suite('memory: nothing kept per chunk')
const KiB = 1024
const CHUNK = 64 * KiB

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void
// JavaScript objects only: compiled code (code space) grows as V8 optimises
// the longer run, whatever the job keeps.
const OBJECT_SPACES = new Set(['new_space', 'old_space', 'large_object_space'])
const live = (): number => {
  gc()
  gc()
  return getHeapSpaceStatistics().reduce((n, s) => n + (OBJECT_SPACES.has(s.space_name) ? s.space_used_size : 0), 0)
}

const MOST = 8192
let dir: string
let src: string
let client: CopyClient

test.before(async () => {
  dir = makeTempDir('memory')
  src = join(dir, 'src')
  writeRandomFile(src, MOST * CHUNK, 1)
  client = await createClient({ threads: 2, chunkBytes: CHUNK })
})
test.after(async () => {
  await client.destroy()
  removeTempDir(dir)
})

/** Live main-thread heap before, at its highest during, and after a copy of `chunks` chunks (the job freed). */
async function measure(chunks: number): Promise<{ before: number; peak: number; after: number }> {
  const dst = join(dir, `dst-${chunks}`)
  const before = live()
  let peak = before
  const job = client.copy({ path: src, length: chunks * CHUNK }, [{ path: dst }], { verify: 'none' })
  const sampler = setInterval(() => {
    peak = Math.max(peak, live())
  }, 40)
  try {
    const r = await job.result
    assert.is(r.ok, true)
    assert.is(r.completedBytes, chunks * CHUNK)
  } finally {
    clearInterval(sampler)
  }
  client.jobFree(job.id)
  rmSync(dst)
  return { before, peak, after: live() }
}

test('a copy of 8192 chunks keeps no more alive than one of 512', async () => {
  await measure(MOST) // warm-up: V8 compiles and optimises the per-chunk code once
  const small = await measure(512)
  const large = await measure(MOST)
  const fmt = (n: number) => `${(n / KiB).toFixed(0)} KiB`
  // 7680 more chunks. After the job, 256 KiB is 34 bytes each, less than one
  // small object apiece. During it, what is in flight and when the sampler
  // runs make the peak vary by a few hundred KiB from run to run: 1 MiB.
  const kept = large.after - small.before
  assert.ok(kept < 256 * KiB, `after both copies (jobs freed), ${fmt(kept)} more is alive than before them`)
  const growth = large.peak - large.before - (small.peak - small.before)
  assert.ok(growth < 1024 * KiB, `live heap during the copy grew ${fmt(growth)} more for 8192 chunks than for 512 (peaks ${fmt(small.peak)}, ${fmt(large.peak)})`)
})

test.run()
