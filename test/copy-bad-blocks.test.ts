import { spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createClient, type CopyClient } from '../src/index.js'
import { parseMap } from '../src/journal/mapfile.js'
import { mountFaultFsIn, type FaultFs } from './helpers/faultfs.js'
import { logSkip } from './helpers/root.js'
import { refuses } from './helpers/refuses.js'
import { cmpFiles, makeTempDir, readRange, removeTempDir, writeRandomFile } from './helpers/tmp.js'

const test = suite('bad blocks: split to the logical block, copied around, recorded, retried')
const KiB = 1024
const MiB = 1024 * KiB
const SIZE = 64 * MiB
// One 4 KiB block in the middle of a chunk, not on a chunk edge.
const BAD = 37 * MiB + 12 * KiB
let client: CopyClient
let dir: string

test.before(async () => {
  client = await createClient({ threads: 2, chunkBytes: MiB })
})
test.after(async () => {
  await client.destroy()
})
test.before.each(() => {
  dir = makeTempDir('copy-bad-blocks')
})
test.after.each(() => {
  removeTempDir(dir)
})

interface Setup {
  fault: FaultFs
  src: string
  dst: string
  map: string
}

/** A 64 MiB source on faultfs whose reads fail with EIO in one 4 KiB block; the destination pre-filled with 0xee. */
async function setup(): Promise<Setup | string> {
  const fault = await mountFaultFsIn(dir, [])
  if (typeof fault === 'string') return fault
  writeRandomFile(join(fault.backingDir, 'src.img'), SIZE, 71)
  fault.setRules([{ op: 'read', path: 'src.img', offset: BAD, length: 4 * KiB, errno: 'EIO' }])
  const dst = join(dir, 'dst.img')
  writeFileSync(dst, Buffer.alloc(SIZE, 0xee))
  return { fault, src: join(fault.mountDir, 'src.img'), dst, map: join(dir, 'copy.map') }
}

/** Source and destination equal everywhere but [BAD, BAD + 4 KiB). */
function equalOutsideBad(s: Setup): boolean {
  const backing = join(s.fault.backingDir, 'src.img')
  return cmpFiles(backing, s.dst, { length: BAD }) && cmpFiles(backing, s.dst, { aOffset: BAD + 4 * KiB, bOffset: BAD + 4 * KiB, length: SIZE - BAD - 4 * KiB })
}

test('EIO in one 4 KiB block: exactly that block is - in the map and the result, every other byte is copied, the block kept as it was', async () => {
  const s = await setup()
  if (typeof s === 'string') return logSkip(s)
  try {
    const r = await client.copy({ path: s.src }, [{ path: s.dst }], { ignoreErrors: true, map: s.map, verify: 'readback' }).result
    assert.is(r.readErr, true)
    assert.is(r.writeErr, 0, JSON.stringify(r.errors))
    assert.equal(r.errors.map((e) => [e.dest, e.offset, e.length, e.code]), [[-1, BAD, 4 * KiB, 'EIO']])
    assert.is(r.completedBytes, SIZE - 4 * KiB)
    assert.equal(r.map, { path: s.map, resumedBytes: 0, rescuedBytes: SIZE - 4 * KiB, badBytes: 4 * KiB, pendingBytes: 0 })
    const m = parseMap(readFileSync(s.map, 'utf8'), s.map)
    assert.equal(m.blocks, [
      { pos: 0, size: BAD, status: '+' }, { pos: BAD, size: 4 * KiB, status: '-' }, { pos: BAD + 4 * KiB, size: SIZE - BAD - 4 * KiB, status: '+' },
    ])
    assert.ok(equalOutsideBad(s), 'every readable byte copied')
    assert.ok(readRange(s.dst, BAD, 4 * KiB).equals(Buffer.alloc(4 * KiB, 0xee)), 'the bad block left as it was')
    if (spawnSync('ddrescuelog', ['--version']).status === 0) {
      const listed = spawnSync('ddrescuelog', ['-l-', '-b', '4096', s.map], { encoding: 'utf8' })
      assert.equal(listed.stdout.trim().split('\n'), [String(BAD / 4096)], 'ddrescuelog lists the one bad block')
    }

    // Without retryBad a rerun leaves the bad block alone and still says so.
    const again = await client.copy({ path: s.src }, [{ path: s.dst }], { map: s.map }).result
    assert.is(again.completedBytes, 0)
    assert.is(again.ok, false)
    assert.equal(again.errors.map((e) => [e.offset, e.length, e.code]), [[BAD, 4 * KiB, 'BAD_BLOCK']])

    // The fault heals: retryBad reads only the bad block, and the copy is whole.
    s.fault.setRules([])
    const retried = await client.copy({ path: s.src }, [{ path: s.dst }], { map: s.map, retryBad: 2 }).result
    assert.is(retried.ok, true, JSON.stringify(retried.errors))
    assert.is(retried.completedBytes, 4 * KiB)
    assert.ok(cmpFiles(join(s.fault.backingDir, 'src.img'), s.dst), 'byte-exact')
    assert.equal(parseMap(readFileSync(s.map, 'utf8'), s.map).blocks, [{ pos: 0, size: SIZE, status: '+' }])
  } finally {
    await s.fault.unmount()
  }
})

