import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { runCli } from './helpers/cli.js'
import { makeTempDir, removeTempDir, writePatternFile, writeRandomFile } from './helpers/tmp.js'

const test = suite('blockcopy replicate')
const KiB = 1024
const MiB = 1024 * KiB
let dir: string

test.before.each(() => {
  dir = makeTempDir('cli-replicate-')
})
test.after.each(() => {
  removeTempDir(dir)
})

const cli = (args: string[]) => runCli(['replicate', ...args])

test('--range with units and a --ranges file with comments replicate exactly those bytes', () => {
  const src = join(dir, 'src.img')
  const dst = join(dir, 'dst.img')
  writeRandomFile(src, 2 * MiB, 1)
  writePatternFile(dst, 3 * MiB, 0x11)
  const list = join(dir, 'ranges.txt')
  writeFileSync(list, '# src dst len\n1MiB 2MiB 8s   # one range\n\n  0 5000 1KiB\n')
  const run = cli([src, dst, '--range', '4KiB:0:4KiB', '--ranges', list, '--type', 'copy', '--verify', 'readback', '--json'])
  assert.is(run.status, 0, run.stderr)
  const r = JSON.parse(run.stdout) as { ok: boolean; totalBytes: number; method: string }
  assert.is(r.ok, true)
  assert.is(r.method, 'copy')
  assert.is(r.totalBytes, 4096 + 4096 + 1024)
  const s = readFileSync(src)
  const want = Buffer.alloc(3 * MiB, 0x11)
  s.copy(want, 0, 4096, 8192)
  s.copy(want, 2 * MiB, MiB, MiB + 4096)
  s.copy(want, 5000, 0, 1024)
  assert.ok(readFileSync(dst).equals(want))
})

test('an overlapping move within one file through the command line gives what memmove gives', () => {
  const file = join(dir, 'self.img')
  writeRandomFile(file, 2 * MiB, 2)
  const before = readFileSync(file)
  const run = cli([file, file, '--range', '0:12345:1MiB', '--type', 'copy', '--chunk', '64KiB'])
  assert.is(run.status, 0, run.stderr)
  assert.match(run.stdout, /^copied 1\.00 MiB/)
  before.copyWithin(12345, 0, MiB)
  assert.ok(readFileSync(file).equals(before))
})

test('bad input exits 2 naming what is wrong, and creates nothing', () => {
  const src = join(dir, 'src.img')
  const dst = join(dir, 'dst.img')
  writeRandomFile(src, MiB, 3)
  const noType = cli([src, dst, '--range', '0:0:4KiB'])
  assert.is(noType.status, 2)
  assert.match(noType.stderr, /--type/)
  const badRange = cli([src, dst, '--range', '0:4KiB', '--type', 'copy'])
  assert.is(badRange.status, 2)
  assert.match(badRange.stderr, /--range 1: expected SRC_OFF DST_OFF LEN/)
  const past = cli([src, dst, '--range', '1MiB:0:1', '--type', 'copy', '--json'])
  assert.is(past.status, 2)
  assert.match(past.stderr, /--range 1: source bytes 1048576\.\.1048577 pass the end/)
  assert.is((JSON.parse(past.stdout) as { error: { code: string } }).error.code, 'INVALID_ARGUMENT')
  const none = cli([src, dst, '--type', 'copy'])
  assert.is(none.status, 2)
  assert.match(none.stderr, /at least one --range/)
  // A range from a file is named by its line, after any --range flags; so are both of an overlapping pair.
  const file = join(dir, 'ranges.txt')
  writeFileSync(file, '# swaps\n0 4096 4096\n\n8192 12288 4096\n1MiB 0 1\n')
  const fromFile = cli([src, dst, '--range', '0:64KiB:4KiB', '--ranges', file, '--type', 'copy'])
  assert.is(fromFile.status, 2)
  assert.match(fromFile.stderr, /--ranges .*ranges\.txt line 5: source bytes 1048576\.\.1048577 pass the end/)
  writeFileSync(file, '0 4096 4096\n100 6000 4096\n')
  const overlap = cli([src, dst, '--ranges', file, '--type', 'copy'])
  assert.is(overlap.status, 2)
  assert.match(overlap.stderr, /--ranges .*ranges\.txt line 2.*--ranges .*ranges\.txt line 1|--ranges .*ranges\.txt line 1.*--ranges .*ranges\.txt line 2/)
  assert.not.match(overlap.stderr, /ranges\[/)
  assert.not.ok(existsSync(dst))
})

test.run()
