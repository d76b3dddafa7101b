import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { runCli } from './helpers/cli.js'
import { readManifest } from '../src/index.js'
import { logSkip } from './helpers/root.js'
import { makeTempDir, removeTempDir, writeRandomFile } from './helpers/tmp.js'

const test = suite('blockcopy hash')
const MiB = 1024 * 1024
let dir: string

test.before.each(() => {
  dir = makeTempDir('cli-hash-')
})
test.after.each(() => {
  removeTempDir(dir)
})

const cli = (args: string[]) => runCli(['hash', ...args])

/** Runs xxhsum; null when it is not installed (apt-get install xxhash). */
function xxhsum(args: string[]) {
  const run = spawnSync('xxhsum', args, { encoding: 'utf8' })
  return run.error ? null : run
}

/** Several files, among them an empty one, a 1-byte one and an unaligned one; names relative to dir. */
function someFiles(): string[] {
  writeFileSync(join(dir, 'empty.bin'), '')
  writeFileSync(join(dir, 'one.bin'), 'a')
  writeRandomFile(join(dir, 'odd.bin'), 9 * MiB + 77, 1)
  writeRandomFile(join(dir, 'page.bin'), 4096, 2)
  return ['empty.bin', 'one.bin', 'odd.bin', 'page.bin']
}

test('--xxhsum prints what xxhsum -H3 prints, and xxhsum -c accepts it', () => {
  const files = someFiles().map((f) => join(dir, f))
  const ours = cli(['--xxhsum', ...files])
  assert.is(ours.status, 0, ours.stderr)
  const theirs = xxhsum(['-H3', ...files])
  if (!theirs) return logSkip('xxhsum is not installed (apt-get install xxhash)')
  assert.is(ours.stdout, theirs.stdout)
  const list = join(dir, 'sums.xxh3')
  writeFileSync(list, ours.stdout)
  const check = xxhsum(['-c', list])
  assert.is(check?.status, 0, `${check?.stdout}${check?.stderr}`)
  assert.is(check?.stdout.match(/: OK$/gm)?.length, files.length)
})

test('--xxhsum --algo xxh128 prints what xxhsum -H2 prints, and xxhsum -c accepts it', () => {
  const files = someFiles().map((f) => join(dir, f))
  const ours = cli(['--xxhsum', '--algo', 'xxh128', ...files])
  assert.is(ours.status, 0, ours.stderr)
  const theirs = xxhsum(['-H2', ...files])
  if (!theirs) return logSkip('xxhsum is not installed (apt-get install xxhash)')
  assert.is(ours.stdout, theirs.stdout)
  writeFileSync(join(dir, 'sums.xxh128'), ours.stdout)
  assert.is(xxhsum(['-c', join(dir, 'sums.xxh128')])?.status, 0)
})

test('xxhsum -c rejects a --xxhsum list once a file changes', () => {
  const files = someFiles().map((f) => join(dir, f))
  const ours = cli(['--xxhsum', ...files])
  writeFileSync(join(dir, 'sums'), ours.stdout)
  writeFileSync(join(dir, 'one.bin'), 'b')
  const check = xxhsum(['-c', join(dir, 'sums')])
  if (!check) return logSkip('xxhsum is not installed (apt-get install xxhash)')
  assert.is(check.status, 1)
  assert.match(check.stdout, /one\.bin: FAILED/)
})

test('-o writes a manifest that decodes to the printed root, size and chunking', async () => {
  const file = join(dir, 'odd.bin')
  writeRandomFile(file, 9 * MiB + 77, 3)
  const out = join(dir, 'odd.bcm')
  const run = cli([file, '--chunk', '256KiB', '-o', out])
  assert.is(run.status, 0, run.stderr)
  const m = await readManifest(out)
  assert.is(m.sizeBytes, 9 * MiB + 77)
  assert.is(m.chunkBytes, 256 * 1024)
  assert.is(m.chunkCount, 37)
  assert.match(run.stdout, new RegExp(`^${m.root}  ${file}  \\(xxh3 root of 37 chunks of 256\\.00 KiB`))
  assert.match(run.stdout, /manifest written to /)
  const json = cli([file, '--chunk', '256KiB', '--algo', 'xxh128', '--json'])
  assert.is(json.status, 0, json.stderr)
  const r = JSON.parse(json.stdout) as { ok: boolean; files: Array<{ root: string; algo: string; chunkCount: number }> }
  assert.is(r.ok, true)
  assert.is(r.files[0]?.algo, 'xxh128')
  assert.is(r.files[0]?.root.length, 32)
  assert.is(r.files[0]?.chunkCount, 37)
})

test('bad input exits 2 naming what is wrong, and writes no manifest', () => {
  const file = join(dir, 'a.bin')
  writeRandomFile(file, MiB, 4)
  mkdirSync(join(dir, 'sub'))
  const out = join(dir, 'm.bcm')
  const cases: Array<[string[], RegExp]> = [
    [[join(dir, 'missing.bin'), '-o', out], /NOT_FOUND_VOLUME: FILE 1: .*missing\.bin does not exist/],
    [[file, join(dir, 'sub'), '--xxhsum'], /INVALID_ARGUMENT: FILE 2: .*sub is neither a regular file nor a block device/],
    [[file, file, '-o', out], /-o: a manifest describes one FILE, got 2/],
    [[file, '--xxhsum', '-o', out], /-o: --xxhsum prints whole-file digests/],
    [[file, '-o', join(dir, 'nodir', 'm.bcm')], /-o: directory .*nodir does not exist/],
    [[file, '--chunk', '1000', '-o', out], /--chunk: must be a whole number from 65536/],
    [[file, '--algo', 'md5'], /--algo/],
  ]
  for (const [args, message] of cases) {
    const run = cli(args)
    assert.is(run.status, 2, `${args.join(' ')}: ${run.stderr}`)
    assert.match(run.stderr, message)
  }
  assert.not.ok(existsSync(out))
})

test.run()
