import { execFileSync } from 'node:child_process'
import { existsSync, linkSync, lstatSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { runCli } from './helpers/cli.js'
import { makeTempDir, readRange, removeTempDir, writeRandomFile } from './helpers/tmp.js'

const test = suite('no command writes a file it reads, or one file under two names')
const KiB = 1024
const MiB = 1024 * KiB
let dir: string
let src: string
let dst: string

test.before.each(() => {
  dir = makeTempDir('cli-aliases')
  src = join(dir, 'src.img')
  dst = join(dir, 'dst.img')
  writeRandomFile(src, 2 * MiB + 100, 71)
})
test.after.each(() => {
  removeTempDir(dir)
})

/** A snapshot of the directory: every entry and what it holds. */
function snapshot(): Map<string, string> {
  return new Map(readdirSync(dir).sort().map((n) => {
    const p = join(dir, n)
    return [n, lstatSync(p).isFile() ? readFileSync(p).toString('base64') : lstatSync(p).mode.toString(8)]
  }))
}

test('copy --map a FIFO: refused at once as not a regular file, instead of blocking on its read; nothing created', () => {
  const fifo = join(dir, 'copy.map')
  execFileSync('mkfifo', [fifo])
  const run = runCli(['copy', src, dst, '--map', fifo, '--progress', 'none'], { timeoutMs: 30_000 })
  assert.is(run.status, 2, `${String(run.signal)} ${run.stderr}`)
  assert.match(run.stderr, /INVALID_ARGUMENT: --map: .*copy\.map is not a regular file but a FIFO/)
  assert.not.ok(existsSync(dst))
})

test('copy --map that is a DST by a hard link or a dangling link, or SRC by a symlink: refused naming both as typed', () => {
  writeRandomFile(dst, 2 * MiB + 100, 72)
  const before = snapshot()
  linkSync(dst, join(dir, 'dst.map'))
  const asDst = runCli(['copy', src, dst, '--map', join(dir, 'dst.map'), '--progress', 'none'])
  assert.is(asDst.status, 2, asDst.stderr)
  assert.match(asDst.stderr, /INVALID_ARGUMENT: --map: .*dst\.map is DST .*dst\.img \(hard links of the same file\); two files a command writes must be different files/)
  symlinkSync(src, join(dir, 'src.map'))
  const asSrc = runCli(['copy', src, dst, '--map', join(dir, 'src.map'), '--progress', 'none'])
  assert.is(asSrc.status, 2, asSrc.stderr)
  assert.match(asSrc.stderr, /INVALID_ARGUMENT: --map: .*src\.map is SRC .*src\.img \(the same file, one name through a symlink\); a command never writes a file it reads/)
  // A dangling link to a destination still to be created is that destination.
  symlinkSync('new.img', join(dir, 'new.map'))
  const asNew = runCli(['copy', src, join(dir, 'new.img'), '--map', join(dir, 'new.map'), '--progress', 'none'])
  assert.is(asNew.status, 2, asNew.stderr)
  assert.match(asNew.stderr, /INVALID_ARGUMENT: --map: .*new\.map is DST .*new\.img \(the same file still to be created, one name through a symlink\)/)
  const after = snapshot()
  for (const name of ['dst.map', 'src.map', 'new.map']) after.delete(name)
  assert.equal(after, before, 'every file as it was, nothing created')
})

test('copy --since M --checkpoint C, C a symlink to M: refused by identity before anything is read or locked', () => {
  writeFileSync(dst, readFileSync(src))
  const m = join(dir, 'dst.bcm')
  assert.is(runCli(['hash', dst, '-o', m, '--progress', 'none']).status, 0)
  symlinkSync(m, join(dir, 'ckpt'))
  const before = snapshot()
  const run = runCli(['copy', src, dst, '--since', m, '--checkpoint', join(dir, 'ckpt'), '--progress', 'none'])
  assert.is(run.status, 2, run.stderr)
  assert.match(run.stderr, /INVALID_ARGUMENT: --checkpoint: .*ckpt is --since .*dst\.bcm \(the same file, one name through a symlink\)/)
  assert.equal(snapshot(), before, 'no lock file, no clone, nothing written')
})

test('replicate DST that is the --ranges file (a hard link): refused, the ranges file untouched', () => {
  const ranges = join(dir, 'ranges.txt')
  writeFileSync(ranges, '0 0 4096\n')
  linkSync(ranges, join(dir, 'out.img'))
  const before = snapshot()
  const run = runCli(['replicate', src, join(dir, 'out.img'), '--ranges', ranges, '--type', 'copy', '--progress', 'none'])
  assert.is(run.status, 2, run.stderr)
  assert.match(run.stderr, /INVALID_ARGUMENT: DST: .*out\.img is --ranges .*ranges\.txt \(hard links of the same file\); a command never writes a file it reads/)
  assert.equal(snapshot(), before)
  // DST may still be SRC: a move inside one file, like memmove.
  const self = runCli(['replicate', src, src, '--range', '0:1MiB:4KiB', '--type', 'copy', '--progress', 'none'])
  assert.is(self.status, 0, self.stderr)
})

test('zero: two names of one file are one file, whose ranges may not overlap but may sit side by side', () => {
  writeRandomFile(dst, 64 * KiB, 73)
  const twin = join(dir, 'twin.img')
  linkSync(dst, twin)
  const overlap = runCli(['zero', dst, twin, '--length', '8KiB', '--dst-offset', '0', '--dst-offset', '4KiB', '--progress', 'none'])
  assert.is(overlap.status, 2, overlap.stderr)
  assert.match(overlap.stderr, /INVALID_ARGUMENT: DST 2: bytes 4096\.\.12288 of .*twin\.img overlap /)
  const sideBySide = runCli(['zero', dst, twin, '--length', '4KiB', '--dst-offset', '0', '--dst-offset', '8KiB', '--progress', 'none'])
  assert.is(sideBySide.status, 0, sideBySide.stderr)
  assert.ok(readRange(dst, 0, 4 * KiB).equals(Buffer.alloc(4 * KiB)) && readRange(dst, 8 * KiB, 4 * KiB).equals(Buffer.alloc(4 * KiB)))
})

test('verify writes nothing: a REPLICA that is the --manifest by another name is only read', () => {
  const m = join(dir, 'src.bcm')
  assert.is(runCli(['hash', src, '-o', m, '--progress', 'none']).status, 0)
  linkSync(m, join(dir, 'replica.img'))
  const before = snapshot()
  const run = runCli(['verify', '--manifest', m, join(dir, 'replica.img'), '--progress', 'none'])
  assert.is(run.status, 1, run.stderr)
  assert.match(run.stdout, /DIFFERS/)
  assert.equal(snapshot(), before)
})

test('bench writes only inside a directory of its own: files in --target named like its own are untouched', () => {
  writeFileSync(join(dir, 'source.img'), 'mine')
  writeFileSync(join(dir, 'dest-1.img'), 'mine too')
  const before = snapshot()
  const run = runCli(['bench', '--size', '1MiB', '--runs', '1', '--threads', '2', '--target', dir, '--json'], { timeoutMs: 120_000 })
  assert.is(run.status, 0, run.stderr)
  assert.equal(snapshot(), before)
})

test.run()
