import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createClient } from '../src/index.js'
import { cmpFiles, makeTempDir, removeTempDir, writeRandomFile } from './helpers/tmp.js'

const test = suite('the native addon in every worker, and the node:fs fallback')
let dir: string
const MiB = 1024 * 1024

test.before.each(() => {
  dir = makeTempDir('copy-workers-')
})
test.after.each(() => {
  removeTempDir(dir)
})

test('the native addon loads in every one of six workers at once', async () => {
  const client = await createClient({ threads: 6, chunkBytes: MiB })
  try {
    assert.is(client.backend.kind, 'native', client.backend.reason)
    const probes = await client.probeWorkers()
    assert.is(probes.length, 6)
    assert.is(new Set(probes.map((p) => p.threadId)).size, 6, 'six different threads answered')
    assert.ok(probes.every((p) => p.backend === 'native'), JSON.stringify(probes))
    // And all six copy at once through it.
    const src = join(dir, 'src.img')
    writeRandomFile(src, 24 * MiB, 1)
    const r = await client.copy({ path: src }, [{ path: join(dir, 'dst.img') }], { verify: 'readback' }).result
    assert.is(r.ok, true)
    assert.ok(cmpFiles(src, join(dir, 'dst.img')))
  } finally {
    await client.destroy()
  }
})

test('with the node:fs backend a copy is byte-exact, uses no O_DIRECT, and says why', async () => {
  const client = await createClient({ threads: 3, chunkBytes: 256 * 1024, io: 'fs' })
  try {
    assert.is(client.backend.kind, 'fs')
    assert.match(client.backend.reason ?? '', /fs/)
    const probes = await client.probeWorkers()
    assert.ok(probes.every((p) => p.backend === 'fs' && p.reason.length > 0), JSON.stringify(probes))
    const src = join(dir, 'src.img')
    writeRandomFile(src, 5 * MiB + 3, 2)
    const dsts = [join(dir, 'a.img'), join(dir, 'b.img')]
    const r = await client.copy({ path: src, offset: 1 }, [{ path: dsts[0] as string }, { path: dsts[1] as string, offset: 4096 }], { verify: 'readback' }).result
    assert.is(r.ok, true, JSON.stringify(r.errors))
    assert.equal(r.direct, { source: false, dests: [false, false] })
    assert.is(r.directBytes, 0)
    assert.ok(cmpFiles(src, dsts[0] as string, { aOffset: 1, bOffset: 0 }))
    assert.ok(cmpFiles(src, dsts[1] as string, { aOffset: 1, bOffset: 4096 }))
  } finally {
    await client.destroy()
  }
})

test('with the node:fs backend, direct always is NO_SUPPORT naming the reason', async () => {
  const client = await createClient({ threads: 1, io: 'fs' })
  try {
    const src = join(dir, 'src.img')
    writeRandomFile(src, MiB, 3)
    const dst = join(dir, 'dst.img')
    let caught: unknown
    try {
      client.copy({ path: src }, [{ path: dst }], { direct: 'always' })
    } catch (err) {
      caught = err
    }
    const e = caught as Error & { code?: string }
    assert.is(e.code, 'NO_SUPPORT')
    assert.match(e.message, /from\.path: `direct: 'always'`, but .* the native addon is not loaded/)
    assert.not.ok(existsSync(dst))
  } finally {
    await client.destroy()
  }
})

test('BLOCKCOPY_IO=fs in the environment selects the fallback for a new client', async () => {
  process.env.BLOCKCOPY_IO = 'fs'
  try {
    const client = await createClient({ threads: 1 })
    try {
      assert.is(client.settings.io, 'fs')
      const [probe] = await client.probeWorkers()
      assert.is(probe?.backend, 'fs')
    } finally {
      await client.destroy()
    }
  } finally {
    delete process.env.BLOCKCOPY_IO
  }
})

test.run()
