import { closeSync, copyFileSync, openSync, readSync, rmSync, truncateSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { allUnknown, createClient, type CopyClient, type Manifest } from '../src/index.js'
import { mountFaultFsIn } from './helpers/faultfs.js'
import { attachLoop, detachLoop } from './helpers/loop.js'
import { refuses } from './helpers/refuses.js'
import { logSkip, skipUnlessRoot } from './helpers/root.js'
import { makeTempDir, removeTempDir, writeRandomFile } from './helpers/tmp.js'

const test = suite('verify: against a manifest, read errors, devices, bad input')
const KiB = 1024
const MiB = 1024 * KiB
const CHUNK = 64 * KiB
const SIZE = 2 * MiB + 5000
let client: CopyClient
let dir: string
let src: string

test.before(async () => {
  client = await createClient({ threads: 2, chunkBytes: CHUNK })
})
test.after(async () => {
  await client.destroy()
})
test.before.each(() => {
  dir = makeTempDir('verify-manifest-mode')
  src = join(dir, 'src.img')
  writeRandomFile(src, SIZE, 8)
})
test.after.each(() => {
  removeTempDir(dir)
})

function flip(path: string, at: number): void {
  const fd = openSync(path, 'r+')
  const b = Buffer.alloc(1)
  readSync(fd, b, 0, 1, at)
  b[0] = (b[0] as number) ^ 0x01
  writeSync(fd, b, 0, 1, at)
  closeSync(fd)
}

async function manifestOf(path: string, algo: 'xxh3' | 'xxh128' = 'xxh3'): Promise<Manifest> {
  const m = await client.hash(path, { algo }).manifest
  assert.ok(m, 'hashed')
  return m as Manifest
}

test('against a manifest, with the source gone: differing chunks, whole, coalesced; both algorithms', async () => {
  for (const algo of ['xxh3', 'xxh128'] as const) {
    const m = await manifestOf(src, algo)
    const a = join(dir, `a-${algo}.img`)
    const b = join(dir, `b-${algo}.img`)
    copyFileSync(src, a)
    copyFileSync(src, b)
    flip(b, 3 * CHUNK + 7)
    flip(b, 4 * CHUNK)
    flip(b, SIZE - 1)
    const report = await client.verify(null, [a, b], { manifest: m }).report
    assert.is(report.granularity, 'chunk')
    assert.is(report.source, null)
    assert.equal(report.manifest, { algo, chunkBytes: CHUNK, sizeBytes: SIZE, root: m.root })
    assert.is(report.replicas[0]?.identical, true)
    const last = Math.floor(SIZE / CHUNK) * CHUNK
    assert.equal(report.replicas[1]?.differences, [{ offset: 3 * CHUNK, length: 2 * CHUNK }, { offset: last, length: SIZE - last }])
  }
  rmSync(src)
  const copy = join(dir, 'a-xxh3.img')
  const m = await manifestOf(copy)
  assert.is((await client.verify(null, [copy], { manifest: m }).report).identical, true)
})

test('against a manifest: a replica of another size differs in size', async () => {
  const m = await manifestOf(src)
  const short = join(dir, 'short.img')
  copyFileSync(src, short)
  truncateSync(short, SIZE - 10)
  const r = (await client.verify(null, [short], { manifest: m }).report).replicas[0]
  assert.equal([r?.identical, r?.sizeDiffers, r?.sizeBytes], [false, true, SIZE - 10])
  // The last chunk, cut short, cannot match its digest.
  const last = Math.floor(SIZE / CHUNK) * CHUNK
  assert.equal(r?.differences, [{ offset: last, length: SIZE - 10 - last }])
})

test('read errors are data: the unreadable range of one replica is listed, the others are still compared', async () => {
  const failAt = 1 * MiB + 100
  const fs = await mountFaultFsIn(dir, [{ op: 'read', path: 'bad.img', offset: failAt, length: 10, errno: 'EIO' }])
  if (typeof fs === 'string') return logSkip(fs)
  try {
    copyFileSync(src, join(fs.backingDir, 'bad.img'))
    copyFileSync(src, join(fs.backingDir, 'good.img'))
    flip(join(fs.backingDir, 'good.img'), 2 * MiB + 1)
    const report = await client.verify(src, [join(fs.mountDir, 'bad.img'), join(fs.mountDir, 'good.img')]).report
    assert.is(report.ok, false)
    assert.is(report.identical, false)
    const [bad, good] = report.replicas
    assert.is(bad?.identical, false)
    assert.is(bad?.errors.length, 1, JSON.stringify(bad?.errors))
    const e = bad?.errors[0]
    assert.equal([e?.code, e?.syscall, e?.dest], ['EIO', 'pread', 0])
    assert.ok((e?.offset ?? 0) <= failAt && (e?.offset ?? 0) + (e?.length ?? 0) >= failAt + 10, JSON.stringify(e))
    assert.ok((e?.length ?? 0) <= CHUNK, 'no wider than a chunk')
    assert.equal(bad?.differences, [])
    assert.equal(good?.differences, [{ offset: 2 * MiB + 1, length: 1 }])
    assert.equal(good?.errors, [])

    // An unreadable source: nothing is compared there, and it says so.
    fs.setRules([{ op: 'read', path: 'good.img', offset: 100, length: 1, errno: 'EIO' }])
    const r2 = await client.verify(join(fs.mountDir, 'good.img'), [src]).report
    assert.is(r2.sourceErrors.length, 1)
    assert.is(r2.sourceErrors[0]?.code, 'EIO')
    assert.is(r2.replicas[0]?.identical, false)
    assert.equal(r2.replicas[0]?.errors, [])
  } finally {
    await fs.unmount()
  }
})

test('a block device replica (loop device) holding the source is identical over the source\'s bytes', async () => {
  const skip = skipUnlessRoot('loop devices need root')
  if (skip) return logSkip(skip)
  const backing = join(dir, 'disk.img')
  writeRandomFile(backing, 4 * MiB, 1)
  const fd = openSync(backing, 'r+')
  const data = Buffer.alloc(SIZE)
  const sfd = openSync(src, 'r')
  readSync(sfd, data, 0, SIZE, 0)
  closeSync(sfd)
  writeSync(fd, data, 0, SIZE, 0)
  closeSync(fd)
  const dev = await attachLoop(backing)
  try {
    const whole = (await client.verify(src, [dev]).report).replicas[0]
    assert.equal([whole?.identical, whole?.sizeDiffers, whole?.sizeBytes], [false, true, 4 * MiB])
    assert.equal(whole?.differences, [])
    const ranged = await client.verify(src, [dev], { ranges: [{ offset: 0, length: SIZE }] }).report
    assert.is(ranged.identical, true)
  } finally {
    await detachLoop(dev)
  }
})

test('bad input is refused before anything is read, naming the argument and the rule', async () => {
  const m = await manifestOf(src)
  const r = join(dir, 'r.img')
  copyFileSync(src, r)
  refuses(() => client.verify(src, [dir]), 'INVALID_ARGUMENT', /^replicas\[0\]: .* is neither a regular file nor a block device/)
  refuses(() => client.verify(join(dir, 'nope'), [r]), 'NOT_FOUND_VOLUME', /^source: .*nope does not exist/)
  refuses(() => client.verify(src, [join(dir, 'nope')]), 'NOT_FOUND_VOLUME', /^replicas\[0\]: /)
  refuses(() => client.verify(src, []), 'INVALID_ARGUMENT', /^replicas: between 1 and 8/)
  refuses(() => client.verify(src, [src]), 'INVALID_ARGUMENT', /^replicas\[0\]: .* same file or device as the source .*src/)
  refuses(() => client.verify(src, [r, r]), 'INVALID_ARGUMENT', /^replicas\[1\]: .* same file or device as replicas\[0\] /)
  refuses(() => client.verify(null, [r]), 'INVALID_ARGUMENT', /^source: a source path is required/)
  refuses(() => client.verify(src, [r], { manifest: m }), 'INVALID_ARGUMENT', /^manifest: verify against a source or a manifest, not both/)
  refuses(() => client.verify(null, [r], { manifest: { ...m, digests: m.digests.subarray(8) } }), 'INVALID_ARGUMENT', /^manifest: must be a manifest/)
  const unknown = await allUnknown(m)
  refuses(() => client.verify(null, [r], { manifest: unknown }), 'INVALID_ARGUMENT', /^manifest: records 33 of its 33 chunks as unknown \(an incremental copy that failed or was stopped part-way\)/)
  refuses(() => client.verify(null, [r], { manifest: m, chunkBytes: 2 * CHUNK }), 'INVALID_ARGUMENT', /^chunkBytes: 131072 differs from the manifest's chunk size, 65536/)
  refuses(() => client.verify(null, [r], { manifest: m, ranges: [{ offset: 100, length: CHUNK }] }), 'INVALID_ARGUMENT', /^ranges\[0\]: against a manifest, ranges must start and end on its 65536-byte chunks/)
  refuses(() => client.verify(src, [r], { ranges: [{ offset: 0, length: SIZE + 1 }] }), 'INVALID_ARGUMENT', /^ranges\[0\]: bytes 0\.\.\d+ pass the end of source/)
  refuses(() => client.verify(src, [r], { ranges: [] }), 'INVALID_ARGUMENT', /^ranges: must be a non-empty array/)
  refuses(() => client.verify(src, [r], { ranges: [{ offset: 0, length: 0 }] }), 'INVALID_ARGUMENT', /^ranges\[0\]\.length: must be at least 1 byte/)
  refuses(() => client.verify(src, [r], { ranges: [{ offset: 0, length: 10 }, { offset: 5, length: 10 }] }), 'INVALID_ARGUMENT', /^ranges\[1\]: bytes 5\.\.15 overlap ranges\[0\]/)
  truncateSync(r, 1000)
  refuses(() => client.verify(src, [r], { ranges: [{ offset: 0, length: 2000 }] }), 'INVALID_ARGUMENT', /^ranges\[0\]: bytes 0\.\.2000 pass the end of replicas\[0\]/)
})

test.run()
