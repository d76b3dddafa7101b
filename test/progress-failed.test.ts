import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createClient } from '../src/index.js'
import { cliArgs, ROOT, runCli } from './helpers/cli.js'
import { mountFaultFsIn, type FaultFs } from './helpers/faultfs.js'
import { hasProgram } from './helpers/mounts.js'
import { logSkip } from './helpers/root.js'
import { screenOf, stripAnsi } from './helpers/terminal.js'
import { cmpFiles, makeTempDir, removeTempDir, writeRandomFile } from './helpers/tmp.js'

const test = suite('progress counts only what is done; failed chunks are counted apart')
const MiB = 1024 * 1024
const SIZE = 20 * MiB
// One whole chunk (of 1 MiB) that cannot be read, and one 512-byte block in another.
const BAD_CHUNK = 8 * MiB
const BAD_BLOCK = 13 * MiB + 4096
let dir: string

test.before.each(() => {
  dir = makeTempDir('progress-failed')
})
test.after.each(() => {
  removeTempDir(dir)
})

/** A 20 MiB source on faultfs with the two unreadable ranges; a skip reason where FUSE is missing. */
async function failingSource(): Promise<{ fault: FaultFs; src: string; backing: string } | string> {
  const fault = await mountFaultFsIn(dir, [])
  if (typeof fault === 'string') return fault
  const backing = join(fault.backingDir, 'src.img')
  writeRandomFile(backing, SIZE, 11)
  fault.setRules([
    { op: 'read', path: 'src.img', offset: BAD_CHUNK, length: MiB, errno: 'EIO' },
    { op: 'read', path: 'src.img', offset: BAD_BLOCK, length: 512, errno: 'EIO' },
  ])
  return { fault, src: join(fault.mountDir, 'src.img'), backing }
}

interface Event {
  event: string
  doneBytes: number
  failedBytes: number
  totalBytes: number
  extent: { offset: number; length: number }
  ok: boolean
}

interface Result {
  completedBytes: number
  totalBytes: number
  errors: Array<{ dest: number; offset: number; length: number }>
}

test('NDJSON: doneBytes is what was copied, failedBytes what was not, and together they are what has finished', async () => {
  const s = await failingSource()
  if (typeof s === 'string') return logSkip(s)
  try {
    const dst = join(dir, 'dst.img')
    const run = runCli(['copy', s.src, dst, '--ignore-errors', '--chunk', '1MiB', '--progress', 'ndjson', '--json'])
    assert.is(run.status, 3, run.stderr)
    const r = JSON.parse(run.stdout) as Result
    const unread = r.errors.filter((e) => e.dest === -1)
    assert.equal(unread.map((e) => [e.offset, e.length]), [[BAD_CHUNK, MiB], [BAD_BLOCK, 512]])
    assert.is(r.completedBytes, SIZE - MiB - 512)
    const events = run.stderr.trim().split('\n').map((l) => JSON.parse(l) as Event)
    assert.is(events.length, 20, 'every chunk reported once')
    let finished = 0
    let previous = { doneBytes: 0, failedBytes: 0 }
    for (const e of events) {
      finished += e.extent.length
      assert.is(e.doneBytes + e.failedBytes, finished)
      // A chunk's share: all of it done, or some of it failed and then it is not ok.
      const failed = e.failedBytes - previous.failedBytes
      assert.is(e.ok, failed === 0)
      previous = e
    }
    const last = events[events.length - 1] as Event
    assert.is(last.doneBytes, r.completedBytes)
    assert.is(last.failedBytes, MiB + 512)
    // What is counted done is on the destination, byte for byte.
    assert.ok(cmpFiles(s.backing, dst, { length: BAD_CHUNK }))
    assert.ok(cmpFiles(s.backing, dst, { aOffset: BAD_CHUNK + MiB, bOffset: BAD_CHUNK + MiB, length: BAD_BLOCK - BAD_CHUNK - MiB }))
    assert.ok(cmpFiles(s.backing, dst, { aOffset: BAD_BLOCK + 512, bOffset: BAD_BLOCK + 512 }))
  } finally {
    await s.fault.unmount()
  }
})

