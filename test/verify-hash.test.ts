import { closeSync, fsyncSync, mkdirSync, openSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createXXHash128, createXXHash3, type IHasher } from 'hash-wasm'
import { chunkDigest, createClient, readManifest, wholeFileDigest, writeManifest, type CopyClient, type CopyResult, type Manifest } from '../src/index.js'
import { mountFaultFsIn } from './helpers/faultfs.js'
import { attachLoop, detachLoop } from './helpers/loop.js'
import { logSkip, skipUnlessRoot } from './helpers/root.js'
import { makeTempDir, readRange, removeTempDir, writeRandomFile } from './helpers/tmp.js'

const test = suite('client.hash')
const MiB = 1024 * 1024
let client: CopyClient
let dir: string

test.before(async () => {
  client = await createClient({ threads: 4, chunkBytes: MiB })
})
test.after(async () => {
  await client.destroy()
})
test.before.each(() => {
  dir = makeTempDir('verify-hash-')
})
test.after.each(() => {
  removeTempDir(dir)
})

function digestOf(h: IHasher, data: Uint8Array): string {
  h.init()
  h.update(data)
  return h.digest('hex')
}

/** Checks every chunk digest and the root against hash-wasm over the file's own bytes, read here. */
async function assertMatchesFile(m: Manifest, file: string, sizeBytes: number, chunkBytes: number, algo: 'xxh3' | 'xxh128'): Promise<void> {
  const h = algo === 'xxh3' ? await createXXHash3() : await createXXHash128()
  assert.is(m.algo, algo)
  assert.is(m.sizeBytes, sizeBytes)
  assert.is(m.chunkBytes, chunkBytes)
  assert.is(m.chunkCount, Math.ceil(sizeBytes / chunkBytes))
  const want: string[] = []
  for (let i = 0; i * chunkBytes < sizeBytes; i++) {
    want.push(digestOf(h, readRange(file, i * chunkBytes, Math.min(chunkBytes, sizeBytes - i * chunkBytes))))
  }
  assert.equal(Array.from({ length: m.chunkCount }, (_, i) => chunkDigest(m, i)), want)
  assert.is(m.root, digestOf(h, Buffer.from(want.join(''), 'hex')))
}

/** Hashes file with the suite's client, counting its progress events and keeping the last doneBytes. */
async function hashWatched(file: string): Promise<{ m: Manifest | null; r: CopyResult; doneBytes: number; events: number }> {
  const job = client.hash(file)
  let doneBytes = 0
  let events = 0
  job.on('progress', (p) => {
    doneBytes = p.doneBytes
    events++
  })
  return { m: await job.manifest, r: await job.result, doneBytes, events }
}

test('hash of an unaligned 5 MiB + 123 file gives the xxh3 of each chunk and the root over them', async () => {
  const file = join(dir, 'src.img')
  const size = 5 * MiB + 123
  writeRandomFile(file, size, 1)
  const { m, r, doneBytes } = await hashWatched(file)
  assert.ok(m, JSON.stringify(r.errors))
  assert.is(doneBytes, size)
  assert.is(r.kind, 'hash')
  assert.is(r.digest, m.root)
  await assertMatchesFile(m, file, size, MiB, 'xxh3')
})

test('a file big enough for tasks of many chunks (and a short last task) gives every chunk its own digest', async () => {
  // 4 workers × 8 tasks each: 300 MiB + 12345 makes tasks of 9 chunks, the last one 3 chunks and a tail.
  const file = join(dir, 'big.img')
  const size = 300 * MiB + 12345
  writeRandomFile(file, size, 8)
  const { m, events } = await hashWatched(file)
  assert.ok(m)
  assert.is(events, Math.ceil(size / (9 * MiB)), 'one progress event per task of 9 chunks')
  await assertMatchesFile(m, file, size, MiB, 'xxh3')
})

test('xxh128 with 64 KiB chunks gives 16-byte digests that match, and the manifest file reads back equal', async () => {
  const file = join(dir, 'src.img')
  const size = 3 * MiB + 4097
  writeRandomFile(file, size, 2)
  const m = await client.hash(file, { algo: 'xxh128', chunkBytes: 64 * 1024 }).manifest
  assert.ok(m)
  assert.is(m.digestBytes, 16)
  await assertMatchesFile(m, file, size, 64 * 1024, 'xxh128')
  const saved = join(dir, 'src.bcm')
  await writeManifest(saved, m)
  assert.equal(await readManifest(saved), m)
})

test('the buffered path (no O_DIRECT) gives the same manifest, and an empty file has no chunks', async () => {
  const file = join(dir, 'src.img')
  writeRandomFile(file, 2 * MiB + 5, 3)
  const direct = await client.hash(file).manifest
  const buffered = await client.hash(file, { direct: 'never' }).manifest
  assert.equal(buffered, direct)
  const empty = join(dir, 'empty.img')
  writeRandomFile(empty, 0)
  const m = await client.hash(empty).manifest
  assert.ok(m)
  assert.is(m.chunkCount, 0)
  assert.is(m.root, digestOf(await createXXHash3(), new Uint8Array(0)))
})

