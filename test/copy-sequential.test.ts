import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createClient, type CopyClient } from '../src/index.js'
import { mountFaultFs, type FaultEvent, type FaultFs, type FaultRule } from './helpers/faultfs.js'
import { logSkip } from './helpers/root.js'
import { cmpFiles, makeTempDir, removeTempDir, writeRandomFile } from './helpers/tmp.js'

const test = suite('sequential writes')
const KiB = 1024
const CHUNK = 64 * KiB
const CHUNKS = 16
const LENGTH = CHUNKS * CHUNK
let client: CopyClient
let dir: string

test.before(async () => {
  client = await createClient({ threads: 3, chunkBytes: CHUNK })
})
test.after(async () => {
  // Bounded: after a deadlocked copy (see withDeadline) destroy would wait forever.
  await withDeadline(client.destroy(), 10_000, 'client.destroy()').catch((err: unknown) => console.error(String(err)))
})
test.before.each(() => {
  dir = makeTempDir('copy-sequential')
})
test.after.each(() => {
  removeTempDir(dir)
})

/**
 * Rejects when promise has not settled after ms. Ordered writes that wait for
 * a chunk which never runs would otherwise hang the suite instead of failing it.
 */
function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms (deadlock?)`)), ms)
  })
  return Promise.race([promise, late]).finally(() => clearTimeout(timer))
}

// Source and destination on one faultfs. The source's first chunk is read
// 300 ms late, so without ordering the later chunks overtake it. Every write
// to the destination gets a 1 ms delay, which faultfs logs as an event: the
// log is the order in which write requests reached the file system.
const RULES: FaultRule[] = [
  { op: 'read', path: 'src.img', offset: 0, length: CHUNK, delayMs: 300 },
  { op: 'write', path: 'dst.img', delayMs: 1 },
]

/** Copies src.img to dst.img on faultfs and returns the chunk index of each logged write, in arrival order. */
async function writeOrder(sequentialWrites: boolean): Promise<number[] | null> {
  mkdirSync(join(dir, 'backing'))
  mkdirSync(join(dir, 'mnt'))
  const fs: FaultFs | string = await mountFaultFs(join(dir, 'backing'), join(dir, 'mnt'), RULES)
  if (typeof fs === 'string') {
    logSkip(fs)
    return null
  }
  try {
    writeRandomFile(join(fs.backingDir, 'src.img'), LENGTH, 51)
    const src = join(fs.mountDir, 'src.img')
    const dst = join(fs.mountDir, 'dst.img')
    const r = await withDeadline(client.copy({ path: src }, [{ path: dst }], { sequentialWrites }).result, 20_000, 'the copy')
    assert.is(r.ok, true, JSON.stringify(r.errors))
    // Compared with the source's backing file: through the mount, every read of its first chunk is 300 ms late.
    const original = join(fs.backingDir, 'src.img')
    assert.ok(cmpFiles(original, dst), 'the destination is a byte-exact copy')
    assert.ok(cmpFiles(original, join(fs.backingDir, 'dst.img')), 'and so is its backing file')

    const events = fs.events()
    assert.ok(events.some((e) => e.op === 'read' && e.path === 'src.img' && e.offset === 0), 'the first chunk was delayed')
    const writes = events.filter((e: FaultEvent) => e.op === 'write' && e.path === 'dst.img')
    // FUSE may cut a chunk's write into several requests; together they cover the whole range.
    assert.is(writes.reduce((n, e) => n + e.length, 0), LENGTH, 'every written byte was logged once')
    return writes.map((e) => Math.floor(e.offset / CHUNK))
  } finally {
    await fs.unmount()
  }
}

const backwards = (order: number[]): number => order.filter((c, i) => i > 0 && c < (order[i - 1] as number)).length

test('with sequentialWrites the destination is written in chunk order although the first chunk is read last', async () => {
  const order = await writeOrder(true)
  if (!order) return
  assert.is(backwards(order), 0, `writes by chunk: ${order.join(' ')}`)
  assert.equal([...new Set(order)], Array.from({ length: CHUNKS }, (_, i) => i))
})

test('without sequentialWrites the same copy writes later chunks before the first', async () => {
  const order = await writeOrder(false)
  if (!order) return
  assert.ok(backwards(order) > 0, `writes by chunk: ${order.join(' ')}`)
  assert.ok(order[0] !== 0, `writes by chunk: ${order.join(' ')}`)
})

test.run()
