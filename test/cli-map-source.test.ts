import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { runCli, spawnCli } from './helpers/cli.js'
import { cmpFiles, makeTempDir, removeTempDir, writeRandomFile } from './helpers/tmp.js'

const test = suite('copy --map: the map knows its source, and one run at a time holds it')
const MiB = 1024 * 1024
const SIZE = 8 * MiB + 4097
let dir: string
let a: string
let b: string
let dst: string
let map: string

test.before.each(() => {
  dir = makeTempDir('cli-map-source')
  a = join(dir, 'a.img')
  b = join(dir, 'b.img')
  dst = join(dir, 'dst.img')
  map = join(dir, 'copy.map')
  writeRandomFile(a, SIZE, 91)
  writeRandomFile(b, SIZE, 92)
})
test.after.each(() => {
  removeTempDir(dir)
})

const copy = (from: string, extra: string[] = []) => runCli(['copy', from, dst, '--map', map, '--progress', 'none', ...extra])

interface Running {
  child: ReturnType<typeof spawnCli>
  done: Promise<{ status: number | null; signal: string | null; stderr: string }>
  /** Resolves once the child's stderr matches `re` (checked as each piece of it arrives); rejects if it exits first. */
  waitFor(re: RegExp): Promise<void>
}

/** A copy of A with the map at 256 KiB/s, once it has finished its first chunk (the map is saved and locked by then). */
async function slowCopy(): Promise<Running> {
  const child = spawnCli(['copy', a, dst, '--map', map, '--chunk', '64KiB', '--rate', '256KiB', '--progress', 'ndjson'])
  let stderr = ''
  const waiting: Array<() => void> = []
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
    for (const check of waiting.splice(0)) check()
  })
  const done = new Promise<{ status: number | null; signal: string | null; stderr: string }>((resolve) => child.on('close', (status, signal) => resolve({ status, signal, stderr })))
  const waitFor = (re: RegExp) => new Promise<void>((resolve, reject) => {
    const check = () => {
      if (re.test(stderr)) resolve()
      else waiting.push(check)
    }
    void done.then((d) => reject(new Error(`exited ${String(d.status)} before ${String(re)}: ${d.stderr}`)))
    check()
  })
  await waitFor(/"doneBytes":[1-9]/)
  return { child, done, waitFor }
}

test('copy A D --map M, then B D --map M (another source of the same size): MAP_MISMATCH, exit 2, D still a copy of A', () => {
  const first = copy(a)
  assert.is(first.status, 0, first.stderr)
  const before = readFileSync(map, 'utf8')
  const second = copy(b)
  assert.is(second.status, 2, second.stderr)
  assert.match(second.stderr, /^blockcopy: MAP_MISMATCH: --map: .*copy\.map is the map of another source: 8 of the 8 blocks sampled at its first run read differently now/)
  assert.ok(cmpFiles(a, dst), 'D is untouched')
  assert.is(readFileSync(map, 'utf8'), before, 'M is untouched')
  const json = copy(b, ['--json'])
  assert.is(json.status, 2)
  assert.is((JSON.parse(json.stdout) as { error: { code: string; argument: string } }).error.code, 'MAP_MISMATCH')
  // Knowingly: --force takes the map as it is, and says so.
  const forced = copy(b, ['--force'])
  assert.is(forced.status, 0, forced.stderr)
  assert.match(forced.stderr, /^blockcopy: --map: forced: 8 of the 8 blocks sampled/m)
  const noMap = runCli(['copy', a, dst, '--force', '--progress', 'none'])
  assert.is(noMap.status, 2)
  assert.match(noMap.stderr, /--force: only applies with --since or --map/)
})

