import { statSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createClient, type CopyClient } from '../src/index.js'
import { allocatedBytes, bytesReadByProcess, writeSparseFile } from './helpers/sparse.js'
import { cmpFiles, makeTempDir, removeTempDir, writeRandomFile } from './helpers/tmp.js'

const test = suite('holes in the source are not read')
let client: CopyClient
let dir: string
const MiB = 1024 * 1024

test.before(async () => {
  client = await createClient({ threads: 3, chunkBytes: MiB })
})
test.after(async () => {
  await client.destroy()
})
test.before.each(async () => {
  dir = makeTempDir('copy-holes-')
  // Every worker loads its modules and addon before anything is measured.
  const warm = join(dir, 'warm.img')
  writeRandomFile(warm, 8 * MiB, 1)
  const r = await client.copy({ path: warm }, [{ path: join(dir, 'warm-copy.img') }], { verify: 'hash' }).result
  assert.is(r.ok, true)
})
test.after.each(() => {
  removeTempDir(dir)
})

// The workers are threads of this process, so /proc/self/io's rchar counts
// every byte they ask of pread, O_DIRECT or not; reading the holes too
// would add 248 MiB.
test('with sparse never, the destination is fully allocated and only the source\'s data is read', async () => {
  const src = join(dir, 'src.img')
  const dst = join(dir, 'dst.img')
  const size = 256 * MiB
  const data = writeSparseFile(src, size, [
    { offset: 4096 * 3 + 5, length: 3 * MiB },
    { offset: 100 * MiB, length: 4 * MiB + 1 },
    { offset: size - MiB, length: MiB },
  ])
  const before = bytesReadByProcess()
  const r = await client.copy({ path: src }, [{ path: dst }], { verify: 'readback', sparse: 'never' }).result
  const read = bytesReadByProcess() - before
  assert.is(r.ok, true, JSON.stringify(r.errors))
  assert.ok(cmpFiles(src, dst))
  assert.is(r.holeBytes, 0, 'a plain copy leaves no holes')
  assert.ok(allocatedBytes(dst) >= size, `a plain copy allocates the whole range: du ${allocatedBytes(dst)}`)
  // Read back: the whole destination, once. From the source: the chunks
  // that hold data (at most 2 MiB more than the data: partial chunks).
  const fromSource = read - size
  assert.ok(fromSource >= data && fromSource <= data + 4 * MiB + 2 * MiB, `bytes read from the source: ${fromSource} for ${data} of data`)
})

test('with sparse, neither the source\'s holes nor a fresh destination are read or written', async () => {
  const src = join(dir, 'src.img')
  const dst = join(dir, 'dst.img')
  const size = 512 * MiB + 12345
  const data = writeSparseFile(src, size, [{ offset: 7, length: 2 * MiB }, { offset: 400 * MiB + 1, length: MiB }])
  const before = bytesReadByProcess()
  const r = await client.copy({ path: src }, [{ path: dst }], { sparse: true }).result
  const read = bytesReadByProcess() - before
  assert.is(r.ok, true, JSON.stringify(r.errors))
  assert.is(statSync(dst).size, size)
  assert.ok(cmpFiles(src, dst))
  assert.ok(read >= data && read <= data + 4 * MiB, `bytes read: ${read} for ${data} of data`)
})

test.run()
