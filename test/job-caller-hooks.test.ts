import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createClient, type CopyClient } from '../src/index.js'
import { refuses } from './helpers/refuses.js'
import { makeTempDir, removeTempDir, writeRandomFile } from './helpers/tmp.js'

/*
 * What a caller hands every job kind besides its data (an AbortSignal, a
 * kcopyd notify callback, its context) is checked in one place for all of
 * them: replicate once took any `signal` and failed only when it was used.
 */
const test = suite('every job kind checks its caller\'s signal and notify the same way, before anything is opened for writing')
const MiB = 1024 * 1024
let client: CopyClient
let dir: string

test.before(async () => {
  client = await createClient({ threads: 2, chunkBytes: MiB })
})
test.after(async () => {
  await client.destroy()
})
test.before.each(() => {
  dir = makeTempDir('job-caller-hooks')
})
test.after.each(() => {
  removeTempDir(dir)
})

const NOT_A_SIGNAL = { aborted: false } as unknown as AbortSignal
const NOT_A_FUNCTION = 5 as unknown as () => void

test('a signal that is not an AbortSignal is INVALID_ARGUMENT naming `signal` in copy, zero, replicate, hash and verify; nothing created', () => {
  const src = join(dir, 'src.img')
  const dst = join(dir, 'dst.img')
  writeRandomFile(src, 2 * MiB, 1)
  const says = /^signal: must be an AbortSignal$/
  refuses(() => client.copy({ path: src }, [{ path: dst }], { signal: NOT_A_SIGNAL }), 'INVALID_ARGUMENT', says)
  refuses(() => client.zero([{ path: dst, length: MiB }], { signal: NOT_A_SIGNAL }), 'INVALID_ARGUMENT', says)
  refuses(() => client.replicate(src, dst, [{ srcOffset: 0, dstOffset: 0, length: MiB }], { type: 'copy', signal: NOT_A_SIGNAL }), 'INVALID_ARGUMENT', says)
  refuses(() => client.hash(src, { signal: NOT_A_SIGNAL }), 'INVALID_ARGUMENT', says)
  refuses(() => client.verify(src, [src], { signal: NOT_A_SIGNAL }), 'INVALID_ARGUMENT', says)
  assert.not.ok(existsSync(dst), 'nothing created')
})

test('a notify that is not a function is INVALID_ARGUMENT naming `notify` in copy, zero and replicate; nothing created', () => {
  const src = join(dir, 'src.img')
  const dst = join(dir, 'dst.img')
  writeRandomFile(src, 2 * MiB, 2)
  const says = /^notify: must be a function/
  refuses(() => client.copy({ path: src }, [{ path: dst }], { notify: NOT_A_FUNCTION }), 'INVALID_ARGUMENT', says)
  refuses(() => client.zero([{ path: dst, length: MiB }], { notify: NOT_A_FUNCTION }), 'INVALID_ARGUMENT', says)
  refuses(() => client.replicate(src, dst, [{ srcOffset: 0, dstOffset: 0, length: MiB }], { type: 'copy', notify: NOT_A_FUNCTION }), 'INVALID_ARGUMENT', says)
  assert.not.ok(existsSync(dst), 'nothing created')
})

test('replicate honours its signal and hands notify its context, as copy does', async () => {
  const src = join(dir, 'src.img')
  const dst = join(dir, 'dst.img')
  writeRandomFile(src, 4 * MiB, 3)
  writeRandomFile(dst, 4 * MiB, 4)
  const before = readFileSync(dst)
  const cancelled = await client.replicate(src, dst, [{ srcOffset: 0, dstOffset: 0, length: 4 * MiB }], { type: 'copy', signal: AbortSignal.abort() }).result
  assert.is(cancelled.cancelled, true)
  assert.is(cancelled.completedBytes, 0)
  assert.ok(readFileSync(dst).equals(before), 'an aborted replicate writes nothing')
  const seen: unknown[] = []
  const context = { tag: 'r1' }
  const done = await client.replicate(src, dst, [{ srcOffset: 0, dstOffset: 0, length: 4 * MiB }], {
    type: 'copy', context, notify: (readErr, writeErr, ctx) => seen.push([readErr, writeErr, ctx]),
  }).result
  assert.is(done.ok, true, JSON.stringify(done.errors))
  assert.equal(seen, [[false, 0, context]])
  assert.ok(readFileSync(dst).equals(readFileSync(src)))
})

test.run()
