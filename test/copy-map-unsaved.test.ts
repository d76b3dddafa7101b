import { mkdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { MapJournal } from '../src/journal/journal.js'
import { parseMap } from '../src/journal/mapfile.js'
import { makeTempDir, removeTempDir } from './helpers/tmp.js'

const test = suite('a resume map whose periodic save fails keeps what it had not saved')
let dir: string

test.before.each(() => {
  dir = makeTempDir('copy-map-unsaved')
})
test.after.each(() => {
  removeTempDir(dir)
})

test('more ranges than a call takes arguments stay pending through a failed save and are all + in the next', async () => {
  // An interval of a minute at 64 KiB chunks can finish this many chunks, and more.
  const ranges = 200_000
  const size = 4096
  const path = join(dir, 'copy.map')
  const journal = MapJournal.open(
    path, { offset: 0, length: ranges * size, sourceSize: ranges * size, destOffsets: [0] },
    { retryBad: false, commandLine: 'blockcopy copy src dst --map copy.map', intervalMs: 60_000, force: false },
  )
  await journal.start([])
  for (let i = 0; i < ranges; i++) journal.copied(i * size, size)

  // A directory where the map goes: the save's rename fails, as on a full or broken file system.
  rmSync(path)
  mkdirSync(path)
  // The periodic save the interval timer would run.
  await (journal as unknown as { flush(): Promise<void> }).flush()
  rmSync(path, { recursive: true })

  const summary = await journal.finish(true)
  assert.is(summary.saveError, undefined)
  assert.is(summary.rescuedBytes, ranges * size)
  assert.is(summary.pendingBytes, 0)
  const map = parseMap(readFileSync(path, 'utf8'), path)
  assert.equal(map.blocks, [{ pos: 0, size: ranges * size, status: '+' }])
})

test.run()
