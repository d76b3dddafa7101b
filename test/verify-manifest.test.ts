import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createXXHash3 } from 'hash-wasm'
import {
  allUnknown, buildManifest, chunkDigest, decodeManifest, encodeManifest, isUnknown, readManifest, unknownCount, writeManifest, type Manifest,
} from '../src/index.js'
import { makeTempDir, removeTempDir } from './helpers/tmp.js'

const test = suite('manifest format')
let dir: string

test.before.each(() => {
  dir = makeTempDir('verify-manifest-')
})
test.after.each(() => {
  removeTempDir(dir)
})

const MiB = 1024 * 1024
const hex = (n: number, bytes: number) => n.toString(16).padStart(bytes * 2, '0')

/** Five xxh3 chunks of 1 MiB for 4 MiB + 7 bytes, with made-up digests. */
function sample(): Promise<Manifest> {
  return buildManifest('xxh3', MiB, 4 * MiB + 7, [1, 2, 3, 0xdeadbeef, 5].map((n) => hex(n, 8)))
}

/** Decoding `buf` fails with BAD_MANIFEST, naming the file and matching `why`. */
async function rejects(buf: Buffer, file: string, why: RegExp): Promise<void> {
  try {
    await decodeManifest(buf, file)
  } catch (err) {
    const e = err as { code?: string; message: string }
    assert.is(e.code, 'BAD_MANIFEST', e.message)
    assert.ok(e.message.includes(file), e.message)
    assert.match(e.message, why)
    return
  }
  assert.unreachable(`decoding should have failed with ${String(why)}`)
}

test('a manifest survives encoding and decoding unchanged, with 8 bytes a chunk plus 64 of header and checksum', async () => {
  const m = await sample()
  const bytes = await encodeManifest(m)
  assert.is(bytes.length, 56 + 5 * 8 + 8)
  const back = await decodeManifest(bytes, 'x.bcm')
  assert.equal(back, m)
  assert.is(chunkDigest(back, 3), '00000000deadbeef')
  const h = await createXXHash3()
  h.init()
  h.update(m.digests)
  assert.is(back.root, h.digest('hex'))
})

test('xxh128 and empty manifests round trip through a file', async () => {
  const wide = await buildManifest('xxh128', 64 * 1024, 3 * 64 * 1024, ['a', 'b', 'c'].map((c) => c.repeat(32)))
  const empty = await buildManifest('xxh3', MiB, 0, [])
  for (const m of [wide, empty]) {
    const file = join(dir, `${m.algo}-${m.sizeBytes}.bcm`)
    await writeManifest(file, m)
    assert.equal(await readManifest(file), m)
  }
  assert.is((await encodeManifest(wide)).length, 56 + 3 * 16 + 8)
})

test('a manifest whose chunk count does not fit its size and chunk size is refused when built', async () => {
  try {
    await buildManifest('xxh3', MiB, 2 * MiB + 1, [hex(1, 8), hex(2, 8)])
    assert.unreachable('should have thrown')
  } catch (err) {
    assert.is((err as { code?: string }).code, 'INVALID_ARGUMENT')
    assert.match((err as Error).message, /2 chunks for 2097153 bytes .* expected 3/)
  }
})

test('a flipped byte in the header, in the digests or in the checksum is a checksum error naming the file', async () => {
  const good = await encodeManifest(await sample())
  for (const at of [24, 17, 44, 56, 56 + 4 * 8 + 7, good.length - 1]) {
    const bad = Buffer.from(good)
    bad[at] = (bad[at] as number) ^ 0x01
    await rejects(bad, `/x/flip-${at}.bcm`, /checksum/)
  }
})

