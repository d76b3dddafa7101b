import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createClient, type CopyClient } from '../src/index.js'
import { parseMap } from '../src/journal/mapfile.js'
import { mountFaultFsIn } from './helpers/faultfs.js'
import { logSkip } from './helpers/root.js'
import { cmpFiles, makeTempDir, removeTempDir, writeRandomFile } from './helpers/tmp.js'

const test = suite('resume maps never claim bytes a failed sync may have lost')
const MiB = 1024 * 1024
let client: CopyClient
let dir: string

test.before(async () => {
  // Slow enough (about 250 ms for 8 MiB) that the map is saved, and synced, while the copy runs.
  client = await createClient({ threads: 2, chunkBytes: MiB, rateBytesPerSec: 32 * MiB })
})
test.after(async () => {
  await client.destroy()
})
test.before.each(() => {
  dir = makeTempDir('copy-map-sync-errors')
})
test.after.each(() => {
  removeTempDir(dir)
})

test('an fdatasync that fails once in a periodic save: no byte of the run is +, the destination is in writeErr, and the rerun copies it all', async () => {
  const fault = await mountFaultFsIn(dir, [{ op: 'fsync', path: 'dst.img', errno: 'EIO', times: 1 }])
  if (typeof fault === 'string') return logSkip(fault)
  try {
    const src = join(dir, 'src.img')
    const dst = join(fault.mountDir, 'dst.img')
    const map = join(dir, 'copy.map')
    writeRandomFile(src, 8 * MiB, 5)
    const r = await client.copy({ path: src }, [{ path: dst }], { map, mapIntervalMs: 50 }).result
    assert.is(fault.events().filter((e) => e.op === 'fsync').length, 1, 'the one failure was injected')
    // The job's own final sync then succeeds, which proves nothing: the failure still counts.
    assert.is(r.ok, false)
    assert.is(r.writeErr, 1)
    assert.ok(r.errors.some((e) => e.dest === 0 && e.code === 'EIO' && e.syscall === 'fdatasync'), JSON.stringify(r.errors))
    assert.is(r.completedBytes, 0)
    const m = parseMap(readFileSync(map, 'utf8'), map)
    assert.is(m.blocks.filter((b) => b.status === '+').length, 0, 'nothing recorded as done')
    assert.is(r.map?.pendingBytes, 8 * MiB)

    const again = await client.copy({ path: src }, [{ path: dst }], { map }).result
    assert.is(again.ok, true, JSON.stringify(again.errors))
    assert.is(again.completedBytes, 8 * MiB)
    assert.ok(cmpFiles(src, join(fault.backingDir, 'dst.img')))
  } finally {
    await fault.unmount()
  }
})

test.run()
