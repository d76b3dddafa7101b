import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createClient, type CopyClient } from '../src/index.js'
import { mountFaultFsIn } from './helpers/faultfs.js'
import { logSkip } from './helpers/root.js'
import { makeTempDir, removeTempDir, writeRandomFile } from './helpers/tmp.js'

const test = suite('job status and free in the library')
const KiB = 1024
const MiB = 1024 * KiB
let client: CopyClient
let dir: string

test.before(async () => {
  client = await createClient({ threads: 2, chunkBytes: 64 * KiB })
})
test.after(async () => {
  await client.destroy()
})
test.before.each(() => {
  dir = makeTempDir('jobs-status-')
})
test.after.each(() => {
  removeTempDir(dir)
})

function code(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (err) {
    return (err as { code?: string }).code
  }
  return undefined
}

test('a job is inprogress with a growing percent, then complete with its result, then freed', async () => {
  const fs = await mountFaultFsIn(dir, [{ op: 'read', path: 'src.img', delayMs: 40 }])
  if (typeof fs === 'string') return logSkip(fs)
  try {
    const src = join(fs.mountDir, 'src.img')
    writeRandomFile(src, MiB, 1)
    const job = client.copy({ path: src }, [{ path: join(dir, 'dst.img') }], { direct: 'never' })
    const first = client.jobStatus(job.id)
    assert.is(first.status, 'inprogress')
    await new Promise<void>((resolve) => job.once('progress', () => resolve()))
    const mid = client.jobStatus(job.id)
    assert.is(mid.status, 'inprogress')
    assert.ok(mid.percent > 0 && mid.percent < 100, `percent ${mid.percent}`)
    assert.is(code(() => client.jobFree(job.id)), 'INVALID_ARGUMENT', 'a running job cannot be freed')
    await job.result
    const done = client.jobStatus(job.id)
    assert.is(done.status, 'complete')
    assert.is(done.percent, 100)
    assert.is(done.status === 'complete' && done.result.completedBytes, MiB)
    client.jobFree(job.id)
    assert.is(code(() => client.jobStatus(job.id)), 'JOB_NOT_FOUND')
    assert.is(code(() => client.jobFree(job.id)), 'JOB_NOT_FOUND')
  } finally {
    await fs.unmount()
  }
})

test('a job with I/O errors has status error with the first failure, and a cancelled one says cancelled', async () => {
  const fs = await mountFaultFsIn(dir, [{ op: 'read', path: 'bad.img', offset: 100 * KiB, length: 10, errno: 'EIO' }])
  if (typeof fs === 'string') return logSkip(fs)
  try {
    const bad = join(fs.mountDir, 'bad.img')
    writeRandomFile(bad, 512 * KiB, 2)
    const failing = client.copy({ path: bad }, [{ path: join(dir, 'a.img') }])
    await failing.result
    const s = client.jobStatus(failing.id)
    assert.is(s.status, 'error')
    assert.ok(s.status === 'error' && s.error.code === 'EIO' && /source bytes 65536\.\.131072: EIO from pread/.test(s.error.message), JSON.stringify(s))
    const src = join(dir, 'src.img')
    writeRandomFile(src, 8 * MiB, 3)
    const cancelled = client.copy({ path: src }, [{ path: join(dir, 'b.img') }])
    cancelled.once('progress', () => cancelled.cancel())
    await cancelled.result
    assert.is(client.jobStatus(cancelled.id).status, 'cancelled')
  } finally {
    await fs.unmount()
  }
})

test('a job refused in its own checks (its result rejects) has status error and can be freed', async () => {
  const src = join(dir, 'src.img')
  const dst = join(dir, 'dst.img')
  writeRandomFile(src, 1024 * 1024, 6)
  writeRandomFile(dst, 1024 * 1024, 7)
  const m = await client.hash(dst).manifest
  if (!m) throw new Error('no manifest')
  writeRandomFile(dst, 1024 * 1024, 8)
  const job = client.copy({ path: src }, [{ path: dst }], { since: m })
  await job.result.then(() => assert.unreachable('refused'), () => undefined)
  const s = client.jobStatus(job.id)
  assert.is(s.status, 'error')
  assert.is(s.status === 'error' ? s.error.code : '', 'MANIFEST_MISMATCH')
  client.jobFree(job.id)
  assert.throws(() => client.jobStatus(job.id), /no job .* \(never started, or freed\)/)
})

test('unknown job ids are JOB_NOT_FOUND', () => {
  assert.is(code(() => client.jobStatus('no-such-job')), 'JOB_NOT_FOUND')
})

test.run()
