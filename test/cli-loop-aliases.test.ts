import { execFileSync } from 'node:child_process'
import { linkSync, readFileSync, readdirSync, unlinkSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { readManifest } from '../src/index.js'
import { loadBackend } from '../src/io/index.js'
import { runCli } from './helpers/cli.js'
import { attachLoop, detachLoop } from './helpers/loop.js'
import { hasProgram } from './helpers/mounts.js'
import { logSkip, skipUnlessRoot } from './helpers/root.js'
import { makeTempDir, readRange, removeTempDir, writeRandomFile } from './helpers/tmp.js'

const test = suite('a loop device is the file it reads, a partition is its disk: no command writes what it reads through them')
const MiB = 1024 * 1024
const SIZE = 8 * MiB
let dir: string
let img: string
let bytes: Buffer

test.before.each(() => {
  dir = makeTempDir('cli-loop-aliases')
  img = join(dir, 'disk.img')
  writeRandomFile(img, SIZE, 111)
  bytes = readFileSync(img)
})
test.after.each(() => {
  removeTempDir(dir)
})

const cli = (args: string[], env?: NodeJS.ProcessEnv) => runCli([...args, '--progress', 'none'], env ? { env } : {})
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')

/** The image holds every byte it held before. */
function untouched(): void {
  assert.ok(readFileSync(img).equals(bytes), 'the image is byte for byte as it was')
}

test('hash LOOP -o FILE, LOOP backed by FILE: refused naming how, FILE untouched; through sysfs alone (no addon) too', async () => {
  const why = skipUnlessRoot('attaches a loop device')
  if (why) return logSkip(why)
  const dev = await attachLoop(img, { readOnly: true, offsetBytes: MiB })
  try {
    for (const env of [undefined, { BLOCKCOPY_IO: 'fs' }]) {
      const run = cli(['hash', dev, '-o', img], env)
      assert.is(run.status, 2, run.stderr)
      assert.match(run.stderr, new RegExp(`INVALID_ARGUMENT: -o: .*disk\\.img is FILE 1 ${esc(dev)} \\(${esc(dev)} is a loop device on ${esc(img)} from byte 1048576\\); a command never writes a file it reads`))
      untouched()
      assert.equal(readdirSync(dir), ['disk.img'], 'no manifest, no temporary file')
    }
  } finally {
    await detachLoop(dev)
  }
})

test('a loop device whose file was unlinked, and lives on under another name: that name is still its file', async () => {
  const why = skipUnlessRoot('attaches a loop device')
  if (why) return logSkip(why)
  if (loadBackend().info.kind !== 'native') return logSkip('needs the native addon (LOOP_GET_STATUS64): npm run build')
  const other = join(dir, 'other.img')
  linkSync(img, other)
  const dev = await attachLoop(img, { readOnly: true })
  try {
    // sysfs now says "disk.img (deleted)": only the loop driver knows the file is other.img.
    unlinkSync(img)
    const run = cli(['hash', dev, '-o', other])
    assert.is(run.status, 2, run.stderr)
    assert.match(run.stderr, /-o: .*other\.img is FILE 1 \/dev\/loop\d+ \(\/dev\/loop\d+ is a loop device on the file with inode \d+ on device \d+:\d+ \(no longer reachable by its name\) from byte 0\)/)
    assert.ok(readFileSync(other).equals(bytes), 'the file is byte for byte as it was')
  } finally {
    await detachLoop(dev)
  }
})

test('copy FILE LOOP, LOOP backed by FILE from 1 MiB: overlapping bytes refused, nothing written; bytes apart copied exactly', async () => {
  const why = skipUnlessRoot('attaches a loop device')
  if (why) return logSkip(why)
  const dev = await attachLoop(img, { offsetBytes: MiB })
  try {
    // The device's bytes 1..5 MiB are the file's 2..6 MiB, which its bytes 0..4 MiB overlap.
    const over = cli(['copy', img, dev, '--length', '4MiB', '--dst-offset', '1MiB', '--verify', 'readback'])
    assert.is(over.status, 2, over.stderr)
    assert.match(over.stderr, new RegExp(`INVALID_ARGUMENT: DST: bytes 1048576\\.\\.5242880 of ${esc(dev)} overlap SRC bytes 0\\.\\.4194304 of ${esc(img)}, which are the same bytes \\(${esc(dev)} is a loop device on ${esc(img)} from byte 1048576\\); a destination may not overlap its source`))
    untouched()
    // Device bytes 4..5 MiB are file bytes 5..6 MiB: apart from file bytes 0..1 MiB.
    const apart = cli(['copy', img, dev, '--length', '1MiB', '--dst-offset', '4MiB', '--verify', 'readback'])
    assert.is(apart.status, 0, apart.stderr)
  } finally {
    await detachLoop(dev)
  }
  const now = readFileSync(img)
  assert.ok(now.subarray(5 * MiB, 6 * MiB).equals(bytes.subarray(0, MiB)), 'the copy landed at file byte 5 MiB')
  assert.ok(now.subarray(0, 5 * MiB).equals(bytes.subarray(0, 5 * MiB)) && now.subarray(6 * MiB).equals(bytes.subarray(6 * MiB)), 'nothing else changed')
})

test('replicate FILE LOOP --range through the loop device onto its own source: refused, nothing written; ranges apart: done exactly', async () => {
  const why = skipUnlessRoot('attaches a loop device')
  if (why) return logSkip(why)
  const dev = await attachLoop(img, { offsetBytes: MiB })
  try {
    // A swap through two names: range 1 writes file bytes 6..7 MiB (device 5..6), which range 2 reads, and range 2 writes file bytes 1..2 MiB (device 0..1), which range 1 reads.
    const over = cli(['replicate', img, dev, '--range', '1MiB:5MiB:1MiB', '--range', '6MiB:0:1MiB', '--type', 'copy'])
    assert.is(over.status, 2, over.stderr)
    assert.match(over.stderr, new RegExp(`INVALID_ARGUMENT: --range 1: destination bytes 5242880\\.\\.6291456 of ${esc(dev)} overlap the source bytes 6291456\\.\\.7340032 of ${esc(img)} that --range 2 reads: they are the same storage \\(${esc(dev)} is a loop device on ${esc(img)} from byte 1048576\\)`))
    untouched()
    const apart = cli(['replicate', img, dev, '--range', '0:3MiB:1MiB', '--type', 'copy'])
    assert.is(apart.status, 0, apart.stderr)
  } finally {
    await detachLoop(dev)
  }
  const now = readFileSync(img)
  assert.ok(now.subarray(4 * MiB, 5 * MiB).equals(bytes.subarray(0, MiB)), 'the range landed at file byte 4 MiB')
  assert.ok(now.subarray(0, 4 * MiB).equals(bytes.subarray(0, 4 * MiB)) && now.subarray(5 * MiB).equals(bytes.subarray(5 * MiB)), 'nothing else changed')
})

test('a partition is its disk from its start: hash PART -o FILE refused through partition and loop device; copy DISK PART overlapping refused', async () => {
  const why = skipUnlessRoot('attaches a loop device and adds a partition to it')
  if (why) return logSkip(why)
  if (!hasProgram('addpart')) return logSkip('addpart is not installed (apt-get install util-linux)')
  const dev = await attachLoop(img, { partitions: true })
  try {
    // Partition 1: sectors 2048..6143 of the device, its bytes 1..3 MiB.
    execFileSync('addpart', [dev, '1', '2048', '4096'])
    const part = `${dev}p1`
    const hash = cli(['hash', part, '-o', img])
    assert.is(hash.status, 2, hash.stderr)
    assert.match(hash.stderr, new RegExp(`-o: .*disk\\.img is FILE 1 ${esc(part)} \\(${esc(part)} is a partition of ${esc(dev)} from byte 1048576; ${esc(dev)} is a loop device on ${esc(img)} from byte 0\\)`))
    const copy = cli(['copy', dev, part, '--length', '2MiB'])
    assert.is(copy.status, 2, copy.stderr)
    assert.match(copy.stderr, new RegExp(`DST: bytes 0\\.\\.2097152 of ${esc(part)} overlap SRC bytes 0\\.\\.2097152 of ${esc(dev)}, which are the same bytes \\(${esc(part)} is a partition of ${esc(dev)} from byte 1048576; ${esc(dev)} is a loop device on ${esc(img)} from byte 0\\)`))
    untouched()
    // Apart: the device's last MiB into the partition's first.
    const apart = cli(['copy', dev, part, '--src-offset', '7MiB', '--length', '1MiB'])
    assert.is(apart.status, 0, apart.stderr)
    assert.ok(readRange(part, 0, MiB).equals(bytes.subarray(7 * MiB)), 'the partition holds the copy')
  } finally {
    await detachLoop(dev)
  }
})

test('hash LOOP -o another file: written as usual, a manifest of the device', async () => {
  const why = skipUnlessRoot('attaches a loop device')
  if (why) return logSkip(why)
  const dev = await attachLoop(img, { readOnly: true, offsetBytes: MiB })
  try {
    const out = join(dir, 'disk.bcm')
    const run = cli(['hash', dev, '-o', out])
    assert.is(run.status, 0, run.stderr)
    assert.is((await readManifest(out)).sizeBytes, SIZE - MiB)
    untouched()
  } finally {
    await detachLoop(dev)
  }
})

test.run()