test('bad input throws before anything is read: a missing path, a directory, a bad chunk size or algorithm', () => {
  const file = join(dir, 'src.img')
  writeRandomFile(file, MiB, 4)
  const sub = join(dir, 'sub')
  mkdirSync(sub)
  const cases: Array<[() => unknown, string, RegExp]> = [
    [() => client.hash(join(dir, 'missing.img')), 'NOT_FOUND_VOLUME', /path: .*missing\.img does not exist/],
    [() => client.hash(sub), 'INVALID_ARGUMENT', /neither a regular file nor a block device/],
    [() => client.hash(file, { chunkBytes: 1000 }), 'INVALID_ARGUMENT', /chunkBytes: must be a whole number from 65536/],
    [() => client.hash(file, { chunkBytes: 64 * MiB }), 'INVALID_ARGUMENT', /chunkBytes/],
    [() => client.hash(file, { algo: 'md5' as never }), 'INVALID_ARGUMENT', /algo: must be 'xxh3' or 'xxh128'/],
  ]
  for (const [call, code, message] of cases) {
    try {
      call()
      assert.unreachable(`should throw ${code}`)
    } catch (err) {
      assert.is((err as { code?: string }).code, code, (err as Error).message)
      assert.match((err as Error).message, message)
    }
  }
})

test('a cancelled hash resolves its manifest to null and says cancelled', async () => {
  const file = join(dir, 'src.img')
  writeRandomFile(file, 16 * MiB, 5)
  const controller = new AbortController()
  controller.abort()
  const job = client.hash(file, { chunkBytes: 64 * 1024, signal: controller.signal })
  assert.is(await job.manifest, null)
  assert.is((await job.result).cancelled, true)
})

test('the whole-file digest is the xxh3 of the whole stream', async () => {
  const file = join(dir, 'src.img')
  const size = 17 * MiB + 3
  writeRandomFile(file, size, 6)
  const d = await wholeFileDigest(file)
  assert.is(d.sizeBytes, size)
  assert.is(d.digest, digestOf(await createXXHash3(), readRange(file, 0, size)))
  const wide = await wholeFileDigest(file, { algo: 'xxh128' })
  assert.is(wide.digest, digestOf(await createXXHash128(), readRange(file, 0, size)))
})

test('a loop device is hashed to its device size, with the digests of its backing file', async () => {
  const why = skipUnlessRoot('attaches loop devices')
  if (why) return logSkip(why)
  const backing = join(dir, 'backing.img')
  const size = 12 * MiB + 512 * 3
  writeRandomFile(backing, size, 7)
  const dev = await attachLoop(backing, { readOnly: true })
  try {
    const m = await client.hash(dev).manifest
    assert.ok(m)
    await assertMatchesFile(m, backing, size, MiB, 'xxh3')
    const fromFile = await client.hash(backing).manifest
    assert.is(m.root, fromFile?.root)
  } finally {
    await detachLoop(dev)
  }
})

test('a block device is never read through its page cache: a loop device whose backing file changed past it hashes as it is now', async () => {
  const why = skipUnlessRoot('attaches loop devices')
  if (why) return logSkip(why)
  const backing = join(dir, 'backing.img')
  const size = 8 * MiB
  writeRandomFile(backing, size, 17)
  const dev = await attachLoop(backing)
  // The last close of a block device drops its page cache: hold it open.
  const hold = openSync(dev, 'r')
  try {
    // The device's own page cache now holds every page...
    readRange(dev, 0, size)
    // ...which writing to the backing file does not reach.
    const fd = openSync(backing, 'r+')
    writeSync(fd, Buffer.alloc(size, 0x5a), 0, size, 0)
    fsyncSync(fd)
    closeSync(fd)
    const stale = readRange(dev, 0, 4096)
    if (stale[0] === 0x5a && stale[4095] === 0x5a) return logSkip('the device cache was dropped before the test could see it stale')
    const m = await client.hash(dev, { direct: 'auto' }).manifest
    assert.ok(m)
    await assertMatchesFile(m, backing, size, MiB, 'xxh3')
  } finally {
    closeSync(hold)
    await detachLoop(dev)
  }
})

test('a cached file is read from the page cache with direct auto, and from the device with direct always', async () => {
  const file = join(dir, 'cached.img')
  writeRandomFile(file, 16 * MiB, 12)
  // Written just now, so every page is in the cache.
  readRange(file, 0, 16 * MiB)
  const auto = await client.hash(file, { direct: 'auto' }).result
  const always = await client.hash(file, { direct: 'always' }).result
  if (!always.direct.source) return logSkip('this file system refuses O_DIRECT')
  assert.is(always.directBytes, 16 * MiB, 'every byte from the device')
  assert.ok(auto.directBytes < 16 * MiB, `auto read ${auto.directBytes} bytes directly, not all from the device`)
  assert.is(auto.digest, always.digest)
})

test('an unreadable chunk is reported at its offset, as data; no manifest then', async () => {
  const failAt = 10 * MiB + 300
  const fs = await mountFaultFsIn(dir, [{ op: 'read', path: 'src.img', offset: failAt, length: 1, errno: 'EIO' }])
  if (typeof fs === 'string') return logSkip(fs)
  try {
    writeRandomFile(join(fs.backingDir, 'src.img'), 20 * MiB, 3)
    const job = client.hash(join(fs.mountDir, 'src.img'))
    const r = await job.result
    assert.equal([r.ok, r.readErr], [false, true])
    const e = r.errors[0]
    assert.equal([e?.code, e?.dest, e?.syscall], ['EIO', -1, 'pread'])
    assert.ok((e?.offset ?? Infinity) <= failAt && (e?.offset ?? 0) + (e?.length ?? 0) > failAt, JSON.stringify(e))
    // From the failing chunk's page at most, never before the chunk.
    assert.ok((e?.offset ?? 0) >= 10 * MiB, JSON.stringify(e))
    assert.is(await job.manifest, null)
  } finally {
    await fs.unmount()
  }
})

test.run()
