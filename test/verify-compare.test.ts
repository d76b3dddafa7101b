import { appendFileSync, closeSync, openSync, readFileSync, readSync, truncateSync, writeFileSync, writeSync } from 'node:fs'
import { copyFile } from 'node:fs/promises'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createClient, type CopyClient, type ReplicaReport } from '../src/index.js'
import { makeTempDir, removeTempDir, writeRandomFile } from './helpers/tmp.js'

const test = suite('verify: replicas against a source')
const KiB = 1024
const MiB = 1024 * KiB
const CHUNK = 64 * KiB
const SIZE = 3 * MiB + 123
let client: CopyClient
let dir: string
let src: string

test.before(async () => {
  client = await createClient({ threads: 3, chunkBytes: CHUNK })
})
test.after(async () => {
  await client.destroy()
})
test.before.each(() => {
  dir = makeTempDir('verify-compare')
  src = join(dir, 'src.img')
  writeRandomFile(src, SIZE, 4)
})
test.after.each(() => {
  removeTempDir(dir)
})

/** Flips every bit of the byte at each offset of path. */
function flip(path: string, ...offsets: number[]): void {
  const fd = openSync(path, 'r+')
  try {
    for (const at of offsets) {
      const b = Buffer.alloc(1)
      readSync(fd, b, 0, 1, at)
      b[0] = (b[0] as number) ^ 0xff
      writeSync(fd, b, 0, 1, at)
    }
  } finally {
    closeSync(fd)
  }
}

async function replica(name: string, ...flips: number[]): Promise<string> {
  const p = join(dir, name)
  await copyFile(src, p)
  flip(p, ...flips)
  return p
}

const byPath = (reps: ReplicaReport[], p: string) => reps.find((r) => r.path === p) as ReplicaReport

test('one flipped byte in each of three replicas is reported at exactly that offset', async () => {
  // Unaligned, on a chunk's last byte, and on the file's last byte.
  const offsets = [777_777, 5 * CHUNK - 1, SIZE - 1]
  const reps = await Promise.all(offsets.map((at, i) => replica(`r${i}.img`, at)))
  const good = await replica('good.img')
  const report = await client.verify(src, [...reps, good]).report
  assert.is(report.ok, true)
  assert.is(report.identical, false)
  assert.is(report.granularity, 'byte')
  offsets.forEach((at, i) => {
    const r = byPath(report.replicas, reps[i] as string)
    assert.is(r.identical, false)
    assert.equal(r.differences, [{ offset: at, length: 1 }], r.path)
    assert.is(r.comparedBytes, SIZE)
    assert.is(r.sizeDiffers, false)
  })
  assert.is(byPath(report.replicas, good).identical, true)
  assert.equal(byPath(report.replicas, good).differences, [])
  assert.is(report.totalBytes, SIZE)
})

test('identical replicas: identical, every byte compared, read with O_DIRECT where the file system allows', async () => {
  const a = await replica('a.img')
  const b = await replica('b.img')
  const report = await client.verify(src, [a, b]).report
  assert.is(report.identical, true)
  assert.is(report.ok, true)
  for (const r of report.replicas) assert.is(r.comparedBytes, SIZE)
  assert.equal(report.sourceErrors, [])
})

test('5 scattered bytes in 2 MiB are 5 one-byte runs; counts and bytes are exact', async () => {
  const at = [3, 200_001, 777_777, 1_500_000, 2 * MiB - 1]
  const r = await replica('r.img', ...at)
  const report = await client.verify(src, [r], { ranges: [{ offset: 0, length: 2 * MiB }] }).report
  const x = report.replicas[0] as ReplicaReport
  assert.equal(x.differences, at.map((offset) => ({ offset, length: 1 })))
  assert.equal([x.differenceCount, x.differenceBytes, x.differingBytes], [5, 5, 5])
  assert.is(report.mergeGapBytes, 64)
})

test('runs fewer than 64 bytes apart are one, also across a chunk edge; 64 or more apart they stay apart', async () => {
  // 10 bytes apart inside chunk 3; 10 apart over the edge of chunks 5 and 6; 70 apart over the edge of chunks 8 and 9.
  const r = await replica('r.img', 3 * CHUNK + 100, 3 * CHUNK + 110, 6 * CHUNK - 5, 6 * CHUNK + 5, 9 * CHUNK - 35, 9 * CHUNK + 35)
  const x = (await client.verify(src, [r]).report).replicas[0] as ReplicaReport
  assert.equal(x.differences, [
    { offset: 3 * CHUNK + 100, length: 11 },
    { offset: 6 * CHUNK - 5, length: 11 },
    { offset: 9 * CHUNK - 35, length: 1 },
    { offset: 9 * CHUNK + 35, length: 1 },
  ])
  assert.equal([x.differenceCount, x.differenceBytes, x.differingBytes], [4, 24, 6])
})

test('a chunk that differs throughout is one run; two in a row are one run', async () => {
  const r = await replica('r.img')
  const fd = openSync(r, 'r+')
  const whole = (at: number, length: number) => {
    const b = Buffer.alloc(length)
    readSync(fd, b, 0, length, at)
    writeSync(fd, b.map((v) => v ^ 0xff), 0, length, at)
  }
  whole(5 * CHUNK, CHUNK)
  whole(20 * CHUNK, 2 * CHUNK)
  closeSync(fd)
  const x = (await client.verify(src, [r]).report).replicas[0] as ReplicaReport
  assert.equal(x.differences, [{ offset: 5 * CHUNK, length: CHUNK }, { offset: 20 * CHUNK, length: 2 * CHUNK }])
  assert.equal([x.differenceCount, x.differingBytes], [2, 3 * CHUNK])
})

