import { closeSync, copyFileSync, fsyncSync, openSync, readSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createClient, type CopyClient } from '../src/index.js'
import { attachLoop, detachLoop } from './helpers/loop.js'
import { logSkip, skipUnlessRoot } from './helpers/root.js'
import { cmpFiles, makeTempDir, readRange, removeTempDir, writeRandomFile } from './helpers/tmp.js'

/*
 * A block device's page cache goes stale when the device changes beneath
 * this host (another host on a shared LUN; here a loop device's backing
 * file, written directly). With direct I/O on, no byte of a device may come
 * from that cache: not the aligned middle of a range, and not its unaligned
 * head or tail either (the tail of a device whose size is not whole pages,
 * or the edges of a range that starts or ends inside a page).
 */
const test = suite('a block device is read from the device, edges included, never from a stale page cache')
const MiB = 1024 * 1024
const SIZE = 8 * MiB + 512
/** Bytes changed beneath the device: in the 512-byte tail, and inside a page in the middle. */
const TAIL_AT = 8 * MiB + 100
const MID_AT = 2 * MiB + 5
let client: CopyClient
let dir: string

test.before(async () => {
  client = await createClient({ threads: 2, chunkBytes: MiB })
})
test.after(async () => {
  await client.destroy()
})
test.before.each(() => {
  dir = makeTempDir('device-stale-')
})
test.after.each(() => {
  removeTempDir(dir)
})

/** Writes `value` at each offset of path and syncs it. */
function poke(path: string, value: number, ...offsets: number[]): void {
  const fd = openSync(path, 'r+')
  try {
    for (const at of offsets) writeSync(fd, Buffer.from([value]), 0, 1, at)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

/**
 * A loop device over a copy of `source`, held open with its page cache
 * full, whose backing file then changes at TAIL_AT and MID_AT. Runs `body`
 * with the device and the backing file (what the device holds now), or
 * returns why it cannot.
 */
async function withStaleDevice(source: string, body: (dev: string, backing: string) => Promise<void>): Promise<string | undefined> {
  const backing = join(dir, 'backing.img')
  copyFileSync(source, backing)
  const dev = await attachLoop(backing)
  // The last close of a block device drops its page cache: hold it open.
  const hold = openSync(dev, 'r')
  try {
    readRange(dev, 0, SIZE)
    const before = [readRange(backing, TAIL_AT, 1)[0] as number, readRange(backing, MID_AT, 1)[0] as number]
    poke(backing, 0xa5 ^ before[0]!, TAIL_AT)
    poke(backing, 0x5a ^ before[1]!, MID_AT)
    // Still the old bytes through the device's cache, or the test shows nothing.
    const seen = Buffer.alloc(1)
    readSync(hold, seen, 0, 1, TAIL_AT)
    if (seen[0] !== before[0]) return 'the device cache was dropped before the test could see it stale'
    await body(dev, backing)
    return undefined
  } finally {
    closeSync(hold)
    await detachLoop(dev)
  }
}

test('verify finds a change in the tail of a device whose size is not whole pages, and one inside an unaligned range', async () => {
  const why = skipUnlessRoot('attaches loop devices')
  if (why) return logSkip(why)
  const src = join(dir, 'src.img')
  writeRandomFile(src, SIZE, 31)
  const skip = await withStaleDevice(src, async (dev) => {
    const all = await client.verify(src, [dev], { direct: 'auto' }).report
    assert.is(all.identical, false, 'the device differs from the source')
    assert.equal(all.replicas[0]?.differences, [{ offset: MID_AT, length: 1 }, { offset: TAIL_AT, length: 1 }])
    // A range that starts and ends inside pages, the changed byte in its first page.
    const ranged = await client.verify(src, [dev], { ranges: [{ offset: MID_AT - 4, length: 4095 }] }).report
    assert.equal(ranged.replicas[0]?.differences, [{ offset: MID_AT, length: 1 }])
    const always = await client.verify(src, [dev], { direct: 'always', ranges: [{ offset: 8 * MiB, length: 512 }] }).report
    assert.equal(always.replicas[0]?.differences, [{ offset: TAIL_AT, length: 1 }])
  })
  if (skip) logSkip(skip)
})

test('copy and hash of such a device give the bytes it holds now, edges and tail included', async () => {
  const why = skipUnlessRoot('attaches loop devices')
  if (why) return logSkip(why)
  const src = join(dir, 'src.img')
  writeRandomFile(src, SIZE, 32)
  const skip = await withStaleDevice(src, async (dev, backing) => {
    const dst = join(dir, 'dst.img')
    // From inside the page before MID_AT to the device's end.
    const from = MID_AT - 3
    const r = await client.copy({ path: dev, offset: from }, [{ path: dst }], { verify: 'hash' }).result
    assert.is(r.ok, true, JSON.stringify(r.errors))
    assert.ok(cmpFiles(backing, dst, { aOffset: from, bOffset: 0, length: SIZE - from }), 'the copy holds the device bytes as they are now')
    const m = await client.hash(dev).manifest
    const fromFile = await client.hash(backing, { direct: 'never' }).manifest
    assert.ok(m && fromFile)
    assert.is(m.root, fromFile.root)
  })
  if (skip) logSkip(skip)
})

test('an incremental copy checks a device destination as it is now: a first chunk changed beneath its cache is refused', async () => {
  const why = skipUnlessRoot('attaches loop devices')
  if (why) return logSkip(why)
  const src = join(dir, 'src.img')
  writeRandomFile(src, SIZE, 33)
  const backing = join(dir, 'backing.img')
  copyFileSync(src, backing)
  const dev = await attachLoop(backing)
  const hold = openSync(dev, 'r')
  try {
    const m = await client.hash(dev).manifest
    assert.ok(m)
    readRange(dev, 0, SIZE)
    // Chunk 0, which the check always samples, changes beneath the device's cache.
    const changed = (readRange(backing, 10, 1)[0] as number) ^ 0x77
    poke(backing, changed, 10)
    const seen = Buffer.alloc(1)
    readSync(hold, seen, 0, 1, 10)
    if (seen[0] === changed) return logSkip('the device cache was dropped before the test could see it stale')
    const job = client.copy({ path: src }, [{ path: dev }], { since: m })
    try {
      await job.result
      assert.unreachable('the changed destination is refused')
    } catch (err) {
      assert.is((err as { code?: string }).code, 'MANIFEST_MISMATCH', String(err))
      assert.match(String(err), /chunk 0 of /)
    }
  } finally {
    closeSync(hold)
    await detachLoop(dev)
  }
  assert.not.ok(readRange(backing, 0, SIZE).equals(readRange(src, 0, SIZE)), 'nothing written: the change is still there')
})

test.run()