test('the library: job.doneBytes, job.failedBytes and jobStatus percent count only what is done', async () => {
  const s = await failingSource()
  if (typeof s === 'string') return logSkip(s)
  const client = await createClient({ threads: 2, chunkBytes: MiB })
  try {
    const job = client.copy({ path: s.src }, [{ path: join(dir, 'dst.img') }], { ignoreErrors: true })
    const r = await job.result
    assert.is(r.completedBytes, SIZE - MiB - 512)
    assert.is(job.doneBytes, r.completedBytes)
    assert.is(job.failedBytes, MiB + 512)
    const status = client.jobStatus(job.id)
    assert.is(status.status, 'error')
    assert.is(status.percent, Math.floor(((SIZE - MiB - 512) * 100) / SIZE))
  } finally {
    await client.destroy()
    await s.fault.unmount()
  }
})

test('a destination whose fdatasync fails: what its chunks had reported done is taken back at the end', async () => {
  const fault = await mountFaultFsIn(dir, [{ op: 'fsync', path: 'dst.img', errno: 'EIO' }])
  if (typeof fault === 'string') return logSkip(fault)
  const client = await createClient({ threads: 2, chunkBytes: MiB })
  try {
    const src = join(dir, 'src.img')
    writeRandomFile(src, 3 * MiB, 12)
    const job = client.copy({ path: src }, [{ path: join(fault.mountDir, 'dst.img') }])
    let last = { doneBytes: -1, failedBytes: -1 }
    job.on('progress', (p) => {
      last = p
    })
    const r = await job.result
    // Every chunk was written, so each was reported done; the sync then failed, and nothing is surely on disk.
    assert.equal([last.doneBytes, last.failedBytes], [3 * MiB, 0])
    assert.is(r.completedBytes, 0)
    assert.equal([job.doneBytes, job.failedBytes], [0, 3 * MiB])
    assert.is(client.jobStatus(job.id).percent, 0)
  } finally {
    await client.destroy()
    await fault.unmount()
  }
})

test('a detached job\'s record: doneBytes, failedBytes and percent as the job counts them, and jobs status says what failed', async () => {
  const s = await failingSource()
  if (typeof s === 'string') return logSkip(s)
  try {
    const env = { BLOCKCOPY_STATE_DIR: join(dir, 'state') }
    const started = runCli(['copy', s.src, join(dir, 'dst.img'), '--ignore-errors', '--chunk', '1MiB', '--detach'], { env })
    assert.is(started.status, 0, started.stderr)
    const id = started.stdout.trim()
    const waited = runCli(['jobs', 'wait', id], { env })
    assert.is(waited.status, 3, waited.stdout + waited.stderr)
    assert.match(waited.stdout, /: error, 94% \(19\.00 MiB of 20\.00 MiB, 1\.00 MiB failed\), copy,/)
    const record = JSON.parse(runCli(['jobs', 'status', id, '--json'], { env }).stdout) as { doneBytes: number; failedBytes: number; percent: number }
    assert.equal([record.doneBytes, record.failedBytes, record.percent], [SIZE - MiB - 512, MiB + 512, 94])
  } finally {
    await s.fault.unmount()
  }
})

test('on a terminal, the bar counts what is done and shows what failed apart', async () => {
  if (!hasProgram('script')) return logSkip('util-linux script is missing: no pseudo-terminal to test with')
  const s = await failingSource()
  if (typeof s === 'string') return logSkip(s)
  try {
    const quote = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`
    const cmd = [process.execPath, ...cliArgs(['copy', s.src, join(dir, 'dst.img'), '--ignore-errors', '--chunk', '1MiB'])].map(quote).join(' ')
    const run = spawnSync('script', ['-qfec', `${cmd} > /dev/null`, '/dev/null'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 })
    assert.is(run.status, 3, stripAnsi(run.stdout))
    const bar = screenOf(run.stdout).filter((l) => /[█░]/.test(l))
    assert.is(bar.length, 1, stripAnsi(run.stdout))
    assert.match(bar[0] as string, / 94% \| 19\.00 MiB of 20\.00 MiB, failed 1\.00 MiB \| /)
  } finally {
    await s.fault.unmount()
  }
})

test.run()