/** Byte ranges of the copy the result names: completed, or failed on some destination or the source; merged. */
function accounted(r: { completed: Array<{ offset: number; length: number }>; errors: Array<{ offset: number; length: number }> }): number[][] {
  const spans = [...r.completed, ...r.errors].map((e) => [e.offset, e.offset + e.length]).sort((a, b) => (a[0] as number) - (b[0] as number))
  const out: number[][] = []
  for (const [a, b] of spans as Array<[number, number]>) {
    const last = out[out.length - 1]
    if (last && a <= (last[1] as number)) last[1] = Math.max(last[1] as number, b)
    else out.push([a, b])
  }
  return out
}

for (const [where, writeAt] of [['after', BAD + 64 * KiB], ['before', BAD - 8 * KiB]] as const) {
  test(`a bad block and a write that fails ${where} it in the same chunk: every byte is completed or named, and what is completed is exact`, async () => {
    const s = await setup()
    if (typeof s === 'string') return logSkip(s)
    try {
      const dst = join(s.fault.mountDir, 'dst.img')
      writeFileSync(join(s.fault.backingDir, 'dst.img'), Buffer.alloc(SIZE, 0xee))
      s.fault.setRules([
        { op: 'read', path: 'src.img', offset: BAD, length: 4 * KiB, errno: 'EIO' },
        { op: 'write', path: 'dst.img', offset: writeAt, length: 4 * KiB, errno: 'EIO' },
      ])
      const r = await client.copy({ path: s.src }, [{ path: dst }], { ignoreErrors: true }).result
      assert.equal(accounted(r), [[0, SIZE]], 'no byte unaccounted for')
      const chunk = BAD - (BAD % MiB)
      if (where === 'after') {
        // Written before the failed write, the part ahead of the bad block is done.
        assert.ok(r.completed.some((e) => e.offset <= chunk && e.offset + e.length >= BAD), JSON.stringify(r.completed))
      } else {
        // Never tried after the failed write, the part behind the bad block is named.
        assert.ok(r.errors.some((e) => e.dest === 0 && e.code === 'DEST_STOPPED' && e.offset === BAD + 4 * KiB), JSON.stringify(r.errors))
      }
      for (const e of r.completed) {
        assert.ok(cmpFiles(join(s.fault.backingDir, 'src.img'), join(s.fault.backingDir, 'dst.img'), { aOffset: e.offset, bOffset: e.offset, length: e.length }), `${e.offset}+${e.length}`)
      }
    } finally {
      await s.fault.unmount()
    }
  })
}

