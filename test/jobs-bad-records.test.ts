import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { runCli } from './helpers/cli.js'
import { crashed, runAsNobody, skipUnlessNobody } from './helpers/nobody.js'
import { logSkip } from './helpers/root.js'
import { cmpFiles, makeTempDir, removeTempDir, writeRandomFile } from './helpers/tmp.js'

const test = suite('jobs with records that are not job records')
const MiB = 1024 * 1024
let dir: string
let state: string

test.before.each(() => {
  dir = makeTempDir('jobs-bad-records-')
  state = join(dir, 'state')
})
test.after.each(() => {
  removeTempDir(dir)
})

const cli = (args: string[]) => runCli(args, { env: { BLOCKCOPY_STATE_DIR: state } })

/** Ids for hand-written records, one per way a record can be wrong. */
const BAD = {
  onlyId: '00000000-0000-4000-8000-000000000001',
  nullArgv: '00000000-0000-4000-8000-000000000002',
  notJson: '00000000-0000-4000-8000-000000000003',
  directory: '00000000-0000-4000-8000-000000000004',
  otherId: '00000000-0000-4000-8000-000000000005',
}

/** A finished detached copy, then beside its record every kind of bad one. */
function stateWithBadRecords(): string {
  const src = join(dir, 'src.img')
  writeRandomFile(src, MiB, 1)
  const started = cli(['copy', src, join(dir, 'dst.img'), '--detach'])
  assert.is(started.status, 0, started.stderr)
  const good = started.stdout.trim()
  assert.is(cli(['jobs', 'wait', good]).status, 0)
  assert.ok(cmpFiles(src, join(dir, 'dst.img')))
  const record = JSON.parse(readFileSync(join(state, `${good}.json`), 'utf8')) as Record<string, unknown>
  writeFileSync(join(state, `${BAD.onlyId}.json`), JSON.stringify({ id: 5 }))
  writeFileSync(join(state, `${BAD.nullArgv}.json`), JSON.stringify({ ...record, id: BAD.nullArgv, argv: null }))
  writeFileSync(join(state, `${BAD.notJson}.json`), '{ half')
  mkdirSync(join(state, `${BAD.directory}.json`))
  writeFileSync(join(state, `${BAD.otherId}.json`), JSON.stringify(record))
  writeFileSync(join(state, 'notes.json'), '{}')
  return good
}