test('two runs on one map at once: the second is refused, exit 2; a second Ctrl-C exits at once and takes the lock file with it', async () => {
  const run = await slowCopy()
  // Held still while the second runs, however slowly this machine starts it: a stopped process keeps its flock.
  run.child.kill('SIGSTOP')
  assert.ok(existsSync(`${map}.lock`), 'the running copy holds the lock file')
  const second = copy(a)
  run.child.kill('SIGCONT')
  assert.is(second.status, 2, second.stderr)
  assert.match(second.stderr, /INVALID_ARGUMENT: --map: .*copy\.map is in use by another copy \(.*copy\.map\.lock is locked\): one copy at a time per map/)
  run.child.kill('SIGINT')
  // The second Ctrl-C once the first has been taken (two at once would be one signal).
  await run.waitFor(/interrupted; finishing running chunks/)
  run.child.kill('SIGINT')
  const r = await run.done
  assert.ok(r.status === 130 || r.signal === 'SIGINT', `exit ${String(r.status)} ${String(r.signal)}: ${r.stderr}`)
  assert.not.ok(existsSync(`${map}.lock`), 'no lock file left behind')
  // The next run resumes, and ends byte-exact.
  const rest = copy(a)
  assert.is(rest.status, 0, rest.stderr)
  assert.ok(cmpFiles(a, dst))
})

test('a run killed outright leaves its lock file, which holds no lock: the next run takes it, and removes it', async () => {
  const run = await slowCopy()
  run.child.kill('SIGKILL')
  await run.done
  assert.ok(existsSync(`${map}.lock`), 'SIGKILL leaves the file')
  const rest = copy(a)
  assert.is(rest.status, 0, rest.stderr)
  assert.not.ok(existsSync(`${map}.lock`))
  assert.ok(cmpFiles(a, dst))
})

test('after a kill, copy A D2 --map M into another destination of sufficient size: MAP_MISMATCH, exit 2, D2 untouched; --force goes on', async () => {
  // Interrupted: its last save records what it copied.
  const run = await slowCopy()
  run.child.kill('SIGINT')
  await run.done
  const d2 = join(dir, 'd2.img')
  writeRandomFile(d2, SIZE, 93)
  const before = readFileSync(d2)
  const other = runCli(['copy', a, d2, '--map', map, '--progress', 'none'])
  assert.is(other.status, 2, other.stderr)
  assert.match(other.stderr, /^blockcopy: MAP_MISMATCH: --map: .*copy\.map is the map of a copy into other destinations: DST is the file with inode \d+ on device \d+:\d+, where the map's destination 1 was the file with inode \d+ on device \d+:\d+: the \d+ bytes it records as done were written to other files\. Nothing was written; remove the map to start over, or give --force to resume it anyway/)
  assert.ok(readFileSync(d2).equals(before), 'D2 is untouched')
  const forced = runCli(['copy', a, d2, '--map', map, '--progress', 'none', '--force'])
  assert.is(forced.status, 0, forced.stderr)
  assert.match(forced.stderr, /^blockcopy: --map: forced: DST is the file with inode/m)
})

test('a resumed copy says what this run copied apart from what earlier runs did, as its progress counts both', async () => {
  const run = await slowCopy()
  run.child.kill('SIGINT')
  await run.done
  const rest = copy(a)
  assert.is(rest.status, 0, rest.stderr)
  assert.match(rest.stdout, /^copied \d+(\.\d+)? [KM]iB this run \(\d+(\.\d+)? [KM]iB by earlier runs\) of 8\.00 MiB from /)
  assert.ok(cmpFiles(a, dst))
  // A copy that resumes nothing says it as before.
  const fresh = runCli(['copy', a, join(dir, 'fresh.img'), '--progress', 'none'])
  assert.match(fresh.stdout, /^copied 8\.00 MiB of 8\.00 MiB from /)
})

test('a DST that is the map\'s lock file is refused before anything is locked or written', () => {
  const lockNamed = `${map}.lock`
  const run = runCli(['copy', a, lockNamed, '--map', map, '--progress', 'none'])
  assert.is(run.status, 2, run.stderr)
  assert.match(run.stderr, /INVALID_ARGUMENT: --map: its lock file .*copy\.map\.lock is DST .*copy\.map\.lock \(the same path\); two files a command writes must be different files/)
  assert.not.ok(existsSync(lockNamed) || existsSync(map))
})

test.run()
