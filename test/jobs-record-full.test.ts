import { spawnSync } from 'node:child_process'
import { closeSync, openSync, readdirSync, readFileSync, rmSync, statfsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createClient } from '../src/index.js'
import { JobRecorder } from '../src/cli/detached/recorder.js'
import { processStart, readRecord, writeRecord } from '../src/cli/detached/store.js'
import { cliArgs, ROOT, runCli } from './helpers/cli.js'
import { mountTmpfs, unmount } from './helpers/mounts.js'
import { logSkip, skipUnlessRoot } from './helpers/root.js'
import { cmpFiles, makeTempDir, removeTempDir, writeRandomFile } from './helpers/tmp.js'

const test = suite('a detached job whose state directory is full goes on to its end')
const MiB = 1024 * 1024
const ID = '00000000-0000-4000-8000-0000000000f1'
let dir: string
let state: string

test.before.each(() => {
  dir = makeTempDir('jobs-record-full-')
  state = join(dir, 'state')
})
test.after.each(async () => {
  delete process.env.BLOCKCOPY_STATE_DIR
  await unmount(state).catch(() => undefined)
  removeTempDir(dir)
})

/**
 * Mounts a 100 KiB tmpfs as the state directory and fills it but for
 * `pages` pages (default one): the first file written in it (a record, or a
 * log's first line) takes that page, and everything after needs one more:
 * ENOSPC. A reason to skip when not root.
 */
async function fullState(pages = 1): Promise<string | null> {
  const why = skipUnlessRoot('mounts a tmpfs')
  if (why) return why
  await mountTmpfs(state, 100 * 1024)
  const fs = statfsSync(state)
  writeFileSync(join(state, 'fill'), Buffer.alloc((fs.bavail - pages) * fs.bsize))
  assert.is(statfsSync(state).bavail, pages, 'the pages left')
  return null
}

/** What the job says, once, when its record cannot be written. */
const failedLine = () => `blockcopy: the job's record ${join(state, `${ID}.json`)} could not be updated (ENOSPC: no space left on device, write); the job goes on, and each update tries again`

/** Runs `copy SRC DST --job-id ID` as a detached job runs, its output to `out` and `err` (file descriptors, or 'pipe'). */
function copyAsJob(src: string, dst: string, out: number | 'pipe', err: number | 'pipe') {
  return spawnSync(process.execPath, cliArgs(['copy', src, dst, '--job-id', ID, '--rate', '8MiB', '--progress', 'none']), {
    cwd: ROOT, encoding: 'utf8', timeout: 60_000, stdio: ['ignore', out, err], env: { ...process.env, BLOCKCOPY_STATE_DIR: state },
  })
}

test('its log on the full directory too, as --detach sets it up: the copy ends, synced, exit 0, and the log says once why its record is missing', async () => {
  const why = await fullState()
  if (why) return logSkip(why)
  const src = join(dir, 'src.img')
  const dst = join(dir, 'dst.img')
  writeRandomFile(src, 4 * MiB, 1)
  const log = join(state, `${ID}.log`)
  const fd = openSync(log, 'a')
  let run
  try {
    run = copyAsJob(src, dst, fd, fd)
  } finally {
    closeSync(fd)
  }
  assert.is(run.status, 0, readFileSync(log, 'utf8'))
  assert.ok(cmpFiles(src, dst))
  // The log's first line took the last page; the lines after it fit in that page.
  const lines = readFileSync(log, 'utf8').trimEnd().split('\n')
  assert.match(lines[0] ?? '', new RegExp(`^blockcopy: job ${ID} started, pid \\d+: blockcopy copy `))
  assert.is(lines.filter((l) => l.includes('could not be updated')).length, 1, lines.join('\n'))
  assert.ok(lines.includes(failedLine()), lines.join('\n'))
  assert.ok(lines.some((l) => l.startsWith('copied 4.00 MiB of 4.00 MiB ')), lines.join('\n'))
  assert.equal(readdirSync(state).sort(), [`${ID}.log`, 'fill'], 'no record, and no temporary file left')
})

test('a state directory full from the start, its log too: the copy still ends, synced, exit 0', async () => {
  const why = await fullState(0)
  if (why) return logSkip(why)
  const src = join(dir, 'src.img')
  const dst = join(dir, 'dst.img')
  writeRandomFile(src, 2 * MiB, 4)
  const log = join(state, `${ID}.log`)
  const fd = openSync(log, 'a')
  let run
  try {
    run = copyAsJob(src, dst, fd, fd)
  } finally {
    closeSync(fd)
  }
  // Not one line could be written anywhere: what the job did is in DST.
  assert.is(run.status, 0)
  assert.ok(cmpFiles(src, dst))
  assert.is(readFileSync(log, 'utf8'), '')
  assert.equal(readdirSync(state).sort(), [`${ID}.log`, 'fill'])
})

