import { copyFileSync, existsSync, lstatSync, readdirSync, readFileSync, statSync, symlinkSync, unlinkSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { allUnknown, chunkDigest, createClient, isUnknown, unknownCount, type CopyClient, type Manifest } from '../src/index.js'
import { mountFaultFsIn } from './helpers/faultfs.js'
import { logSkip } from './helpers/root.js'
import { refuses, refusesAsync } from './helpers/refuses.js'
import { cmpFiles, makeTempDir, removeTempDir, writeRandomFile } from './helpers/tmp.js'

const test = suite('incremental copy: the manifest after a run that did not succeed')
const KiB = 1024
const MiB = 1024 * KiB
const CHUNK = 64 * KiB
const SIZE = 8 * MiB + 5
let client: CopyClient
let dir: string
let src: string
let dst: string
let original: string

test.before(async () => {
  client = await createClient({ threads: 2, chunkBytes: CHUNK })
})
test.after(async () => {
  await client.destroy()
})
test.before.each(() => {
  dir = makeTempDir('copy-since-failed')
  src = join(dir, 'src.img')
  dst = join(dir, 'dst.img')
  original = join(dir, 'original.img')
})
test.after.each(() => {
  removeTempDir(dir)
})

/** dst a full copy of a random source (kept as `original`), and dst's manifest. */
async function seed(path = dst): Promise<Manifest> {
  writeRandomFile(original, SIZE, 77)
  copyFileSync(original, src)
  assert.is((await client.copy({ path: src }, [{ path }]).result).ok, true)
  const m = await client.hash(path).manifest
  assert.ok(m)
  return m as Manifest
}

test('cancelled after some chunks, then the source reverted: the next run puts back every chunk the cancelled one wrote', async () => {
  const m = await seed()
  // Every chunk of the source changes.
  writeRandomFile(src, SIZE, 78)
  const controller = new AbortController()
  const job = client.copy({ path: src }, [{ path: dst }], { since: m, signal: controller.signal })
  job.once('progress', () => controller.abort())
  const r = await job.result
  assert.is(r.cancelled, true)
  assert.ok(r.completedBytes > 0 && r.completedBytes < SIZE, `${r.completedBytes} of ${SIZE} written before the cancel took hold`)
  const after = (await job.manifest) as Manifest
  assert.ok(after, 'a cancelled run still yields the manifest of what the destination holds')
  assert.is(unknownCount(after), 0, 'a cancel cuts no chunk short')
  // Chunks that reached the destination have the new digest, the rest the old one.
  for (let i = 0; i < after.chunkCount; i++) {
    const written = r.completed.some((e) => e.offset <= i * CHUNK && i * CHUNK < e.offset + e.length)
    assert.is(chunkDigest(after, i) === chunkDigest(m, i), !written, `chunk ${i}`)
  }

  // The source goes back to exactly what the old manifest describes.
  copyFileSync(original, src)
  const again = client.copy({ path: src }, [{ path: dst }], { since: after })
  const r2 = await again.result
  assert.is(r2.ok, true, JSON.stringify(r2.errors))
  assert.ok(cmpFiles(src, dst), 'byte-exact: the chunks the cancelled run wrote were written back')
  assert.is(r2.incremental?.writtenBytes, r.completedBytes, 'only those chunks')
  assert.is((await again.manifest)?.root, m.root)
})

test('a write that failed part-way leaves its chunks unknown, and the next run writes them', async () => {
  const fault = await mountFaultFsIn(dir, [])
  if (typeof fault === 'string') return logSkip(fault)
  try {
    const target = join(fault.mountDir, 'dst.img')
    const m = await seed(target)
    writeRandomFile(src, SIZE, 79)
    const failAt = 40 * CHUNK + 3 * KiB
    fault.setRules([{ op: 'write', path: 'dst.img', offset: failAt, length: 4 * KiB, errno: 'EIO' }])
    const job = client.copy({ path: src }, [{ path: target }], { since: m, ignoreErrors: true })
    const r = await job.result
    assert.is(r.writeErr, 1)
    const after = (await job.manifest) as Manifest
    assert.ok(after)
    assert.ok(isUnknown(after, 40), 'the chunk whose write failed')
    assert.is(unknownCount(after), 1)

    fault.setRules([])
    copyFileSync(original, src)
    const r2 = await client.copy({ path: src }, [{ path: target }], { since: after }).result
    assert.is(r2.ok, true, JSON.stringify(r2.errors))
    assert.ok(cmpFiles(src, target), 'byte-exact')
    // Chunk 40 was partly written, the chunks completed before the failure fully: those go back.
    // The chunks after it never reached the destination (DEST_STOPPED) and still match.
    assert.is(r2.incremental?.writtenBytes, r.completedBytes + CHUNK)
    assert.ok(r.errors.some((e) => e.code === 'DEST_STOPPED'))
  } finally {
    await fault.unmount()
  }
})

test('a file destination takes the source\'s size even when the copy is cancelled', async () => {
  const m = await seed()
  writeRandomFile(src, SIZE - 3 * CHUNK - 1, 80)
  const controller = new AbortController()
  controller.abort()
  const job = client.copy({ path: src }, [{ path: dst }], { since: m, signal: controller.signal })
  const r = await job.result
  assert.is(r.cancelled, true)
  assert.is(statSync(dst).size, SIZE - 3 * CHUNK - 1)
  const after = (await job.manifest) as Manifest
  assert.is(after.sizeBytes, SIZE - 3 * CHUNK - 1)
  // The new last chunk is shorter than the old one at its index: unknown; the others are as they were.
  assert.is(unknownCount(after), 1)
  assert.ok(isUnknown(after, after.chunkCount - 1))
  assert.is(chunkDigest(after, 0), chunkDigest(m, 0))
})

test('beforeWrite runs after the check and before any write; a throw fails the job with nothing written', async () => {
  const m = await seed()
  writeRandomFile(src, SIZE, 81)
  const before = readFileSync(dst)
  const job = client.copy({ path: src }, [{ path: dst }], { since: m, beforeWrite: () => { throw new Error('no room for the manifest') } })
  await refusesAsync(job.result, null, /no room for the manifest/)
  assert.is(await job.manifest, null)
  assert.ok(readFileSync(dst).equals(before), 'nothing written')

  let calls = 0
  const ok = await client.copy({ path: src }, [{ path: dst }], { since: m, beforeWrite: async () => { calls++ } }).result
  assert.is(ok.ok, true)
  assert.is(calls, 1)
  assert.throws(() => client.copy({ path: src }, [{ path: dst }], { beforeWrite: 'soon' as never }), /beforeWrite: must be a function/)

  // A destination the job created is removed again when beforeWrite fails; one that existed is kept.
  const fresh = join(dir, 'fresh.img')
  const forced = client.copy({ path: src }, [{ path: fresh }], { since: m, force: true, beforeWrite: () => { throw new Error('no room') } })
  await refusesAsync(forced.result, null, /no room/)
  assert.not.ok(existsSync(fresh), 'the created destination is gone')
  const plain = client.copy({ path: src }, [{ path: fresh }], { beforeWrite: () => { throw new Error('no room') } })
  await refusesAsync(plain.result, null, /no room/)
  assert.not.ok(existsSync(fresh), 'also for a plain copy')
  assert.ok(existsSync(dst), 'an existing destination is kept')
  // Through a dangling link: the file it created is removed, and the user's link stays.
  const link = join(dir, 'link.img')
  symlinkSync(fresh, link)
  const linked = client.copy({ path: src }, [{ path: link }], { beforeWrite: () => { throw new Error('no room') } })
  await refusesAsync(linked.result, null, /no room/)
  assert.ok(lstatSync(link).isSymbolicLink(), 'the link is kept')
  assert.not.ok(existsSync(fresh), 'the file created through it is gone')
})

test('a manifest that trusts no chunk still holds the destination to its size: with nothing to sample, size is the only guard', async () => {
  const m = await seed()
  const unknown = await allUnknown(m)
  const precious = join(dir, 'precious.img')
  writeRandomFile(precious, SIZE + 8192, 84)
  const before = readFileSync(precious)
  refuses(() => client.copy({ path: src }, [{ path: precious }], { since: unknown }), 'MANIFEST_MISMATCH', /has \d+ bytes, but the manifest describes/)
  assert.ok(readFileSync(precious).equals(before), 'untouched')
})

test('a destination that fails its check: MANIFEST_MISMATCH, job.manifest null, and no descriptor left open', async () => {
  const m = await seed()
  writeRandomFile(dst, SIZE, 82)
  const fds = readdirSync('/proc/self/fd').length
  for (let k = 0; k < 5; k++) {
    const job = client.copy({ path: src }, [{ path: dst }], { since: m })
    await refusesAsync(job.result, 'MANIFEST_MISMATCH', /chunk \d+ of .*dst\.img .* nothing was written/)
    assert.is(await job.manifest, null)
  }
  assert.ok(readdirSync('/proc/self/fd').length <= fds, 'descriptors closed')
})

test('the check reads through the job\'s own descriptors: a source unlinked once the job started is still the one copied', async () => {
  const m = await seed()
  writeRandomFile(src, SIZE, 83)
  copyFileSync(src, original)
  const job = client.copy({ path: src }, [{ path: dst }], { since: m })
  unlinkSync(src)
  const r = await job.result
  assert.is(r.ok, true, JSON.stringify(r.errors))
  assert.ok(cmpFiles(original, dst), 'byte-exact to the file the job opened')
})

test.run()
