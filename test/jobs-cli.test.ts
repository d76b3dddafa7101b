import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { mountFaultFsIn, type FaultFs } from './helpers/faultfs.js'
import { logSkip } from './helpers/root.js'
import { cmpFiles, makeTempDir, removeTempDir, writeRandomFile } from './helpers/tmp.js'

const test = suite('detached jobs seen from other processes')
const ROOT = fileURLToPath(new URL('..', import.meta.url))
const KiB = 1024
const MiB = 1024 * KiB
let dir: string
let state: string

test.before.each(() => {
  dir = makeTempDir('jobs-cli-')
  state = join(dir, 'state')
})
test.after.each(() => {
  removeTempDir(dir)
})

/** Runs the CLI in its own process with this test's state directory. */
function cli(args: string[]) {
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/bin.ts', ...args], {
    cwd: ROOT, encoding: 'utf8', timeout: 60_000, env: { ...process.env, BLOCKCOPY_STATE_DIR: state },
  })
  return { status: run.status, stdout: run.stdout, stderr: run.stderr }
}

interface Record {
  id: string
  status: string
  percent: number
  pid: number
  exitCode?: number
  error?: { code: string }
  result?: { completed: Array<{ offset: number; length: number }> }
}

const statusOf = (id: string) => JSON.parse(cli(['jobs', 'status', id, '--json']).stdout) as Record

/** A source on faultfs whose every read is slow, so a job runs for seconds. */
async function slowSource(sizeBytes: number): Promise<{ fs: FaultFs; src: string } | string> {
  const fs = await mountFaultFsIn(dir, [{ op: 'read', path: 'src.img', delayMs: 150 }])
  if (typeof fs === 'string') return fs
  const src = join(fs.mountDir, 'src.img')
  writeRandomFile(src, sizeBytes, 1)
  return { fs, src }
}

async function until(what: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms
  while (!what()) {
    if (Date.now() > end) throw new Error('timed out waiting')
    await new Promise((r) => setTimeout(r, 100))
  }
}

test('--detach prints an id at once; status, wait and free work from other processes', () => {
  const src = join(dir, 'src.img')
  const dst = join(dir, 'dst.img')
  writeRandomFile(src, 32 * MiB, 2)
  const started = cli(['copy', src, dst, '--verify', 'hash', '--detach'])
  assert.is(started.status, 0, started.stderr)
  const id = started.stdout.trim()
  assert.match(id, /^[0-9a-f-]{36}$/)
  assert.ok(['inprogress', 'complete'].includes(statusOf(id).status))
  const waited = cli(['jobs', 'wait', id])
  assert.is(waited.status, 0, waited.stdout + waited.stderr)
  assert.match(waited.stdout, /complete, 100%/)
  assert.ok(cmpFiles(src, dst))
  const list = cli(['jobs', '--json'])
  assert.equal((JSON.parse(list.stdout) as Record[]).map((r) => r.id), [id])
  assert.is(cli(['jobs', 'free', id]).status, 0)
  const gone = cli(['jobs', 'status', id])
  assert.is(gone.status, 2)
  assert.match(gone.stderr, /JOB_NOT_FOUND/)
  // Records are written whole: no temporary file is ever left behind.
  assert.equal(readdirSync(state).filter((n) => n.includes('.tmp')), [])
})

test('bad input with --detach fails at once with exit 2 and creates no destination', () => {
  const dst = join(dir, 'dst.img')
  const run = cli(['copy', join(dir, 'missing.img'), dst, '--detach'])
  assert.is(run.status, 2)
  assert.match(run.stderr, /NOT_FOUND_VOLUME: SRC: .*missing\.img does not exist/)
  assert.not.ok(existsSync(dst))
})

test('--detach refuses what the job itself refuses before writing: an incremental copy onto a destination not in its manifest\'s state', () => {
  const src = join(dir, 'src.img')
  const dst = join(dir, 'dst.img')
  writeRandomFile(src, 2 * MiB, 2)
  writeRandomFile(dst, 2 * MiB, 3)
  const m = join(dir, 'dst.bcm')
  assert.is(cli(['hash', dst, '-o', m]).status, 0)
  writeRandomFile(dst, 2 * MiB, 4)
  const before = readFileSync(dst)
  const run = cli(['copy', src, dst, '--since', m, '--detach'])
  assert.is(run.status, 2, run.stdout + run.stderr)
  assert.match(run.stderr, /MANIFEST_MISMATCH: --since: chunk 0 of /)
  assert.ok(readFileSync(dst).equals(before), 'nothing written')
})