test('its record written once, then no more: the copy ends, exit 0, one line on stderr, and jobs says where the log is', async () => {
  const why = await fullState()
  if (why) return logSkip(why)
  const src = join(dir, 'src.img')
  const dst = join(dir, 'dst.img')
  writeRandomFile(src, 8 * MiB, 2)
  const run = copyAsJob(src, dst, 'pipe', 'pipe')
  assert.is(run.status, 0, run.stderr)
  assert.ok(cmpFiles(src, dst))
  const lines = run.stderr.trimEnd().split('\n')
  // Every update after the first failed (about four at 8 MiB/s, and the end): said once.
  assert.is(lines.filter((l) => l.includes('could not be updated')).length, 1, run.stderr)
  assert.ok(lines.includes(failedLine()), run.stderr)
  assert.match(run.stdout, /^copied 8\.00 MiB of 8\.00 MiB /)
  // The record is the first one, of a process now gone: JOB_DIED, and where to look.
  const status = runCli(['jobs', 'status', ID, '--json'], { env: { BLOCKCOPY_STATE_DIR: state } })
  assert.is(status.status, 0, status.stderr)
  const r = JSON.parse(status.stdout) as { status: string; error?: { code: string; message: string } }
  assert.is(r.status, 'error')
  assert.is(r.error?.code, 'JOB_DIED')
  assert.ok(r.error?.message.includes(`the record could not be written: see ${join(state, `${ID}.log`)}`), r.error?.message)
})

test('a record that only partly fits is not written at all, and the one before it stays', async () => {
  const why = await fullState(2)
  if (why) return logSkip(why)
  process.env.BLOCKCOPY_STATE_DIR = state
  const now = new Date().toISOString()
  const record = {
    id: ID, kind: 'copy' as const, argv: ['copy', '/a', '/b'], pid: process.pid, pidStart: processStart(process.pid) ?? '', status: 'inprogress' as const,
    percent: 0, doneBytes: 0, failedBytes: 0, totalBytes: MiB, startedAt: now, updatedAt: now,
  }
  writeRecord(record)
  // 6 KiB with a page left: the file system takes 4 KiB of it, then has no room for the rest.
  const long = { ...record, percent: 50, argv: ['copy', '/a', '/b', 'x'.repeat(6 * 1024)] }
  assert.throws(() => writeRecord(long), (err: NodeJS.ErrnoException) => err.code === 'ENOSPC')
  assert.equal(readRecord(ID), record)
  assert.equal(readdirSync(state).sort(), [`${ID}.json`, 'fill'])
})

test('JobRecorder: a write that fails is said once and leaves no temporary file; once there is room the next update writes it', async () => {
  const why = await fullState()
  if (why) return logSkip(why)
  process.env.BLOCKCOPY_STATE_DIR = state
  const src = join(dir, 'src.img')
  const dst = join(dir, 'dst.img')
  writeRandomFile(src, 8 * MiB, 3)
  const client = await createClient({ threads: 2, rateBytesPerSec: 8 * MiB })
  const said: string[] = []
  let seen: { files: string[]; status: string } | null = null
  try {
    const job = client.copy({ path: src }, [{ path: dst }])
    let recorder: JobRecorder | null = null
    const start = () => {
      recorder = JobRecorder.start(ID, 'copy', ['copy', src, dst], job, (line) => {
        said.push(line)
        if (said.length > 1) return
        // What the failed write left: the first record, and no temporary file. Then room again.
        seen = { files: readdirSync(state).sort(), status: readRecord(ID).status }
        rmSync(join(state, 'fill'))
      })
    }
    if (job.isWriting) start()
    else job.once('writing', start)
    const result = await job.result
    assert.is(result.ok, true)
    await (recorder as JobRecorder | null)?.finish(result, 0)
  } finally {
    await client.destroy()
  }
  assert.ok(cmpFiles(src, dst))
  assert.equal(seen, { files: [`${ID}.json`, 'fill'], status: 'inprogress' })
  assert.is(said.length, 2, said.join('\n'))
  assert.is(`blockcopy: ${said[0] ?? ''}`, failedLine())
  assert.is(said[1], `the job's record ${join(state, `${ID}.json`)} is up to date again`)
  const r = readRecord(ID)
  assert.equal([r.status, r.percent, r.exitCode, r.doneBytes], ['complete', 100, 0, 8 * MiB])
})

test.run()
