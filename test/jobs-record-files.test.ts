import { spawnSync } from 'node:child_process'
import { lstatSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { RECORD_MAX_BYTES } from '../src/cli/detached/record-size.js'
import { processStart, readRecord, writeRecord, type JobRecord } from '../src/cli/detached/store.js'
import { runCli } from './helpers/cli.js'
import { makeTempDir, removeTempDir } from './helpers/tmp.js'

const test = suite('jobs reads a record without blocking and without bound, and a job writes none past the bound')
const MiB = 1024 * 1024
let dir: string
let state: string

test.before.each(() => {
  dir = makeTempDir('jobs-record-files-')
  state = join(dir, 'state')
  mkdirSync(state)
  // The library's writeRecord and readRecord look here, as the CLI does.
  process.env.BLOCKCOPY_STATE_DIR = state
})
test.after.each(() => {
  delete process.env.BLOCKCOPY_STATE_DIR
  removeTempDir(dir)
})

const cli = (args: string[]) => runCli(args, { env: { BLOCKCOPY_STATE_DIR: state } })

/** A finished job's record, as a job writes it. */
function finished(id: string, more: Partial<JobRecord> = {}): JobRecord {
  const now = new Date().toISOString()
  return {
    id, kind: 'copy', argv: ['copy', '/a', '/b'], pid: process.pid, pidStart: processStart(process.pid) ?? '', status: 'complete',
    percent: 100, doneBytes: MiB, failedBytes: 0, totalBytes: MiB, startedAt: now, updatedAt: now, exitCode: 0, ...more,
  }
}

const GOOD = '00000000-0000-4000-8000-000000000001'
const FIFO = '00000000-0000-4000-8000-000000000002'
const ZERO = '00000000-0000-4000-8000-000000000003'
const HUGE = '00000000-0000-4000-8000-000000000004'
const LINK = '00000000-0000-4000-8000-000000000005'

/**
 * A good record, and beside it a FIFO, a symlink to /dev/zero, a 2 MiB
 * record and a symlink to the good one; what jobs must say of each.
 */
function hostileState(): Array<[string, string]> {
  writeRecord(finished(GOOD))
  assert.is(spawnSync('mkfifo', [join(state, `${FIFO}.json`)]).status, 0)
  symlinkSync('/dev/zero', join(state, `${ZERO}.json`))
  // A record in every field, but 2 MiB long: no job writes one (see below).
  writeFileSync(join(state, `${HUGE}.json`), JSON.stringify(finished(HUGE, { argv: ['copy', 'x'.repeat(2 * MiB)] })))
  symlinkSync(join(state, `${GOOD}.json`), join(state, `${LINK}.json`))
  const huge = statSync(join(state, `${HUGE}.json`)).size
  assert.ok(huge > 2 * MiB)
  return [
    [FIFO, 'is a FIFO, not a regular file as every record is'],
    [ZERO, 'is a symbolic link, not a regular file as every record is'],
    [HUGE, `is ${huge} bytes, more than the ${RECORD_MAX_BYTES} a record may hold`],
    [LINK, 'is a symbolic link, not a regular file as every record is'],
  ]
}

test('jobs and jobs --json list the good record and name a FIFO, a link to /dev/zero, a 2 MiB file as BAD_RECORD, at once', () => {
  const WHAT = hostileState()
  const run = cli(['jobs'])
  assert.is(run.status, 2, run.stderr)
  const lines = run.stdout.trimEnd().split('\n')
  assert.is(lines.length, 5, run.stdout)
  assert.match(lines[0] ?? '', new RegExp(`^${GOOD}  complete\\s+100%  copy `))
  for (const [id, what] of WHAT) {
    assert.ok(lines.includes(`${id}  BAD_RECORD  the record of job ${id}, ${state}/${id}.json, ${what}; remove it by hand`), `${id}:\n${run.stdout}`)
  }
  const json = cli(['jobs', '--json'])
  assert.is(json.status, 2, json.stderr)
  const all = JSON.parse(json.stdout) as Array<{ id: string; status?: string; error?: { code: string } }>
  assert.equal(all.map((e) => [e.id, e.status ?? e.error?.code]), [[GOOD, 'complete'], ...WHAT.map(([id]) => [id, 'BAD_RECORD'])])
})

test('status, wait, free and cancel of each say BAD_RECORD, exit 2, at once, and leave the file', () => {
  const WHAT = hostileState()
  for (const action of ['status', 'wait', 'free', 'cancel']) {
    for (const [id, what] of WHAT) {
      const run = cli(['jobs', action, id])
      assert.is(run.status, 2, `${action} ${id}: ${run.stdout}${run.stderr}`)
      assert.is(run.stderr, `blockcopy: BAD_RECORD: ID: the record of job ${id}, ${state}/${id}.json, ${what}; remove it by hand\n`)
      assert.ok(lstatSync(join(state, `${id}.json`)), `${action} ${id} left it`)
    }
  }
  assert.is(cli(['jobs', 'status', GOOD]).status, 0)
})

test('a record that would pass 1 MiB is written within it, its long lists cut to their first entries and counted', () => {
  const id = '00000000-0000-4000-8000-00000000000a'
  // A command line near the kernel's 2 MiB, and a result with 100,000 failed ranges (a disk read with --ignore-errors).
  const argv = ['replicate', '/src', '/dst', ...Array.from({ length: 60_000 }, (_, i) => `--range=${i * 4096}:${i * 4096}:512`)]
  const errors = Array.from({ length: 100_000 }, (_, i) => ({ dest: -1, offset: i * 4096, length: 512, code: 'EIO' as const, errno: 5, syscall: 'pread', message: 'EIO: i/o error, read' }))
  const completed = Array.from({ length: 100_000 }, (_, i) => ({ offset: i * 4096 + 512, length: 3584 }))
  const record = finished(id, {
    kind: 'replicate', argv, status: 'error', exitCode: 3, error: { code: 'EIO', message: '100000 failed range(s)' },
    result: {
      id, kind: 'replicate', ok: false, readErr: true, writeErr: 0, errors, cancelled: false, totalBytes: 409_600_000, completedBytes: 358_400_000,
      completed, chunkBytes: MiB, verify: 'none', digest: null, direct: { source: true, dests: [true] }, directBytes: 0, retries: 0, holeBytes: 0, elapsedMs: 1,
    },
  })
  writeRecord(record)
  const file = join(state, `${id}.json`)
  assert.ok(statSync(file).size <= RECORD_MAX_BYTES, `${statSync(file).size} bytes`)
  const read = readRecord(id)
  const omitted = read.omitted ?? {}
  // What is kept is the start of each list, what is left out is counted exactly.
  assert.equal(read.argv, argv.slice(0, read.argv.length))
  assert.equal(read.result?.errors, errors.slice(0, read.result?.errors.length))
  assert.equal(read.result?.completed, completed.slice(0, read.result?.completed.length))
  assert.is(read.argv.length + (omitted.argv ?? 0), argv.length)
  assert.is((read.result?.errors.length ?? 0) + (omitted.errors ?? 0), errors.length)
  assert.is((read.result?.completed.length ?? 0) + (omitted.completed ?? 0), completed.length)
  assert.ok((omitted.errors ?? 0) > 0 && (omitted.argv ?? 0) > 0)
  // The rest of the record as it was.
  assert.equal({ ...read, argv: [], result: { ...read.result, errors: [], completed: [] }, omitted: undefined }, { ...record, argv: [], result: { ...record.result, errors: [], completed: [] }, omitted: undefined })
  // A record that fits is written as it is.
  const small = finished(GOOD)
  writeRecord(small)
  assert.is(readFileSync(join(state, `${GOOD}.json`), 'utf8'), `${JSON.stringify(small)}\n`)

  const status = cli(['jobs', 'status', id])
  assert.is(status.status, 0, status.stderr)
  assert.match(status.stdout, new RegExp(`command: blockcopy replicate /src /dst --range=0:0:512 .* \\.\\.\\. \\(${omitted.argv} more arguments\\)\\n`))
  assert.match(status.stdout, new RegExp(`left out of the record, which holds 1\\.00 MiB at most: the last ${omitted.completed} completed extents, ${omitted.errors} failed ranges\\n`))
  const list = cli(['jobs'])
  assert.is(list.status, 0, list.stderr)
  assert.match(list.stdout, new RegExp(`^${id}  error .*\\(${omitted.argv} more arguments\\)$`, 'm'))
})

test.run()
