// What an incremental copy verified and what it trusted (result.incremental),
// and checkDest: the whole destination hashed against the manifest first.
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createClient, type CopyClient, type CopyResult, type Manifest } from '../src/index.js'
import { SAMPLED_CHUNKS } from '../src/incremental/since.js'
import { mountFaultFsIn } from './helpers/faultfs.js'
import { withImageFs, withTempDir } from './helpers/native.js'
import { logSkip } from './helpers/root.js'
import { cmpFiles, makeTempDir, removeTempDir, writeRandomFile } from './helpers/tmp.js'

const test = suite('incremental copy: what was verified, what was trusted, and checkDest')
const KiB = 1024
const CHUNK = 64 * KiB
/** 256 chunks: a sample of 16 misses a given middle chunk 15 times in 16. */
const COUNT = 256
const SIZE = COUNT * CHUNK
/** The chunk changed behind the manifest's back. */
const BEHIND = 100
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
  dir = makeTempDir('since-check-dest')
  src = join(dir, 'src.img')
  dst = join(dir, 'dst.img')
})
test.after.each(() => {
  removeTempDir(dir)
})

function scribble(path: string, offset: number, text: string): void {
  const fd = openSync(path, 'r+')
  writeSync(fd, Buffer.from(text), 0, text.length, offset)
  closeSync(fd)
}

/** A source, its full copy and the copy's manifest; then chunk 0 changes in the source and chunk BEHIND in the destination. */
async function seed(): Promise<Manifest> {
  writeRandomFile(src, SIZE, 83)
  assert.is((await client.copy({ path: src }, [{ path: dst }]).result).ok, true)
  const m = await client.hash(dst).manifest
  assert.ok(m)
  scribble(src, 10, 'new')
  scribble(dst, BEHIND * CHUNK + 7, 'behind the manifest')
  return m as Manifest
}

async function identical(): Promise<boolean> {
  return (await client.verify(src, [dst]).report).identical
}

async function rejection(p: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await p
  } catch (err) {
    return err as Error & { code?: string }
  }
  return assert.unreachable('it rejects') as never
}

test('a change in the destination outside the sample is skipped: the result says which chunks were trusted, not read', async () => {
  const m = await seed()
  // The sample is random: should it catch the change (1 run in 16), it refuses, which is right too; run again.
  let r: CopyResult | null = null
  for (let attempt = 0; attempt < 12 && r === null; attempt++) {
    try {
      r = await client.copy({ path: src }, [{ path: dst }], { since: m }).result
    } catch (err) {
      assert.is((err as { code?: string }).code, 'MANIFEST_MISMATCH')
      assert.match((err as Error).message, `chunk ${BEHIND} of`)
    }
  }
  assert.ok(r, 'twelve samples in a row caught the one changed chunk')
  const i = (r as CopyResult).incremental
  assert.is(r?.ok, true)
  // Chunk 0, the first, is always sampled: written, and not trusted.
  assert.equal([i?.writtenChunks, i?.writtenBytes, i?.skippedChunks], [1, CHUNK, COUNT - 1])
  assert.equal(i?.check, { mode: 'sample', chunks: SAMPLED_CHUNKS, bytes: SAMPLED_CHUNKS * CHUNK, differing: [] })
  assert.equal([i?.trustedChunks, i?.trustedBytes], [COUNT - SAMPLED_CHUNKS, (COUNT - SAMPLED_CHUNKS) * CHUNK])
  // What it trusted was wrong: verify finds it.
  assert.is(await identical(), false)
})

test('checkDest finds the change: MANIFEST_MISMATCH naming its range, nothing written', async () => {
  const m = await seed()
  const before = readFileSync(dst)
  const job = client.copy({ path: src }, [{ path: dst }], { since: m, checkDest: true })
  const err = await rejection(job.result)
  assert.is(err.code, 'MANIFEST_MISMATCH')
  assert.match(err.message, new RegExp(`^since: every chunk of .*dst\\.img was hashed, and 1 of ${COUNT} chunks is not as the manifest records: bytes ${BEHIND * CHUNK}\\.\\.${(BEHIND + 1) * CHUNK}: .*nothing was written \\(\`force\` writes the chunks where the source differs from what the destination holds\\)`))
  assert.ok(readFileSync(dst).equals(before), 'untouched')
  assert.is(await job.manifest, null)
})

test('checkDest with force writes exactly the chunks where the source differs from what the destination holds', async () => {
  const m = await seed()
  const job = client.copy({ path: src }, [{ path: dst }], { since: m, checkDest: true, force: true })
  const r = await job.result
  assert.is(r.ok, true, JSON.stringify(r.errors))
  const i = r.incremental
  assert.equal([i?.writtenChunks, i?.writtenBytes, i?.skippedChunks, i?.writeAll], [2, 2 * CHUNK, COUNT - 2, false])
  assert.equal(i?.check, { mode: 'whole', chunks: COUNT, bytes: SIZE, differing: [{ offset: BEHIND * CHUNK, length: CHUNK }] })
  assert.equal([i?.trustedChunks, i?.trustedBytes], [0, 0])
  assert.match(i?.reason ?? '', /1 chunk of .*dst\.img was not as the manifest records \(bytes 6553600\.\.6619136\)/)
  assert.ok(cmpFiles(src, dst))
  assert.is(await identical(), true)
  assert.is((await job.manifest)?.root, (await client.hash(dst).manifest)?.root)
})

