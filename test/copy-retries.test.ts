import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createClient, type CopyClient } from '../src/index.js'
import { mountFaultFsIn, type FaultFs, type FaultRule } from './helpers/faultfs.js'
import { logSkip } from './helpers/root.js'
import { cmpFiles, makeTempDir, removeTempDir, writeRandomFile } from './helpers/tmp.js'

const test = suite('transient errors: retried with backoff, counted, never silent')
const MiB = 1024 * 1024
const SIZE = 8 * MiB
let client: CopyClient
let dir: string

test.before(async () => {
  client = await createClient({ threads: 2, chunkBytes: MiB })
})
test.after(async () => {
  await client.destroy()
})
test.before.each(() => {
  dir = makeTempDir('copy-retries')
})
test.after.each(() => {
  removeTempDir(dir)
})

/** Source and destination both on faultfs, with these rules. */
async function withFaults(rules: FaultRule[], body: (fs: FaultFs, src: string, dst: string) => Promise<void>): Promise<void> {
  const fs = await mountFaultFsIn(dir, [])
  if (typeof fs === 'string') return logSkip(fs)
  try {
    writeRandomFile(join(fs.backingDir, 'src.img'), SIZE, 5)
    fs.setRules(rules)
    await body(fs, join(fs.mountDir, 'src.img'), join(fs.mountDir, 'dst.img'))
  } finally {
    await fs.unmount()
  }
}

for (const [name, rule] of [
  ['EAGAIN on reads', { op: 'read', path: 'src.img', offset: 3 * MiB, length: 4096, errno: 'EAGAIN', times: 3 }],
  ['ETIMEDOUT on writes', { op: 'write', path: 'dst.img', offset: 5 * MiB, length: 4096, errno: 'ETIMEDOUT', times: 2 }],
  ['short reads', { op: 'read', path: 'src.img', offset: 6 * MiB, length: 4096, short: true, times: 2 }],
] as Array<[string, FaultRule]>) {
  test(`${name}: the copy succeeds byte-exact, each error retried and counted`, async () => {
    await withFaults([rule], async (fs, src, dst) => {
      const r = await client.copy({ path: src }, [{ path: dst }], { verify: 'readback' }).result
      assert.is(r.ok, true, JSON.stringify(r.errors))
      const injected = fs.events().length
      // A short read's retry goes on from where it stopped, which may be past the rule's range.
      assert.ok(injected >= 1 && injected <= (rule.times ?? 0), `${injected} faults injected`)
      // A short read is continued where it stopped, inside the read itself: no error, nothing to count.
      assert.is(r.retries, rule.short ? 0 : injected, 'one retry for each error')
      assert.ok(cmpFiles(join(fs.backingDir, 'src.img'), join(fs.backingDir, 'dst.img')))
    })
  })
}

test('an error that does not go away is retried a bounded number of times, then reported at its range', async () => {
  const failAt = 2 * MiB + 8192
  await withFaults([{ op: 'read', path: 'src.img', offset: failAt, length: 4096, errno: 'EAGAIN' }], async (fs, src, dst) => {
    const r = await client.copy({ path: src }, [{ path: dst }]).result
    assert.is(r.ok, false)
    assert.is(r.readErr, true)
    const e = r.errors.find((x) => x.code === 'EAGAIN')
    assert.ok(e && e.dest === -1 && e.offset <= failAt && e.offset + e.length >= failAt + 4096, JSON.stringify(r.errors))
    // 5 retries after the first try, with 2+4+8+16+32 ms between them.
    assert.is(fs.events().filter((x) => x.action === 'EAGAIN').length, 6)
  })
})

test.run()
