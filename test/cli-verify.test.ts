import { closeSync, copyFileSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { runCli } from './helpers/cli.js'
import type { VerifyReport } from '../src/index.js'
import { verifyThreads } from '../src/cli/verify.js'
import { defaultThreads } from '../src/options.js'
import { mountFaultFsIn } from './helpers/faultfs.js'
import { logSkip } from './helpers/root.js'
import { makeTempDir, removeTempDir, writeRandomFile } from './helpers/tmp.js'

const test = suite('blockcopy verify')
const MiB = 1024 * 1024
const SIZE = 5 * MiB + 3
let dir: string
let src: string

test.before.each(() => {
  dir = makeTempDir('cli-verify')
  src = join(dir, 'src.img')
  writeRandomFile(src, SIZE, 21)
})
test.after.each(() => {
  removeTempDir(dir)
})

const cli = (args: string[]) => runCli(args)

function replica(name: string, ...flips: number[]): string {
  const p = join(dir, name)
  copyFileSync(src, p)
  const fd = openSync(p, 'r+')
  for (const at of flips) writeSync(fd, Buffer.from([readFileSync(src)[at] as number ^ 0x80]), 0, 1, at)
  closeSync(fd)
  return p
}

test('exit 0 when every replica is identical, and it says so', () => {
  const run = cli(['verify', src, replica('a.img'), replica('b.img')])
  assert.is(run.status, 0, run.stderr)
  assert.match(run.stdout, /^2 of 2 replicas identical to SRC /)
  assert.match(run.stdout, /identical {3}.*a\.img/)
})

test('exit 1 with differences: each replica and the exact bytes where it differs; --json has the whole report', () => {
  const a = replica('a.img', 1_000_001)
  const b = replica('b.img', 2 * MiB, 2 * MiB + 9)
  const c = replica('c.img')
  const run = cli(['verify', src, a, b, c])
  assert.is(run.status, 1, run.stderr)
  assert.match(run.stdout, /^1 of 3 replicas identical/)
  assert.match(run.stdout, /DIFFERS {5}.*a\.img: 5\.00 MiB compared; 1 B differs, in 1 range \(1 B from first to last differing byte of each\)\n/)
  assert.match(run.stdout, /DIFFERS {5}.*b\.img: 5\.00 MiB compared; 2 B differ, in 1 range \(10 B from first to last differing byte of each\)\n/)
  assert.match(run.stdout, /\n {4}byte 1000001 \(1 B\)\n/)
  assert.match(run.stdout, /\n {4}bytes 2097152-2097161 \(10 B\)\n/)

  const json = cli(['verify', src, a, b, c, '--json'])
  assert.is(json.status, 1)
  const report = JSON.parse(json.stdout) as VerifyReport
  assert.equal(report.replicas.map((r) => r.differences), [[{ offset: 1_000_001, length: 1 }], [{ offset: 2 * MiB, length: 10 }], []])
  assert.equal(report.replicas.map((r) => [r.differenceCount, r.differenceBytes, r.differingBytes]), [[1, 1, 1], [1, 10, 2], [0, 0, 0]])
  assert.equal([report.mergeGapBytes, report.maxDifferences], [64, 10_000])
  assert.equal(report.replicas.map((r) => r.identical), [false, false, true])
})

test('at most 20 ranges per replica unless --all; what is not listed is counted', () => {
  const flips = Array.from({ length: 25 }, (_, i) => i * 200 * 1024 + 3)
  const a = replica('a.img', ...flips)
  const run = cli(['verify', src, a, '--chunk', '64KiB'])
  assert.is(run.status, 1, run.stderr)
  assert.match(run.stdout, /25 B differ, in 25 ranges/)
  assert.is(run.stdout.split('\n').filter((l) => l.startsWith('    byte ')).length, 20)
  assert.match(run.stdout, /\n {4}\.\.\. and 5 more ranges \(5 B\) not listed \(--all or --json lists up to 10000\)\n/)
  const all = cli(['verify', src, a, '--chunk', '64KiB', '--all'])
  assert.is(all.stdout.split('\n').filter((l) => l.startsWith('    byte ')).length, 25)
  assert.not.match(all.stdout, /not listed/)
})

test('5 scattered bytes are 5 one-byte ranges; a chunk with more runs than a worker returns stops the list there, the totals exact', () => {
  const scattered = [4096, 400_000, 1_000_000, 3 * MiB + 1, SIZE - 1]
  const five = cli(['verify', src, replica('five.img', ...scattered)])
  assert.is(five.status, 1)
  assert.match(five.stdout, /five\.img: 5\.00 MiB compared; 5 B differ, in 5 ranges \(5 B from first to last differing byte of each\)\n/)
  assert.equal(five.stdout.split('\n').filter((l) => l.startsWith('    byte ')), scattered.map((at) => `    byte ${at} (1 B)`))
  // 300 runs in the first 64 KiB chunk, one in the next.
  const many = replica('many.img', ...Array.from({ length: 300 }, (_, i) => 100 + i * 200), 70_000)
  const run = cli(['verify', src, many, '--chunk', '64KiB', '--all'])
  assert.is(run.status, 1, run.stderr)
  assert.match(run.stdout, /many\.img: 5\.00 MiB compared; 301 B differ, in 301 ranges/)
  assert.is(run.stdout.split('\n').filter((l) => l.startsWith('    byte ')).length, 255)
  assert.match(run.stdout, /\n {4}\.\.\. and 46 more ranges \(46 B\) not listed; the list stops in a chunk with more than 256\n/)
})

test('--manifest: replicas checked without the source, differences in whole chunks; a damaged manifest is exit 2', () => {
  const m = join(dir, 'src.manifest')
  assert.is(cli(['hash', src, '-o', m]).status, 0)
  const a = replica('a.img')
  const b = replica('b.img', 3 * MiB + 5)
  const run = cli(['verify', '--manifest', m, a, b])
  assert.is(run.status, 1, run.stderr)
  assert.match(run.stdout, /^1 of 2 replicas identical to manifest /)
  assert.match(run.stdout, /bytes 3145728-4194303 \(1\.00 MiB, whole chunks\)/)
  assert.match(run.stdout, /b\.img: 5\.00 MiB compared; 1 range of whole chunks differs \(1\.00 MiB; a manifest has no bytes to narrow them with\)\n/)
  assert.is(cli(['verify', '--manifest', m, a]).status, 0)
  // A shorter replica: the chunk it has only part of is listed, and the summary says why.
  const short = join(dir, 'short.img')
  writeFileSync(short, readFileSync(src).subarray(0, 3 * MiB + 100))
  const shortRun = cli(['verify', '--manifest', m, short])
  assert.is(shortRun.status, 1)
  assert.match(shortRun.stdout, /size 3145828 bytes, manifest .* 5242883 \(only the bytes both have were compared; its last, partial chunk is listed, as it cannot match a whole chunk's digest\)/)
  assert.match(shortRun.stdout, /bytes 3145728-3145827 \(100 B, whole chunks\)/)
  // Cut at a chunk boundary, it has no partial chunk to explain.
  writeFileSync(short, readFileSync(src).subarray(0, 3 * MiB))
  const whole = cli(['verify', '--manifest', m, short])
  assert.is(whole.status, 1)
  assert.match(whole.stdout, /size 3145728 bytes, manifest .* \(only the bytes both have were compared\)/)
  // The largest chunk a manifest can have: the workers are sized for it without --chunk.
  const big = join(dir, 'big.manifest')
  assert.is(cli(['hash', src, '--chunk', '16MiB', '-o', big]).status, 0)
  const bigRun = cli(['verify', '--manifest', big, a])
  assert.is(bigRun.status, 0, bigRun.stderr)
  assert.match(bigRun.stdout, /^1 of 1 replica identical to manifest .*: 5\.00 MiB to compare, in /)
  assert.match(bigRun.stdout, /\nidentical {3}.*a\.img: 5\.00 MiB compared\n/)

  const bytes = readFileSync(m)
  bytes[70] = (bytes[70] as number) ^ 1
  writeFileSync(m, bytes)
  const damaged = cli(['verify', '--manifest', m, a])
  assert.is(damaged.status, 2)
  assert.match(damaged.stderr, /BAD_MANIFEST: --manifest: .* is damaged/)
  assert.is(damaged.stdout, '')
})

test('sizes that differ are a difference, named; --range compares only the bytes asked for', () => {
  const short = join(dir, 'short.img')
  writeFileSync(short, readFileSync(src).subarray(0, 4 * MiB))
  const run = cli(['verify', src, short])
  assert.is(run.status, 1)
  assert.match(run.stdout, /^0 of 1 replica identical to SRC .*: 5\.00 MiB to compare, in /)
  assert.match(run.stdout, /short\.img: 4\.00 MiB of 5\.00 MiB compared; size 4194304 bytes, SRC .* 5242883 \(only the bytes both have were compared\)/)
  assert.is(cli(['verify', src, short, '--range', '0:4MiB']).status, 0)
  assert.is(cli(['verify', src, short, '--range', '1MiB:1MiB', '--range', '3MiB:1MiB']).status, 0)
})

test('eight replicas, one short: the header gives the ranges\' total, each replica\'s line what was compared of it', () => {
  const replicas = Array.from({ length: 7 }, (_, i) => replica(`r${i + 1}.img`))
  const short = join(dir, 'r8.img')
  writeFileSync(short, readFileSync(src).subarray(0, 2 * MiB + 5))
  const run = cli(['verify', src, ...replicas, short])
  assert.is(run.status, 1, run.stderr)
  const lines = run.stdout.trim().split('\n')
  assert.match(lines[0] as string, /^7 of 8 replicas identical to SRC .*src\.img: 5\.00 MiB to compare, in [\d.]+ s /)
  assert.not.match(lines[0] as string, / of 5\.00 MiB/, 'the short one is not taken for all')
  for (let i = 1; i <= 7; i++) assert.match(lines[i] as string, new RegExp(`^identical {3}.*r${i}\\.img: 5\\.00 MiB compared$`))
  assert.match(lines[8] as string, /^DIFFERS {5}.*r8\.img: 2\.00 MiB of 5\.00 MiB compared; size 2097157 bytes, SRC .* 5242883 \(only the bytes both have were compared\)$/)
  assert.is(lines.length, 9)
})

test('bad input is exit 2 naming the argument as typed: past the end, not OFF:LEN, a directory, SRC alone', () => {
  const a = replica('a.img')
  const past = cli(['verify', src, a, '--range', '5MiB:1MiB'])
  assert.is(past.status, 2)
  assert.match(past.stderr, /INVALID_ARGUMENT: --range 1: bytes 5242880\.\.6291456 pass the end of source/)
  const form = cli(['verify', src, a, '--range', '5MiB'])
  assert.is(form.status, 2)
  assert.match(form.stderr, /--range 1: '5MiB' is not OFF:LEN/)
  const isDir = cli(['verify', src, dir])
  assert.is(isDir.status, 2)
  assert.match(isDir.stderr, /REPLICA 1: .* is neither a regular file nor a block device/)
  const alone = cli(['verify', src])
  assert.is(alone.status, 2)
  assert.match(alone.stderr, /REPLICA: give SRC and at least one REPLICA/)
})

test('a read error is exit 3, with the unreadable range listed', async () => {
  const fs = await mountFaultFsIn(dir, [{ op: 'read', path: 'r.img', offset: 4096, length: 1, errno: 'EIO' }])
  if (typeof fs === 'string') return logSkip(fs)
  try {
    copyFileSync(src, join(fs.backingDir, 'r.img'))
    const run = cli(['verify', src, join(fs.mountDir, 'r.img')])
    assert.is(run.status, 3, run.stdout + run.stderr)
    // The replica's line counts the bytes compared, not the bytes asked for.
    assert.match(run.stdout, /UNKNOWN {5}.*r\.img: \d+\.\d\d MiB of 5\.00 MiB compared; 1 range could not be read/)
    assert.match(run.stdout, /^0 of 1 replica identical to SRC .*: 5\.00 MiB to compare, in /)
    assert.match(run.stdout, /unreadable bytes \d+-\d+: EIO/)
  } finally {
    await fs.unmount()
  }
})

test('without --threads, verify starts the default workers for each file it reads, at most 8, and no more than the budget holds', () => {
  const one = defaultThreads()
  const page = 4096
  const budget = { memoryBytes: 64 * MiB, chunkBytes: MiB }
  assert.is(verifyThreads(undefined, 1, budget), String(one))
  assert.is(verifyThreads(undefined, 2, budget), String(Math.min(8, 2 * one)))
  assert.is(verifyThreads(undefined, 9, budget), '8')
  // --threads as given, whatever the files (parseWhole checks it later, and the client the budget).
  assert.is(verifyThreads('3', 5, budget), '3')
  // The budget caps them at what its buffers hold, at least one: a manifest of 16 MiB chunks in the default 64 MiB.
  assert.is(verifyThreads(undefined, 2, { memoryBytes: 6 * 2 * (MiB + page), chunkBytes: MiB }), String(Math.min(6, 2 * one, 8)))
  assert.is(verifyThreads(undefined, 2, { memoryBytes: 2 * (MiB + page), chunkBytes: MiB }), '1')
  assert.is(verifyThreads(undefined, 3, { memoryBytes: 64 * MiB, chunkBytes: 16 * MiB }), '1')
  assert.is(verifyThreads(undefined, 3, { memoryBytes: 64 * MiB, chunkBytes: 8 * MiB }), '3')
  // None that fits: no count at all, so the refusal names --memory, not a --threads nobody typed.
  assert.is(verifyThreads(undefined, 3, { memoryBytes: 32 * MiB, chunkBytes: 16 * MiB }), undefined)
})

test('verify SRC REPLICA with an explicit --memory that holds one file\'s workers runs, as hash does', () => {
  const src = join(dir, 'm-src.img')
  const replica = join(dir, 'm-replica.img')
  writeRandomFile(src, 3 * MiB, 4)
  copyFileSync(src, replica)
  const one = defaultThreads()
  const memory = `${one * 2 * (1024 + 4)}KiB`
  assert.is(runCli(['hash', src, '--memory', memory, '--progress', 'none']).status, 0)
  const r = runCli(['verify', src, replica, '--memory', memory, '--progress', 'none'])
  assert.is(r.status, 0, r.stderr)
})

test.run()