test('a state directory that cannot be used, and a damaged record, are said, not a stack trace', () => {
  const src = join(dir, 'src.img')
  writeRandomFile(src, MiB, 6)
  // A file where the state directory should be.
  writeFileSync(state, 'not a directory')
  const run = cli(['copy', src, join(dir, 'd.img'), '--detach'])
  assert.is(run.status, 2, run.stderr)
  assert.match(run.stderr, /INVALID_ARGUMENT: --detach: the job state directory .*state cannot be used \((EEXIST|ENOTDIR)\); set BLOCKCOPY_STATE_DIR/)
  assert.not.ok(existsSync(join(dir, 'd.img')))
  rmSync(state)
  mkdirSync(state)
  const id = '00000000-0000-4000-8000-000000000000'
  writeFileSync(join(state, `${id}.json`), '{ half')
  const status = cli(['jobs', 'status', id])
  assert.is(status.status, 2, status.stderr)
  assert.match(status.stderr, new RegExp(`BAD_RECORD: ID: the record of job ${id}, .*${id}\\.json, is damaged \\(not JSON\\); remove it by hand`))
})

test('--detach with paths after `--`: the job id is never taken for a path', async () => {
  const src = join(dir, 'src.img')
  writeRandomFile(src, MiB, 5)
  const run = cli(['copy', '--detach', '--progress', 'none', '--', src, join(dir, 'dd.img')])
  assert.is(run.status, 0, run.stderr)
  const id = run.stdout.trim()
  const waited = cli(['jobs', 'wait', id])
  assert.is(waited.status, 0, waited.stdout + waited.stderr)
  assert.ok(cmpFiles(src, join(dir, 'dd.img')))
  assert.equal(readdirSync(dir).sort(), ['dd.img', 'src.img', 'state'], 'no file named after --job-id or the id')
})

test('jobs cancel stops a running job from another process: wait exits 130 and completed extents are exact', async () => {
  const slow = await slowSource(2 * MiB)
  if (typeof slow === 'string') return logSkip(slow)
  try {
    const dst = join(dir, 'dst.img')
    const started = cli(['copy', slow.src, dst, '--chunk', '64KiB', '--threads', '1', '--direct', 'never', '--detach'])
    assert.is(started.status, 0, started.stderr)
    const id = started.stdout.trim()
    await until(() => statusOf(id).percent > 0)
    const cancel = cli(['jobs', 'cancel', id])
    assert.is(cancel.status, 0, cancel.stderr)
    const waited = cli(['jobs', 'wait', id, '--json'])
    assert.is(waited.status, 130, waited.stdout)
    const r = JSON.parse(waited.stdout) as Record
    assert.is(r.status, 'cancelled')
    assert.ok(r.percent < 100)
    for (const e of r.result?.completed ?? []) assert.ok(cmpFiles(slow.src, dst, { aOffset: e.offset, bOffset: e.offset, length: e.length }))
    assert.is(cli(['jobs', 'cancel', id]).status, 2, 'a finished job cannot be cancelled')
  } finally {
    await slow.fs.unmount()
  }
})

test('a job whose process was killed shows as failed, not as running forever', async () => {
  const slow = await slowSource(2 * MiB)
  if (typeof slow === 'string') return logSkip(slow)
  try {
    const started = cli(['copy', slow.src, join(dir, 'dst.img'), '--chunk', '64KiB', '--threads', '1', '--direct', 'never', '--detach'])
    const id = started.stdout.trim()
    await until(() => statusOf(id).percent > 0)
    process.kill(statusOf(id).pid, 'SIGKILL')
    await until(() => statusOf(id).status !== 'inprogress', 5000)
    const r = statusOf(id)
    assert.is(r.status, 'error')
    assert.is(r.error?.code, 'JOB_DIED')
    const waited = cli(['jobs', 'wait', id])
    assert.is(waited.status, 3)
    assert.match(waited.stdout, /JOB_DIED/)
    // The record on disk still says what the process last wrote.
    const onDisk = JSON.parse(readFileSync(join(state, `${id}.json`), 'utf8')) as Record
    assert.is(onDisk.status, 'inprogress')
  } finally {
    await slow.fs.unmount()
  }
})

test('while a job runs, its record is rewritten no more often than every 250 ms', async () => {
  const slow = await slowSource(2 * MiB)
  if (typeof slow === 'string') return logSkip(slow)
  try {
    const started = cli(['copy', slow.src, join(dir, 'dst.img'), '--chunk', '64KiB', '--threads', '2', '--direct', 'never', '--detach'])
    const id = started.stdout.trim()
    const seen: number[] = []
    let last = ''
    const file = join(state, `${id}.json`)
    const end = Date.now() + 20_000
    for (;;) {
      const text = readFileSync(file, 'utf8')
      const r = JSON.parse(text) as Record & { updatedAt: string }
      if (text !== last) {
        seen.push(Date.parse(r.updatedAt))
        last = text
      }
      if (r.status !== 'inprogress' || Date.now() > end) break
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    assert.ok(seen.length >= 3, `${seen.length} versions seen`)
    for (let i = 1; i < seen.length; i++) assert.ok((seen[i] as number) - (seen[i - 1] as number) >= 250, `writes ${seen[i - 1]} and ${seen[i]}`)
  } finally {
    await slow.fs.unmount()
  }
})

test.run()