const WHAT: Array<[string, RegExp]> = [
  [BAD.onlyId, /is not a job record: its id must be 00000000-0000-4000-8000-000000000001, the file's name, got 5; remove it by hand/],
  [BAD.nullArgv, /is not a job record: argv must be a list of strings, got null; remove it by hand/],
  [BAD.notJson, /is damaged \(not JSON\); remove it by hand/],
  [BAD.otherId, /is not a job record: its id must be 00000000-0000-4000-8000-000000000005, the file's name, got "[0-9a-f-]{36}"/],
]

test('jobs lists every good record and names each bad one on a line of its own, exit 2', () => {
  const good = stateWithBadRecords()
  const run = cli(['jobs'])
  assert.is(run.status, 2, run.stderr)
  assert.not.match(run.stderr, /TypeError|at .*\.ts:\d+/)
  const lines = run.stdout.trimEnd().split('\n')
  assert.is(lines.length, 7, run.stdout)
  // A directory is not a record either: named without being opened.
  assert.ok(lines.includes(`${BAD.directory}  BAD_RECORD  the record of job ${BAD.directory}, ${state}/${BAD.directory}.json, is a directory, not a regular file as every record is; remove it by hand`), run.stdout)
  assert.match(lines[0] ?? '', new RegExp(`^${good}  complete\\s+100%  copy\\s+\\S+  blockcopy copy `))
  for (const [id, what] of WHAT) {
    const line = lines.find((l) => l.startsWith(`${id}  `)) ?? ''
    assert.match(line, new RegExp(`^${id}  BAD_RECORD  the record of job ${id}, ${state}/${id}\\.json, `))
    assert.match(line, what)
  }
  assert.ok(lines.some((l) => l === `notes  BAD_RECORD  the record of job notes, ${state}/notes.json, is not named after a job id (a UUID as --detach prints); remove it by hand`), run.stdout)
})

test('jobs --json has the good records and an entry with error BAD_RECORD and the file for each bad one', () => {
  const good = stateWithBadRecords()
  const run = cli(['jobs', '--json'])
  assert.is(run.status, 2, run.stderr)
  const all = JSON.parse(run.stdout) as Array<{ id: string; status?: string; file?: string; error?: { code: string; message: string } }>
  assert.is(all.length, 7)
  assert.is(all[0]?.id, good)
  assert.is(all[0]?.status, 'complete')
  assert.is(all[0]?.error, undefined)
  for (const [id, what] of WHAT) {
    const entry = all.find((e) => e.id === id)
    assert.is(entry?.file, join(state, `${id}.json`))
    assert.is(entry?.error?.code, 'BAD_RECORD')
    assert.match(entry?.error?.message ?? '', what)
    assert.is(entry?.status, undefined)
  }
  assert.is(all.find((e) => e.id === 'notes')?.error?.code, 'BAD_RECORD')
  const directory = all.find((e) => e.id === BAD.directory)
  assert.is(directory?.file, join(state, `${BAD.directory}.json`))
  assert.is(directory?.error?.code, 'BAD_RECORD')
})

test('status, wait, free and cancel of a bad record say BAD_RECORD with the file, exit 2, and leave it; the good one still answers', () => {
  const good = stateWithBadRecords()
  // Every kind of bad record for status; two of them for the other actions, which read records the same way.
  const cases = [...WHAT.map(([id, what]) => ['status', id, what] as const), ...['wait', 'free', 'cancel'].flatMap((action) => WHAT.slice(0, 2).map(([id, what]) => [action, id, what] as const))]
  for (const [action, id, what] of cases) {
    const run = cli(['jobs', action, id])
    assert.is(run.status, 2, `${action} ${id}: ${run.stdout}${run.stderr}`)
    assert.match(run.stderr, new RegExp(`^blockcopy: BAD_RECORD: ID: the record of job ${id}, ${state}/${id}\\.json, `))
    assert.match(run.stderr, what)
    assert.not.match(run.stderr, /TypeError/)
    assert.ok(existsSync(join(state, `${id}.json`)))
  }
  const dirRecord = cli(['jobs', 'status', BAD.directory])
  assert.is(dirRecord.status, 2)
  assert.match(dirRecord.stderr, new RegExp(`^blockcopy: BAD_RECORD: ID: the record of job ${BAD.directory}, ${state}/${BAD.directory}\\.json, is a directory`))
  const json = cli(['jobs', 'status', BAD.nullArgv, '--json'])
  assert.is(json.status, 2)
  assert.is((JSON.parse(json.stdout) as { error: { code: string } }).error.code, 'BAD_RECORD')
  const status = cli(['jobs', 'status', good])
  assert.is(status.status, 0, status.stderr)
  assert.match(status.stdout, /complete, 100%/)
})

test('BLOCKCOPY_STATE_DIR naming a file is said, exit 2, in every form of jobs, instead of "no jobs"', () => {
  writeFileSync(state, 'not a directory')
  const id = '00000000-0000-4000-8000-000000000009'
  for (const args of [['jobs'], ['jobs', '--json'], ['jobs', 'status', id], ['jobs', 'wait', id]]) {
    const run = cli(args)
    assert.is(run.status, 2, `${args.join(' ')}: ${run.stdout}${run.stderr}`)
    assert.match(run.stderr, new RegExp(`ENOTDIR: the job state directory ${state} cannot be read: not a directory, scandir '${state}'; set BLOCKCOPY_STATE_DIR to use another`))
    assert.not.match(run.stdout, /no jobs/)
    if (args.includes('--json')) assert.is((JSON.parse(run.stdout) as { error: { code: string } }).error.code, 'ENOTDIR')
  }
})

test('as a user who cannot read the state directory, or one record in it, status says so and the list names the record', () => {
  const why = skipUnlessNobody()
  if (why) return logSkip(why)
  // Readable by nobody down to the state directory, which is root's alone.
  chmodSync(dir, 0o755)
  mkdirSync(state, { mode: 0o700 })
  const id = '00000000-0000-4000-8000-000000000009'
  const asNobody = (args: string[]) => {
    const run = runAsNobody(args, { BLOCKCOPY_STATE_DIR: state })
    assert.not.ok(crashed(run), run.stderr)
    return run
  }
  // Not "no job": the directory it cannot read is named.
  const status = asNobody(['jobs', 'status', id])
  assert.is(status.status, 2, status.stderr)
  assert.is(status.stderr, `blockcopy: EACCES: the job state directory ${state} cannot be read: permission denied, scandir '${state}'; set BLOCKCOPY_STATE_DIR to use another\n`)
  // A directory it can list, with a record it cannot read beside one it can: both listed, neither hidden.
  chmodSync(state, 0o755)
  writeFileSync(join(state, `${id}.json`), '{}', { mode: 0o600 })
  const other = '00000000-0000-4000-8000-00000000000a'
  writeFileSync(join(state, `${other}.json`), '{}', { mode: 0o644 })
  const list = asNobody(['jobs'])
  assert.is(list.status, 2, list.stderr)
  assert.equal(list.stdout.trimEnd().split('\n'), [
    `${id}  EACCES  the record of job ${id}, ${state}/${id}.json, cannot be read: permission denied, open '${state}/${id}.json'`,
    `${other}  BAD_RECORD  the record of job ${other}, ${state}/${other}.json, is not a job record: its id must be ${other}, the file's name, got nothing; remove it by hand`,
  ])
})

test('a state directory that does not exist yet has no jobs, and an unknown id is JOB_NOT_FOUND', () => {
  const list = cli(['jobs'])
  assert.is(list.status, 0, list.stderr)
  assert.is(list.stdout, 'no jobs\n')
  const status = cli(['jobs', 'status', '00000000-0000-4000-8000-000000000009'])
  assert.is(status.status, 2)
  assert.match(status.stderr, /JOB_NOT_FOUND/)
})

test('a --detach run refused in its checks leaves no record and no log', () => {
  const src = join(dir, 'src.img')
  const dst = join(dir, 'dst.img')
  writeRandomFile(src, 2 * MiB, 2)
  // Refused by the arguments' checks: SRC missing.
  const missing = cli(['copy', join(dir, 'missing.img'), dst, '--detach', '--json'])
  assert.is(missing.status, 2)
  assert.match(missing.stderr, /NOT_FOUND_VOLUME/)
  const answer = JSON.parse(missing.stdout) as { ok: boolean; id?: string }
  assert.is(answer.ok, false)
  assert.is(answer.id, undefined, 'no id printed')
  // Refused by commander: an unknown option.
  assert.is(cli(['copy', src, dst, '--no-such-flag', '--detach']).status, 2)
  // Refused in the job's own checks, after it was created: a destination not in its manifest's state.
  writeRandomFile(dst, 2 * MiB, 3)
  const m = join(dir, 'dst.bcm')
  assert.is(cli(['hash', dst, '-o', m]).status, 0)
  writeRandomFile(dst, 2 * MiB, 4)
  const since = cli(['copy', src, dst, '--since', m, '--detach'])
  assert.is(since.status, 2, since.stdout + since.stderr)
  assert.match(since.stderr, /MANIFEST_MISMATCH/)
  assert.is(since.stdout, '', 'no id printed')
  assert.equal(readdirSync(state), [])
  const list = cli(['jobs'])
  assert.is(list.status, 0)
  assert.is(list.stdout, 'no jobs\n')
})

test.run()
