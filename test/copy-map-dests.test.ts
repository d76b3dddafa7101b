import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createClient, type CopyClient } from '../src/index.js'
import { parseMap } from '../src/journal/mapfile.js'
import { attachLoop, detachLoop } from './helpers/loop.js'
import { refuses } from './helpers/refuses.js'
import { logSkip, skipUnlessRoot } from './helpers/root.js'
import { cmpFiles, makeTempDir, removeTempDir, writeRandomFile } from './helpers/tmp.js'

const test = suite('a resume map knows its destinations: bytes it calls done are never looked for in another file')
const KiB = 1024
const MiB = 1024 * KiB
const SIZE = 8 * MiB
let client: CopyClient
let dir: string
let src: string
let dst: string
let map: string

test.before(async () => {
  client = await createClient({ threads: 2, chunkBytes: 256 * KiB })
})
test.after(async () => {
  await client.destroy()
})
test.before.each(() => {
  dir = makeTempDir('copy-map-dests')
  src = join(dir, 'src.img')
  dst = join(dir, 'dst.img')
  map = join(dir, 'copy.map')
  writeRandomFile(src, SIZE, 131)
})
test.after.each(() => {
  removeTempDir(dir)
})

/** A run of src to `to` with the map that stops after its first chunks: the map has some +, and some ?. */
async function partial(to: string[]): Promise<void> {
  const controller = new AbortController()
  const job = client.copy({ path: src }, to.map((path) => ({ path })), { map, mapIntervalMs: 50, signal: controller.signal })
  let seen = 0
  job.on('progress', () => {
    if (++seen === 6) controller.abort()
  })
  assert.ok((await job.result).cancelled, 'stopped part-way')
}

const destLine = (text: string) => /^# blockcopy dest-identity (.*)$/m.exec(text)?.[1]
const ino = (p: string) => `ino:${statSync(p).dev}:${statSync(p).ino}`

test('the map records each destination\'s identity, in order, as a line ddrescuelog ignores', async () => {
  const other = join(dir, 'other.img')
  const r = await client.copy({ path: src }, [{ path: dst }, { path: other, offset: 4096 }], { map }).result
  assert.is(r.ok, true)
  assert.is(destLine(readFileSync(map, 'utf8')), `${ino(dst)} ${ino(other)}`)
  assert.equal(parseMap(readFileSync(map, 'utf8'), map).destIdentity, [ino(dst), ino(other)])
})

test('resumed into another destination of sufficient size: MAP_MISMATCH naming it, nothing written; force takes it knowingly', async () => {
  await partial([dst])
  const elsewhere = join(dir, 'elsewhere.img')
  writeRandomFile(elsewhere, SIZE, 132)
  const before = readFileSync(elsewhere)
  const mapBefore = readFileSync(map, 'utf8')
  refuses(
    () => client.copy({ path: src }, [{ path: elsewhere }], { map }), 'MAP_MISMATCH',
    /^map: .*copy\.map is the map of a copy into other destinations: to\[0\]\.path is the file with inode \d+ on device \d+:\d+, where the map's destination 1 was the file with inode \d+ on device \d+:\d+: the \d+ bytes it records as done were written to other files\. Nothing was written/,
  )
  assert.ok(readFileSync(elsewhere).equals(before), 'the other destination is as it was')
  assert.is(readFileSync(map, 'utf8'), mapBefore, 'the map is as it was')
  const forced = await client.copy({ path: src }, [{ path: elsewhere }], { map, force: true }).result
  assert.is(forced.ok, true, JSON.stringify(forced.errors))
  assert.match(forced.map?.sourceNote ?? '', /^forced: to\[0\]\.path is the file with inode/)
  assert.is(destLine(readFileSync(map, 'utf8')), ino(elsewhere), 'the map names the destination it went on with')
})

test('the right destination resumes and ends byte-exact; so does a map without the line (an older one), which records it', async () => {
  await partial([dst])
  const r = await client.copy({ path: src }, [{ path: dst }], { map }).result
  assert.is(r.ok, true, JSON.stringify(r.errors))
  assert.is(r.map?.sourceNote, undefined)
  assert.ok(cmpFiles(src, dst))
  rmSync(map)
  await partial([join(dir, 'second.img')])
  const old = readFileSync(map, 'utf8').split('\n').filter((l) => !l.startsWith('# blockcopy dest-identity')).join('\n')
  writeFileSync(map, old)
  const again = await client.copy({ path: src }, [{ path: join(dir, 'second.img') }], { map }).result
  assert.is(again.ok, true, JSON.stringify(again.errors))
  assert.is(destLine(readFileSync(map, 'utf8')), ino(join(dir, 'second.img')))
})

test('a map with nothing done yet may go to another destination: there is nothing there to lose', async () => {
  const controller = new AbortController()
  controller.abort()
  // Saved once before the first write, with no byte done.
  const first = await client.copy({ path: src }, [{ path: dst }], { map, signal: controller.signal }).result
  assert.ok(first.cancelled)
  const elsewhere = join(dir, 'elsewhere.img')
  writeRandomFile(elsewhere, SIZE, 133)
  const r = await client.copy({ path: src }, [{ path: elsewhere }], { map }).result
  assert.is(r.ok, true, JSON.stringify(r.errors))
  assert.ok(cmpFiles(src, elsewhere))
})

test('a destination loop device detached and attached again under another number is the same destination: it resumes', async () => {
  const why = skipUnlessRoot('attaches loop devices')
  if (why) return logSkip(why)
  const backing = join(dir, 'dest.img')
  writeRandomFile(backing, SIZE, 134)
  const before = await attachLoop(backing)
  let after: string | null = null
  try {
    await partial([before])
    assert.is(destLine(readFileSync(map, 'utf8')), ino(backing), 'named by the file it writes')
    after = await attachLoop(backing)
    await detachLoop(before)
    const r = await client.copy({ path: src }, [{ path: after }], { map }).result
    assert.is(r.ok, true, JSON.stringify(r.errors))
  } finally {
    await detachLoop(before).catch(() => undefined)
    if (after) await detachLoop(after)
  }
  assert.ok(cmpFiles(src, backing))
})

test.run()