test('checkDest: a chunk an earlier run already wrote (as the source holds) is no mismatch, and is not written again', async () => {
  const m = await seed()
  // As if an earlier run wrote chunk BEHIND and failed: the source holds those bytes too.
  scribble(src, BEHIND * CHUNK + 7, 'behind the manifest')
  const r = await client.copy({ path: src }, [{ path: dst }], { since: m, checkDest: true }).result
  assert.is(r.ok, true)
  assert.equal([r.incremental?.writtenChunks, r.incremental?.check.differing], [1, [{ offset: BEHIND * CHUNK, length: CHUNK }]])
  assert.ok(cmpFiles(src, dst))
})

test('checkDest and force, cancelled before the first write: the next manifest records what the destination really holds', async () => {
  const m = await seed()
  const controller = new AbortController()
  const job = client.copy({ path: src }, [{ path: dst }], { since: m, checkDest: true, force: true, signal: controller.signal, beforeWrite: () => controller.abort() })
  const r = await job.result
  assert.equal([r.cancelled, r.completedBytes], [true, 0])
  const next = await job.manifest
  assert.ok(next)
  // The source never changed at BEHIND: only a manifest of what the destination holds gets that chunk rewritten next time.
  const again = await client.copy({ path: src }, [{ path: dst }], { since: next as Manifest }).result
  assert.is(again.ok, true)
  assert.ok(cmpFiles(src, dst))
})

test('checkDest: a chunk of the destination that cannot be read is named; forced, it is written', async () => {
  const fault = await mountFaultFsIn(dir, [])
  if (typeof fault === 'string') return logSkip(fault)
  try {
    dst = join(fault.mountDir, 'dst.img')
    writeRandomFile(src, SIZE, 83)
    assert.is((await client.copy({ path: src }, [{ path: dst }]).result).ok, true)
    const m = (await client.hash(dst).manifest) as Manifest
    fault.setRules([{ op: 'read', path: 'dst.img', offset: BEHIND * CHUNK + 4 * KiB, length: 4 * KiB, errno: 'EIO' }])
    const err = await rejection(client.copy({ path: src }, [{ path: dst }], { since: m, checkDest: true }).result)
    assert.is(err.code, 'MANIFEST_MISMATCH')
    // Only that chunk: the ones after it in the same hash task were read again on their own.
    assert.match(err.message, `1 of ${COUNT} chunks is not as the manifest records: bytes ${BEHIND * CHUNK}..${(BEHIND + 1) * CHUNK} (bytes ${BEHIND * CHUNK}..${(BEHIND + 1) * CHUNK} could not be read: EIO)`)
    const r = await client.copy({ path: src }, [{ path: dst }], { since: m, checkDest: true, force: true }).result
    assert.is(r.ok, true, JSON.stringify(r.errors))
    assert.equal([r.incremental?.writtenChunks, r.incremental?.check.chunks, r.incremental?.check.differing], [1, COUNT - 1, [{ offset: BEHIND * CHUNK, length: CHUNK }]])
    fault.setRules([])
    assert.ok(cmpFiles(src, dst))
  } finally {
    await fault.unmount()
  }
})

test('checkDest cancelled during the check: nothing written, and the manifest after it is the old one', async () => {
  const m = await seed()
  const before = readFileSync(dst)
  const controller = new AbortController()
  controller.abort()
  const job = client.copy({ path: src }, [{ path: dst }], { since: m, checkDest: true, force: true, signal: controller.signal })
  const r = await job.result
  assert.equal([r.cancelled, r.completedBytes, r.incremental?.check.mode], [true, 0, 'none'])
  assert.ok(readFileSync(dst).equals(before), 'untouched')
  assert.is((await job.manifest)?.root, m.root)
})

test('checkDest with a checkpoint: a chunk the checkpoint calls unchanged but the destination lost is still written', async () => {
  await withTempDir('since-check-dest-ckpt', (tmp) => withImageFs(tmp, 'xfs', async (mnt) => {
    src = join(mnt.dir, 'src.img')
    dst = join(mnt.dir, 'dst.img')
    const ckpt = join(mnt.dir, 'src.ckpt')
    writeRandomFile(src, SIZE, 89)
    assert.is((await client.copy({ path: src }, [{ path: dst }]).result).ok, true)
    const m = await client.hash(dst).manifest
    const first = client.copy({ path: src }, [{ path: dst }], { since: m as Manifest, checkpoint: ckpt })
    assert.is((await first.result).ok, true)
    scribble(dst, BEHIND * CHUNK + 7, 'behind the manifest')
    const r = await client.copy({ path: src }, [{ path: dst }], { since: (await first.manifest) as Manifest, checkpoint: ckpt, checkDest: true, force: true }).result
    assert.is(r.ok, true, JSON.stringify(r.errors))
    assert.is(r.incremental?.checkpoint?.used, true)
    assert.is(r.incremental?.writtenChunks, 1)
    assert.ok(cmpFiles(src, dst))
  }))
})

test('checkDest is checked like force: a boolean, with since only', async () => {
  writeRandomFile(src, CHUNK, 1)
  assert.throws(() => client.copy({ path: src }, [{ path: dst }], { checkDest: true }), /^checkDest: only applies with `since`/)
  const m = await client.hash(src).manifest
  assert.throws(() => client.copy({ path: src }, [{ path: dst }], { since: m as Manifest, checkDest: 'yes' as unknown as boolean }), /^checkDest: must be true or false/)
})

test.run()
