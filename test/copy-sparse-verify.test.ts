import { join } from 'node:path'
import { createXXHash3 } from 'hash-wasm'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createClient, type CopyClient } from '../src/index.js'
import { allocatedBytes, writeSparseFile, type Piece } from './helpers/sparse.js'
import { cmpFiles, makeTempDir, readRange, removeTempDir, writeRandomFile } from './helpers/tmp.js'

const test = suite('verification of sparse copies')
let client: CopyClient
let dir: string
const KiB = 1024
const MiB = 1024 * KiB
const CHUNK = 256 * KiB
const SIZE = 40 * MiB + 333
// Data, written zeros, and holes, in chunks whole and partial.
const PIECES: Piece[] = [
  { offset: 1000, length: 300 * KiB },
  { offset: 2 * MiB, length: 3 * MiB, zeros: true },
  { offset: 9 * MiB + 4096, length: 100 * KiB },
  { offset: 9 * MiB + 200 * KiB, length: 50 },
  { offset: SIZE - 3000, length: 2000 },
]

test.before(async () => {
  client = await createClient({ threads: 4, chunkBytes: CHUNK })
})
test.after(async () => {
  await client.destroy()
})
test.before.each(() => {
  dir = makeTempDir('copy-sparse-verify-')
})
test.after.each(() => {
  removeTempDir(dir)
})

/** xxh3-64 of each chunk of the file's bytes, then of the chunk digests: computed here, from the bytes. */
async function expectedDigest(file: string, size: number): Promise<string> {
  const h = await createXXHash3()
  const digests: Buffer[] = []
  for (let at = 0; at < size; at += CHUNK) {
    h.init()
    h.update(readRange(file, at, Math.min(CHUNK, size - at)))
    digests.push(Buffer.from(h.digest('hex'), 'hex'))
  }
  h.init()
  h.update(Buffer.concat(digests))
  return h.digest('hex')
}

test('--verify hash digests the bytes, holes as zeros: the same digest as a plain copy and as the bytes themselves', async () => {
  const src = join(dir, 'src.img')
  writeSparseFile(src, SIZE, PIECES)
  const sparse = await client.copy({ path: src }, [{ path: join(dir, 'sparse.img') }], { sparse: true, verify: 'hash' }).result
  const plain = await client.copy({ path: src }, [{ path: join(dir, 'plain.img') }], { verify: 'hash' }).result
  assert.is(sparse.ok, true, JSON.stringify(sparse.errors))
  assert.is(plain.ok, true, JSON.stringify(plain.errors))
  assert.is(sparse.digest, await expectedDigest(src, SIZE))
  assert.is(plain.digest, sparse.digest)
  assert.equal(sparse.chunks, plain.chunks)
  assert.is(sparse.chunks.length, Math.ceil(SIZE / CHUNK))
  assert.ok(cmpFiles(src, join(dir, 'sparse.img')))
  assert.ok(sparse.holeBytes > 30 * MiB, `holeBytes ${sparse.holeBytes}`)
})

test('--verify readback reads the holes back as zeros, on a new destination and over old data', async () => {
  const src = join(dir, 'src.img')
  const [fresh, old] = [join(dir, 'fresh.img'), join(dir, 'old.img')]
  writeSparseFile(src, SIZE, PIECES)
  writeRandomFile(old, SIZE + 5 * MiB, 7)
  const r = await client.copy({ path: src }, [{ path: fresh }, { path: old, offset: 4096 + 100 }], { sparse: true, verify: 'readback' }).result
  assert.is(r.ok, true, JSON.stringify(r.errors))
  assert.equal(r.errors, [])
  assert.ok(cmpFiles(src, fresh))
  assert.ok(cmpFiles(src, old, { bOffset: 4196, length: SIZE }))
  assert.ok(allocatedBytes(old) < 10 * MiB, `du of the old destination: ${allocatedBytes(old)}`)
})

test.run()