test('maxDifferences caps what is listed per replica; the totals still count every run', async () => {
  const at = Array.from({ length: 30 }, (_, i) => 1000 + i * 50_000)
  const r = await replica('r.img', ...at)
  const x = (await client.verify(src, [r], { maxDifferences: 7 }).report).replicas[0] as ReplicaReport
  assert.equal(x.differences, at.slice(0, 7).map((offset) => ({ offset, length: 1 })))
  assert.equal([x.differenceCount, x.differenceBytes, x.differingBytes], [30, 30, 30])
  const none = (await client.verify(src, [r], { maxDifferences: 0 }).report).replicas[0] as ReplicaReport
  assert.equal([none.differences, none.differenceCount, none.identical], [[], 30, false])
  for (const bad of [-1, 1.5, 100_001]) {
    assert.throws(() => client.verify(src, [r], { maxDifferences: bad }), /maxDifferences: must be a whole number from 0 to 100000/)
  }
})

test('scattered changes of every size: the report is what a byte-by-byte comparison of the whole files gives', async () => {
  const a = readFileSync(src)
  const b = Buffer.from(a)
  let x = 12345
  const rand = (n: number) => {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    return (x >>> 0) % n
  }
  // Single bytes, short bursts and long stretches, some on chunk edges.
  for (let k = 0; k < 300; k++) {
    const at = k % 10 === 0 ? (1 + rand(47)) * CHUNK - rand(40) : rand(SIZE)
    const length = k % 7 === 0 ? rand(5000) + 1 : rand(3) + 1
    for (let i = at; i < Math.min(SIZE, at + length); i++) b[i] = (b[i] as number) ^ (1 + rand(255))
  }
  const p = join(dir, 'r.img')
  writeFileSync(p, b)
  const expected: Array<{ offset: number; length: number }> = []
  let differing = 0
  for (let i = 0; i < SIZE; i++) {
    if (a[i] === b[i]) continue
    differing++
    const last = expected[expected.length - 1]
    if (last && i - (last.offset + last.length) < 64) last.length = i + 1 - last.offset
    else expected.push({ offset: i, length: 1 })
  }
  const y = (await client.verify(src, [p], { maxDifferences: 100_000 }).report).replicas[0] as ReplicaReport
  assert.equal(y.differences, expected)
  assert.equal([y.differenceCount, y.differenceBytes, y.differingBytes], [expected.length, expected.reduce((n, d) => n + d.length, 0), differing])
})

test('a shorter and a longer replica: sizes differ, only shared bytes compared, not identical', async () => {
  const short = join(dir, 'short.img')
  const long = join(dir, 'long.img')
  await copyFile(src, short)
  await copyFile(src, long)
  truncateSync(short, 2 * MiB + 1)
  appendFileSync(long, 'tail')
  flip(short, 1000)
  const report = await client.verify(src, [short, long]).report
  const s = byPath(report.replicas, short)
  const l = byPath(report.replicas, long)
  assert.equal([s.identical, s.sizeDiffers, s.sizeBytes, s.comparedBytes], [false, true, 2 * MiB + 1, 2 * MiB + 1])
  assert.equal(s.differences, [{ offset: 1000, length: 1 }])
  assert.equal([l.identical, l.sizeDiffers, l.sizeBytes, l.comparedBytes], [false, true, SIZE + 4, SIZE])
  assert.equal(l.differences, [])
  // Asked for the shared bytes only, the longer one is identical there.
  const ranged = await client.verify(src, [long], { ranges: [{ offset: 0, length: SIZE }] }).report
  assert.is(ranged.replicas[0]?.identical, true)
})

test('ranges: only those bytes are compared, in any order; differences outside them are not seen', async () => {
  const r = await replica('r.img', 10, 2 * MiB + 3)
  const report = await client.verify(src, [r], { ranges: [{ offset: 2 * MiB, length: 100 }, { offset: 1 * MiB, length: 5 }] }).report
  assert.equal(report.ranges, [{ offset: 1 * MiB, length: 5 }, { offset: 2 * MiB, length: 100 }])
  assert.is(report.totalBytes, 105)
  assert.equal(report.replicas[0]?.differences, [{ offset: 2 * MiB + 3, length: 1 }])
  assert.is(report.replicas[0]?.comparedBytes, 105)
})

test('progress covers every compared byte once; cancel leaves it not identical and cancelled', async () => {
  const a = await replica('a.img')
  const job = client.verify(src, [a])
  let seen = 0
  job.on('progress', (p) => {
    seen += p.extent.length
  })
  await job.result
  assert.is(seen, SIZE)
  const controller = new AbortController()
  controller.abort()
  const stopped = await client.verify(src, [a], { signal: controller.signal }).report
  assert.is(stopped.cancelled, true)
  assert.is(stopped.identical, false)
  assert.is(stopped.replicas[0]?.identical, false)
})

test('an empty source and an empty replica are identical', async () => {
  const e1 = join(dir, 'e1')
  const e2 = join(dir, 'e2')
  writeFileSync(e1, '')
  writeFileSync(e2, '')
  const report = await client.verify(e1, [e2]).report
  assert.is(report.identical, true)
  assert.is(report.totalBytes, 0)
})

test.run()
