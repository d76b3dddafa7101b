import { closeSync, openSync, readFileSync, statSync, truncateSync, writeSync, appendFileSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createClient, type CopyClient, type CopyResult, type Manifest } from '../src/index.js'
import { refuses } from './helpers/refuses.js'
import { cmpFiles, makeTempDir, removeTempDir, writeRandomFile } from './helpers/tmp.js'

const test = suite('incremental copy: copy --since a manifest')
const KiB = 1024
const MiB = 1024 * KiB
const CHUNK = 64 * KiB
let client: CopyClient
let dir: string
let src: string
let dst: string

test.before(async () => {
  client = await createClient({ threads: 2, chunkBytes: CHUNK })
})
test.after(async () => {
  await client.destroy()
})
test.before.each(() => {
  dir = makeTempDir('copy-since')
  src = join(dir, 'src.img')
  dst = join(dir, 'dst.img')
})
test.after.each(() => {
  removeTempDir(dir)
})

/** A full first copy; the destination's manifest, as the next incremental starts from. */
async function seed(size: number, algo: 'xxh3' | 'xxh128' = 'xxh3'): Promise<Manifest> {
  writeRandomFile(src, size, 31)
  const r = await client.copy({ path: src }, [{ path: dst }]).result
  assert.is(r.ok, true)
  const m = await client.hash(dst, { algo }).manifest
  assert.ok(m)
  return m as Manifest
}

/** What an incremental copy wrote and skipped, and whether it had to write everything. */
function counts(r: CopyResult) {
  const i = r.incremental
  return { writtenBytes: i?.writtenBytes, skippedBytes: i?.skippedBytes, writeAll: i?.writeAll, reason: i?.reason }
}

/** Overwrites `length` bytes at `offset` of path with random bytes. */
function scribble(path: string, offset: number, length: number): void {
  const fd = openSync(path, 'r+')
  writeSync(fd, Buffer.from(Array.from({ length }, () => Math.floor(Math.random() * 256))), 0, length, offset)
  closeSync(fd)
}

test('after random mutations: byte-exact, and only the chunks that changed are written', async () => {
  const size = 16 * MiB + 999
  const m = await seed(size)
  const touched = new Set<number>()
  let mutated = 0
  for (let k = 0; k < 12; k++) {
    const length = 1 + Math.floor(Math.random() * 3000)
    const offset = Math.floor(Math.random() * (size - length))
    scribble(src, offset, length)
    mutated += length
    for (let c = Math.floor(offset / CHUNK); c <= Math.floor((offset + length - 1) / CHUNK); c++) touched.add(c)
  }
  const job = client.copy({ path: src }, [{ path: dst }], { since: m })
  const r = await job.result
  assert.is(r.ok, true, JSON.stringify(r.errors))
  assert.ok(cmpFiles(src, dst), 'byte-exact')
  const chunkLen = (c: number) => Math.min(CHUNK, size - c * CHUNK)
  const expectWritten = [...touched].reduce((n, c) => n + chunkLen(c), 0)
  assert.equal(counts(r), { writtenBytes: expectWritten, skippedBytes: size - expectWritten, writeAll: false, reason: null })
  assert.is(r.incremental?.writtenChunks, touched.size)
  // Close to the mutated bytes: at most a chunk per mutation.
  assert.ok(expectWritten <= mutated + 12 * 2 * CHUNK)
  // The new manifest is the destination's state now: the next run writes nothing.
  const next = await job.manifest
  assert.ok(next)
  assert.is(next?.root, (await client.hash(dst).manifest)?.root)
  const again = await client.copy({ path: src }, [{ path: dst }], { since: next as Manifest }).result
  assert.equal(counts(again), { writtenBytes: 0, skippedBytes: size, writeAll: false, reason: null })
})

test('xxh128 manifests work the same way', async () => {
  const size = 3 * MiB
  const m = await seed(size, 'xxh128')
  scribble(src, 2 * MiB + 5, 10)
  const job = client.copy({ path: src }, [{ path: dst }], { since: m })
  const r = await job.result
  assert.is(r.incremental?.writtenBytes, CHUNK)
  assert.ok(cmpFiles(src, dst))
  assert.is((await job.manifest)?.algo, 'xxh128')
})

test('a source that grew or shrank: the destination follows it to the byte, and to its size', async () => {
  const size = 2 * MiB + 100
  const m = await seed(size)
  appendFileSync(src, Buffer.alloc(3 * CHUNK + 7, 9))
  const grown = client.copy({ path: src }, [{ path: dst }], { since: m })
  const r = await grown.result
  assert.ok(cmpFiles(src, dst))
  // The old short last chunk and everything after it.
  assert.is(r.incremental?.writtenBytes, statSync(src).size - Math.floor(size / CHUNK) * CHUNK)
  const m2 = (await grown.manifest) as Manifest
  truncateSync(src, MiB + 3)
  const shrunk = await client.copy({ path: src }, [{ path: dst }], { since: m2 }).result
  assert.is(shrunk.ok, true)
  assert.is(statSync(dst).size, MiB + 3)
  assert.ok(cmpFiles(src, dst))
  assert.is(shrunk.incremental?.writtenBytes, 3)
})

