import { copyFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createClient } from '../src/client.js'
import { BlockcopyError } from '../src/errors.js'
import { runCli } from './helpers/cli.js'
import { attachLoop, detachLoop } from './helpers/loop.js'
import { logSkip, skipUnlessRoot } from './helpers/root.js'
import { cmpFiles, makeTempDir, readRange, removeTempDir, writeRandomFile } from './helpers/tmp.js'

const test = suite('zero of a whole block device needs --length or --all')
const MiB = 1024 * 1024
const SIZE = 8 * MiB
const OFFSET = 4097
let dir: string
let original: string
let device: string | null

test.before.each(() => {
  dir = makeTempDir('zero-whole-device-')
  original = join(dir, 'original.img')
  writeRandomFile(original, SIZE, 7)
  device = null
})
test.after.each(async () => {
  if (device) await detachLoop(device)
  removeTempDir(dir)
})

/** A loop device over a copy of `original`; null (with the reason logged) when not root. */
async function loopDevice(): Promise<string | null> {
  const why = skipUnlessRoot('attaches a loop device')
  if (why) {
    logSkip(why)
    return null
  }
  const backing = join(dir, 'backing.img')
  copyFileSync(original, backing)
  device = await attachLoop(backing)
  return device
}

/** The device holds the original's bytes except [offset, offset + length), which are zeros. */
function assertZeroed(dev: string, offset: number, length: number): void {
  assert.ok(cmpFiles(original, dev, { length: offset }), 'bytes before the range changed')
  assert.ok(readRange(dev, offset, length).equals(Buffer.alloc(length)), 'the range is not all zeros')
  assert.ok(cmpFiles(original, dev, { aOffset: offset + length, bOffset: offset + length }), 'bytes after the range changed')
}

test('zero DST on a block device without --length is refused naming DST and the rule, exit 2, and the device is unchanged', async () => {
  const dev = await loopDevice()
  if (!dev) return
  for (const extra of [[], ['--dst-offset', '1MiB'], ['--json'], ['--detach']]) {
    const run = runCli(['zero', dev, ...extra], { env: { BLOCKCOPY_STATE_DIR: join(dir, 'state') } })
    assert.is(run.status, 2, `${extra.join(' ')}: ${run.stdout}${run.stderr}`)
    assert.match(run.stderr, new RegExp(`^blockcopy: INVALID_ARGUMENT: DST: ${dev} is a block device; give --length, or --all to zero it from --dst-offset to its end\\n`))
    if (extra.includes('--json')) assert.is((JSON.parse(run.stdout) as { error: { code: string } }).error.code, 'INVALID_ARGUMENT')
  }
  // Among several destinations, the device is named by its number.
  const file = join(dir, 'f.img')
  copyFileSync(original, file)
  const two = runCli(['zero', file, dev])
  assert.is(two.status, 2, two.stderr)
  assert.match(two.stderr, new RegExp(`INVALID_ARGUMENT: DST 2: ${dev} is a block device`))
  assert.ok(cmpFiles(original, file), 'the file was not zeroed either')
  // --all and --length together are refused as well.
  const both = runCli(['zero', dev, '--all', '--length', '1MiB'])
  assert.is(both.status, 2, both.stderr)
  assert.match(both.stderr, /INVALID_ARGUMENT: --all: zeroes each DST to its end; give --all or --length, not both/)
  assert.ok(cmpFiles(original, dev), 'nothing written')
})

test('zero DST --all zeroes a block device from --dst-offset to its end, and --length still zeroes just that', async () => {
  const dev = await loopDevice()
  if (!dev) return
  const length = runCli(['zero', dev, '--dst-offset', String(OFFSET), '--length', '1MiB', '--json'])
  assert.is(length.status, 0, length.stderr)
  assert.is((JSON.parse(length.stdout) as { completedBytes: number }).completedBytes, MiB)
  assertZeroed(dev, OFFSET, MiB)

  const all = runCli(['zero', dev, '--dst-offset', String(2 * MiB + 1), '--all', '--json'])
  assert.is(all.status, 0, all.stderr)
  assert.is((JSON.parse(all.stdout) as { completedBytes: number }).completedBytes, SIZE - 2 * MiB - 1)
  // The first zeroed range, then the original up to 2 MiB + 1, then zeros to the end.
  assert.ok(readRange(dev, OFFSET, MiB).equals(Buffer.alloc(MiB)))
  assert.ok(cmpFiles(original, dev, { aOffset: OFFSET + MiB, bOffset: OFFSET + MiB, length: 2 * MiB + 1 - OFFSET - MiB }))
  assert.ok(readRange(dev, 2 * MiB + 1, SIZE).equals(Buffer.alloc(SIZE - 2 * MiB - 1)))
})

test('a file keeps its default: without --length, zero takes the rest of it, and --all says the same', () => {
  for (const extra of [[], ['--all']]) {
    const file = join(dir, 'f.img')
    copyFileSync(original, file)
    const run = runCli(['zero', file, '--dst-offset', String(OFFSET), ...extra])
    assert.is(run.status, 0, run.stderr)
    assert.is(statSync(file).size, SIZE)
    assert.ok(cmpFiles(original, file, { length: OFFSET }))
    assert.ok(readRange(file, OFFSET, SIZE).equals(Buffer.alloc(SIZE - OFFSET)))
  }
})

test('client.zero of a device with no length needs all: true, and then zeroes it to its end', async () => {
  const dev = await loopDevice()
  if (!dev) return
  const client = await createClient({ threads: 2 })
  try {
    const refused = (fn: () => unknown): BlockcopyError => {
      try {
        fn()
      } catch (err) {
        assert.instance(err, BlockcopyError)
        return err as BlockcopyError
      }
      return assert.unreachable('refused') as never
    }
    const none = refused(() => client.zero([{ path: dev, offset: OFFSET }]))
    assert.is(none.code, 'INVALID_ARGUMENT')
    assert.is(none.argument, 'to[0]')
    assert.is(none.message, `to[0]: ${dev} is a block device; zeroing it to its end (${SIZE - OFFSET} bytes from offset ${OFFSET}) takes \`all: true\`, or give a \`length\``)
    assert.is(refused(() => client.zero([{ path: dev }], { all: true, length: 4096 })).argument, 'all')
    assert.is(refused(() => client.zero([{ path: dev, length: 4096 }], { all: true })).argument, 'to[0].length')
    assert.ok(cmpFiles(original, dev), 'nothing written')

    const r = await client.zero([{ path: dev, offset: OFFSET }], { all: true }).result
    assert.is(r.ok, true, JSON.stringify(r.errors))
    assert.is(r.completedBytes, SIZE - OFFSET)
    assertZeroed(dev, OFFSET, SIZE - OFFSET)
  } finally {
    await client.destroy()
  }
})

test.run()