test('fillBad zero: the bad block reads back as zeros; without ignoreErrors the whole chunk fails as before', async () => {
  const s = await setup()
  if (typeof s === 'string') return logSkip(s)
  try {
    const r = await client.copy({ path: s.src }, [{ path: s.dst }], { ignoreErrors: true, fillBad: 'zero' }).result
    assert.equal(r.errors.map((e) => [e.offset, e.length]), [[BAD, 4 * KiB]])
    assert.ok(equalOutsideBad(s))
    assert.ok(readRange(s.dst, BAD, 4 * KiB).equals(Buffer.alloc(4 * KiB)), 'zero-filled')

    const plain = await client.copy({ path: s.src }, [{ path: join(dir, 'plain.img') }]).result
    assert.is(plain.readErr, true)
    assert.ok(plain.errors.every((e) => e.dest === -1 && e.offset <= BAD && e.offset + e.length >= BAD + 4 * KiB))
  } finally {
    await s.fault.unmount()
  }
})

test('a read failure that does not last: every block reads on its own, and the chunk is whole', async () => {
  const s = await setup()
  if (typeof s === 'string') return logSkip(s)
  try {
    s.fault.setRules([{ op: 'read', path: 'src.img', offset: BAD, length: 4 * KiB, errno: 'EIO', times: 1 }])
    const r = await client.copy({ path: s.src }, [{ path: s.dst }], { ignoreErrors: true }).result
    assert.is(r.ok, true, JSON.stringify(r.errors))
    assert.ok(cmpFiles(join(s.fault.backingDir, 'src.img'), s.dst))
  } finally {
    await s.fault.unmount()
  }
})

test('retryBad goes on past blocks that are still bad, without ignoreErrors', async () => {
  const s = await setup()
  if (typeof s === 'string') return logSkip(s)
  try {
    const bads = [10 * MiB + 4 * KiB, 30 * MiB, 50 * MiB + 8 * KiB]
    s.fault.setRules(bads.map((offset) => ({ op: 'read', path: 'src.img', offset, length: 4 * KiB, errno: 'EIO' })))
    const first = await client.copy({ path: s.src }, [{ path: s.dst }], { ignoreErrors: true, map: s.map }).result
    assert.is(first.map?.badBytes, 3 * 4 * KiB)
    // Only the first still fails; the retry must not stop there.
    s.fault.setRules([{ op: 'read', path: 'src.img', offset: bads[0], length: 4 * KiB, errno: 'EIO' }])
    const retried = await client.copy({ path: s.src }, [{ path: s.dst }], { map: s.map, retryBad: 1 }).result
    assert.is(retried.completedBytes, 2 * 4 * KiB)
    assert.equal(retried.errors.map((e) => [e.offset, e.length, e.code]), [[bads[0], 4 * KiB, 'EIO']])
    const m = parseMap(readFileSync(s.map, 'utf8'), s.map)
    assert.equal(m.blocks.filter((b) => b.status === '-').map((b) => [b.pos, b.size]), [[bads[0], 4 * KiB]])
  } finally {
    await s.fault.unmount()
  }
})

test('bad input: retryBad without a map, out of range; fillBad without ignoreErrors or an unknown mode', () => {
  const src = join(dir, 'src.img')
  writeRandomFile(src, MiB, 1)
  const dst = join(dir, 'dst.img')
  refuses(() => client.copy({ path: src }, [{ path: dst }], { retryBad: 2 }), 'INVALID_ARGUMENT', /^retryBad: needs the map/)
  refuses(() => client.copy({ path: src }, [{ path: dst }], { retryBad: 0, map: join(dir, 'm') }), 'INVALID_ARGUMENT', /^retryBad: must be a whole number of passes from 1 to 100/)
  refuses(() => client.copy({ path: src }, [{ path: dst }], { retryBad: 1, map: join(dir, 'm') }), 'INVALID_ARGUMENT', /^retryBad: needs an existing map/)
  refuses(() => client.copy({ path: src }, [{ path: dst }], { fillBad: 'zero' }), 'INVALID_ARGUMENT', /^fillBad: only applies with `ignoreErrors` or `retryBad`/)
  refuses(() => client.copy({ path: src }, [{ path: dst }], { ignoreErrors: true, fillBad: 'ones' as never }), 'INVALID_ARGUMENT', /^fillBad: must be 'keep' or 'zero'/)
})

test.run()