test('a truncated manifest, a wrong magic and an unknown version or algorithm each get their own error', async () => {
  const good = await encodeManifest(await sample())
  await rejects(good.subarray(0, good.length - 5), '/x/cut.bcm', /is truncated or damaged: its header describes 5 digests of 8 bytes \(104 bytes in all\), but it has 99 bytes/)
  await rejects(good.subarray(0, 30), '/x/short.bcm', /is truncated: 30 bytes/)
  await rejects(Buffer.alloc(0), '/x/empty.bcm', /is truncated: 0 bytes/)
  const magic = Buffer.from(good)
  magic.write('PK', 0, 'latin1')
  await rejects(magic, '/x/zip.bcm', /is not a blockcopy manifest/)
  const version = Buffer.from(good)
  version.writeUInt16LE(9, 8)
  await rejects(version, '/x/v9.bcm', /has format version 9; this blockcopy reads versions 1 and 2/)
  // An unknown algorithm with a valid checksum: what a newer writer would produce.
  const algo = Buffer.from(good)
  algo.writeUInt8(7, 10)
  const h = await createXXHash3()
  h.init()
  h.update(algo.subarray(0, algo.length - 8))
  algo.write(h.digest('hex'), algo.length - 8, 8, 'hex')
  await rejects(algo, '/x/algo.bcm', /unknown digest algorithm 7/)
})

/** `buf` with its trailing checksum recomputed, as a writer with other rules would leave it. */
async function resealed(buf: Buffer): Promise<Buffer> {
  const out = Buffer.from(buf)
  const h = await createXXHash3()
  h.init()
  h.update(out.subarray(0, out.length - 8))
  out.write(h.digest('hex'), out.length - 8, 8, 'hex')
  return out
}

test('unknown chunks: version 2 with a bitmap after the digests, round trip; none is version 1', async () => {
  const digests = Array.from({ length: 11 }, (_, i) => (i === 2 || i === 10 ? null : hex(i + 1, 8)))
  const m = await buildManifest('xxh3', MiB, 10 * MiB + 1, digests)
  assert.is(unknownCount(m), 2)
  assert.equal(Array.from({ length: 11 }, (_, i) => isUnknown(m, i)), digests.map((d) => d === null))
  assert.is(chunkDigest(m, 2), '0000000000000000', 'an unknown chunk\'s digest is zero')
  const bytes = await encodeManifest(m)
  assert.is(bytes.readUInt16LE(8), 2)
  assert.is(bytes.readUInt32LE(12), 1, 'flags: bitmap present')
  assert.is(bytes.length, 56 + 11 * 8 + 2 + 8)
  assert.equal([...bytes.subarray(56 + 88, 56 + 90)], [0b100, 0b100])
  assert.equal(await decodeManifest(bytes, 'u.bcm'), m)

  const all = await allUnknown(await sample())
  assert.is(unknownCount(all), 5)
  assert.is(all.sizeBytes, 4 * MiB + 7)
  assert.is((await encodeManifest(await sample())).readUInt16LE(8), 1)

  // A bit past the last chunk, or version 2 without a single unknown chunk: damaged.
  const past = Buffer.from(bytes)
  past[56 + 89] = 0b1100
  await rejects(await resealed(past), '/x/past.bcm', /marks chunks past its last, 10/)
  const none = Buffer.from(bytes)
  none.fill(0, 56 + 88, 56 + 90)
  await rejects(await resealed(none), '/x/none.bcm', /version 2 with no unknown chunk/)
  const flags = Buffer.from(bytes)
  flags.writeUInt32LE(3, 12)
  await rejects(await resealed(flags), '/x/flags.bcm', /has flags 3/)
})

test('reading a missing manifest is NOT_FOUND_VOLUME and a damaged file is BAD_MANIFEST with its path', async () => {
  const missing = join(dir, 'none.bcm')
  await readManifest(missing).then(() => assert.unreachable('should fail'), (err: { code?: string; message: string }) => {
    assert.is(err.code, 'NOT_FOUND_VOLUME')
    assert.ok(err.message.includes(missing))
  })
  const damaged = join(dir, 'damaged.bcm')
  writeFileSync(damaged, (await encodeManifest(await sample())).subarray(0, 70))
  await readManifest(damaged).then(() => assert.unreachable('should fail'), (err: { code?: string; message: string }) => {
    assert.is(err.code, 'BAD_MANIFEST')
    assert.ok(err.message.includes(damaged), err.message)
  })
})

test.run()