test('a destination not in the manifest\'s state is refused, nothing written; forced, every chunk is written', async () => {
  const size = 8 * CHUNK
  const m = await seed(size)
  scribble(src, 0, 10)
  // Out of band: the destination changed since its manifest (every chunk of 8 is sampled).
  scribble(dst, 5 * CHUNK + 1, 1)
  const before = readFileSync(dst)
  await assertRejects(client.copy({ path: src }, [{ path: dst }], { since: m }).result, 'MANIFEST_MISMATCH', /^since: chunk 5 of .*dst\.img .* has digest [0-9a-f]{16}, the manifest [0-9a-f]{16}: the destination is not in the state the manifest records/)
  assert.ok(readFileSync(dst).equals(before), 'untouched')
  const forced = await client.copy({ path: src }, [{ path: dst }], { since: m, force: true }).result
  assert.is(forced.incremental?.writeAll, true)
  assert.is(forced.incremental?.writtenBytes, size)
  assert.match(forced.incremental?.reason ?? '', /chunk 5/)
  assert.ok(cmpFiles(src, dst))

  // Another size: refused at once, before the job starts.
  appendFileSync(dst, 'x')
  const longer = readFileSync(dst)
  refuses(() => client.copy({ path: src }, [{ path: dst }], { since: m }), 'MANIFEST_MISMATCH', /dst\.img has 524289 bytes, but the manifest describes 524288/)
  assert.ok(readFileSync(dst).equals(longer))
})

test('chunks an interrupted earlier run already wrote pass the check', async () => {
  const size = 8 * CHUNK
  const m = await seed(size)
  scribble(src, 3 * CHUNK + 10, 10)
  // As if the previous incremental wrote chunk 3 and then failed.
  const fd = openSync(dst, 'r+')
  writeSync(fd, readFileSync(src).subarray(3 * CHUNK, 4 * CHUNK), 0, CHUNK, 3 * CHUNK)
  closeSync(fd)
  const r = await client.copy({ path: src }, [{ path: dst }], { since: m }).result
  assert.is(r.ok, true)
  assert.is(r.incremental?.writtenBytes, CHUNK)
  assert.ok(cmpFiles(src, dst))
})

test('bad input is refused before anything is written', async () => {
  const m = await seed(4 * CHUNK)
  const other = join(dir, 'other.img')
  refuses(() => client.copy({ path: src }, [{ path: dst }, { path: other }], { since: m }), 'INVALID_ARGUMENT', /^since: an incremental copy has exactly one destination/)
  refuses(() => client.copy({ path: src, offset: 4096 }, [{ path: dst }], { since: m }), 'INVALID_ARGUMENT', /^since: an incremental copy is of the whole source/)
  refuses(() => client.copy({ path: src }, [{ path: dst }], { since: m, chunkBytes: 2 * CHUNK }), 'INVALID_ARGUMENT', /^chunkBytes: 131072 differs from the manifest's chunk size, 65536/)
  refuses(() => client.copy({ path: src }, [{ path: dst }], { since: { ...m, chunkCount: 9 } }), 'INVALID_ARGUMENT', /^since: must be a manifest/)
  refuses(() => client.copy({ path: src }, [{ path: dst }], { force: true }), 'INVALID_ARGUMENT', /^force: only applies with `since`/)
  // An unreadable chunk of an incremental copy stays as it was, marked unknown: no bad blocks split out to zero.
  refuses(() => client.copy({ path: src }, [{ path: dst }], { since: m, ignoreErrors: true, fillBad: 'zero' }), 'INVALID_ARGUMENT', /^fillBad: an incremental copy \(`since`\) does not split bad blocks out of a chunk/)
  refuses(() => client.copy({ path: src }, [{ path: other }], { since: m }), 'MANIFEST_MISMATCH', /other\.img does not exist, but the manifest describes 262144 bytes/)
  refuses(() => client.copy({ path: join(dir, 'gone.img') }, [{ path: other }], { since: m }), 'NOT_FOUND_VOLUME', /^from\.path: .*gone\.img/)
  assert.throws(() => statSync(other), 'nothing created')
})

async function assertRejects(p: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  try {
    await p
  } catch (err) {
    const e = err as Error & { code?: string }
    assert.is(e.code, code, e.message)
    assert.match(e.message, message)
    return
  }
  assert.unreachable('it rejects')
}

test.run()
