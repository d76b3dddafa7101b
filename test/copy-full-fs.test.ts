import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createClient, type CopyClient, type CopyResult } from '../src/index.js'
import { mountTmpfs, unmount } from './helpers/mounts.js'
import { logSkip, skipUnlessRoot } from './helpers/root.js'
import { cmpFiles, makeTempDir, removeTempDir, writeRandomFile } from './helpers/tmp.js'

const test = suite('a destination that runs out of space')
const KiB = 1024
const MiB = 1024 * KiB
const CHUNK = 256 * KiB
const LENGTH = 4 * MiB
let client: CopyClient
let dir: string

test.before(async () => {
  client = await createClient({ threads: 3, chunkBytes: CHUNK })
})
test.after(async () => {
  await client.destroy()
})
test.before.each(() => {
  dir = makeTempDir('copy-full-fs')
})
test.after.each(() => {
  removeTempDir(dir)
})

/** The full destination is index 1, between two on the disk. */
const FULL = 1

/**
 * Copies 4 MiB from a disk file to dir/a.img, a 1 MiB tmpfs and dir/c.img,
 * then unmounts the tmpfs; null when not root.
 */
async function copyToFullTmpfs(ignoreErrors: boolean): Promise<{ r: CopyResult; src: string; dsts: string[] } | null> {
  const why = skipUnlessRoot('mounts a tmpfs')
  if (why) {
    logSkip(why)
    return null
  }
  const small = join(dir, 'small')
  await mountTmpfs(small, MiB)
  try {
    const src = join(dir, 'src.img')
    writeRandomFile(src, LENGTH, 41)
    const dsts = [join(dir, 'a.img'), join(small, 'b.img'), join(dir, 'c.img')]
    const r = await client.copy({ path: src }, dsts.map((path) => ({ path })), { verify: 'readback', ignoreErrors }).result
    checkFullDestination(r, src, dsts[FULL] as string)
    return { r, src, dsts }
  } finally {
    await unmount(small)
  }
}

/** Checks what holds with or without ignoreErrors, while the tmpfs is still mounted. */
function checkFullDestination(r: CopyResult, src: string, full: string): void {
  assert.is(r.readErr, false)
  assert.is(r.writeErr, 1 << FULL)
  assert.is(r.ok, false)
  assert.ok(r.errors.length >= 1)
  assert.is(r.errors[0]?.code, 'ENOSPC', 'the first failure is the one that filled it')
  for (const e of r.errors) {
    // ENOSPC, then (ignoreErrors) no more writes to it: DEST_STOPPED for the rest.
    const want = e.code === 'ENOSPC' ? [FULL, 'ENOSPC', 28, 'pwrite'] : [FULL, 'DEST_STOPPED', 0, 'pwrite']
    assert.equal([e.dest, e.code, e.errno, e.syscall], want, JSON.stringify(e))
    assert.ok(e.offset >= 0 && e.offset + e.length <= LENGTH, `failure ${e.offset}+${e.length} inside the range`)
  }
  // Whatever did fit on the tmpfs is right (read-back verified it).
  for (const c of r.completed) assert.ok(cmpFiles(src, full, { aOffset: c.offset, bOffset: c.offset, length: c.length }))
}

test('with ignoreErrors the other destinations are whole copies and only the full one is in writeErr', async () => {
  const run = await copyToFullTmpfs(true)
  if (!run) return
  const { r, src, dsts } = run
  assert.ok(cmpFiles(src, dsts[0] as string), 'destination 0')
  assert.ok(cmpFiles(src, dsts[2] as string), 'destination 2')
  // A 1 MiB tmpfs holds at most 1 MiB of the 4: at least 3 MiB of failures.
  const failed = r.errors.reduce((n, e) => n + e.length, 0)
  assert.ok(failed >= LENGTH - MiB, `${failed} bytes failed`)
  assert.ok(r.completedBytes <= MiB, `completed ${r.completedBytes}`)
  assert.is(r.completedBytes + failed, LENGTH, 'every chunk either completed or failed on the full destination')
  // After the first ENOSPC nothing more was written to it: most of the range is DEST_STOPPED, not ENOSPC.
  const stopped = r.errors.filter((e) => e.code === 'DEST_STOPPED').reduce((n, e) => n + e.length, 0)
  assert.ok(stopped > 0, `${stopped} bytes never tried on the full destination`)
})

test('without ignoreErrors running out of space stops new chunks', async () => {
  const run = await copyToFullTmpfs(false)
  if (!run) return
  const { r, src, dsts } = run
  assert.ok(r.completedBytes < LENGTH)
  // 16 chunks, about 4 fit before the first ENOSPC, six more in flight at most.
  assert.not.ok(cmpFiles(src, dsts[0] as string, { aOffset: LENGTH - CHUNK, bOffset: LENGTH - CHUNK, length: CHUNK }),
    'the last chunk never reached destination 0')
  for (const c of r.completed) {
    for (const d of [dsts[0], dsts[2]] as string[]) assert.ok(cmpFiles(src, d, { aOffset: c.offset, bOffset: c.offset, length: c.length }))
  }
})

test.run()
