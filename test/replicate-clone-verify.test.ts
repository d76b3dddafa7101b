import { closeSync, openSync, readFileSync, truncateSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createClient, type CopyClient, type CopyResult } from '../src/index.js'
import type { ReplicateRange } from '../src/replicate/ranges.js'
import type { ImageMount } from './helpers/mounts.js'
import { withImageFs } from './helpers/native.js'
import { runCli } from './helpers/cli.js'
import { makeTempDir, removeTempDir, writeRandomFile } from './helpers/tmp.js'

const test = suite('replicate --type clone with verify checks the clones')
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
  dir = makeTempDir('replicate-clone-verify')
})
test.after.each(() => {
  removeTempDir(dir)
})

function onBoth(name: string, fn: (mnt: ImageMount) => Promise<void>): void {
  for (const kind of ['xfs', 'btrfs'] as const) test(`${name} (${kind})`, () => withImageFs(dir, kind, fn))
}

/** The digest a copy of the same ranges into a new file gives (verify hash). */
async function copyDigest(src: string, dst: string, ranges: ReplicateRange[]): Promise<string | null> {
  const r = await client.replicate(src, dst, ranges, { type: 'copy', verify: 'hash' }).result
  assert.is(r.ok, true, JSON.stringify(r.errors))
  return r.digest
}

/**
 * A clone of one 2 MiB range (1 MiB chunks: two check tasks) whose second
 * check cannot start until `meddle` has run: the client's rate is at its
 * least, so the first check takes 256 seconds of it, and it is lifted only
 * once the clone task has reported and `meddle` has changed the files.
 */
async function cloneThenMeddle(src: string, dst: string, verify: 'hash' | 'readback', meddle: () => void): Promise<CopyResult> {
  const gated = await createClient({ threads: 2, chunkBytes: MiB, rateBytesPerSec: 4096 })
  try {
    const job = gated.replicate(src, dst, [{ srcOffset: 0, dstOffset: 0, length: 2 * MiB }], { type: 'clone', verify })
    let meddled = false
    job.on('progress', (p) => {
      // The clone task carries no bytes of progress: the checks do.
      if (meddled || p.extent.length !== 0) return
      meddled = true
      meddle()
      queueMicrotask(() => gated.setRate(null))
    })
    const r = await job.result
    assert.ok(meddled, 'the clone task reported before the checks ended')
    return r
  } finally {
    await gated.destroy()
  }
}

/** Writes `bytes` over a file at `offset`. */
function overwrite(path: string, offset: number, bytes: Buffer): void {
  const fd = openSync(path, 'r+')
  try {
    writeSync(fd, bytes, 0, bytes.length, offset)
  } finally {
    closeSync(fd)
  }
}

onBoth('verify readback and hash read the cloned ranges back: the digest is the one a copy of them gives', async (mnt) => {
  const src = join(mnt.dir, 'src.img')
  writeRandomFile(src, 5 * MiB + 123, 1)
  // The partial last block too, at the destination's end.
  const ranges = [{ srcOffset: 0, dstOffset: 0, length: 2 * MiB }, { srcOffset: 2 * MiB, dstOffset: 8 * MiB, length: 3 * MiB + 123 }]
  const expected = await copyDigest(src, join(mnt.dir, 'copy.img'), ranges)
  assert.ok(expected)
  for (const verify of ['readback', 'hash'] as const) {
    const dst = join(mnt.dir, `clone-${verify}.img`)
    const r = await client.replicate(src, dst, ranges, { type: 'clone', verify }).result
    assert.is(r.ok, true, JSON.stringify(r.errors))
    assert.is(r.method, 'clone')
    assert.is(r.verify, verify)
    assert.is(r.digest, expected, `${verify}: the digest of the cloned bytes`)
    assert.is(r.completedBytes, 5 * MiB + 123)
    // Both read the source and the destination through O_DIRECT, all but the partial block.
    assert.ok(r.directBytes >= 2 * 5 * MiB, `${verify}: ${r.directBytes} bytes moved with O_DIRECT`)
    assert.equal(r.completed, [{ offset: 0, length: 2 * MiB }, { offset: 8 * MiB, length: 3 * MiB + 123 }], 'in the destination\'s offsets')
    const s = readFileSync(src)
    const d = readFileSync(dst)
    assert.ok(d.subarray(0, 2 * MiB).equals(s.subarray(0, 2 * MiB)))
    assert.ok(d.subarray(8 * MiB).equals(s.subarray(2 * MiB)))
  }
})

test('a cloned destination changed before its check is a VERIFY_MISMATCH for exactly the blocks that differ', () =>
  withImageFs(dir, 'xfs', async (mnt) => {
    const src = join(mnt.dir, 'src.img')
    const dst = join(mnt.dir, 'dst.img')
    writeRandomFile(src, 2 * MiB, 2)
    const r = await cloneThenMeddle(src, dst, 'readback', () => overwrite(dst, MiB + 5000, Buffer.alloc(100, 0xee)))
    assert.is(r.ok, false)
    assert.is(r.method, 'clone')
    assert.is(r.readErr, false)
    assert.is(r.writeErr, 1)
    assert.equal(r.errors.map((e) => [e.dest, e.offset, e.length, e.code]), [[0, MiB + 4096, 4096, 'VERIFY_MISMATCH']])
    // The first chunk checked out; the second did not.
    assert.equal(r.completed, [{ offset: 0, length: MiB }])
  }))

test('verify hash hashes the source\'s ranges and the clone\'s and compares them: a changed clone is a VERIFY_MISMATCH for the blocks that differ', () =>
  withImageFs(dir, 'xfs', async (mnt) => {
    const src = join(mnt.dir, 'src.img')
    writeRandomFile(src, 2 * MiB, 3)
    const expected = await copyDigest(src, join(mnt.dir, 'copy.img'), [{ srcOffset: 0, dstOffset: 0, length: 2 * MiB }])
    const dst = join(mnt.dir, 'dst.img')
    const r = await cloneThenMeddle(src, dst, 'hash', () => overwrite(dst, MiB + 5000, Buffer.alloc(100, 0xee)))
    assert.is(r.ok, false)
    assert.is(r.readErr, false)
    assert.is(r.writeErr, 1)
    assert.equal(r.errors.map((e) => [e.dest, e.offset, e.length, e.code]), [[0, MiB + 4096, 4096, 'VERIFY_MISMATCH']])
    assert.match(r.errors[0]?.message ?? '', /differ from the source \(xxh3 [0-9a-f]{16} of the clone's piece, [0-9a-f]{16} of the source's\)/)
    assert.equal(r.completed, [{ offset: 0, length: MiB }])
    // The digest is the source's, as a copy's: what the clone should hold.
    assert.is(r.digest, expected)
  }))

test('a source that cannot be read back for the check is a read error for exactly the bytes missing', () =>
  withImageFs(dir, 'xfs', async (mnt) => {
    const src = join(mnt.dir, 'src.img')
    const dst = join(mnt.dir, 'dst.img')
    writeRandomFile(src, 2 * MiB, 4)
    const r = await cloneThenMeddle(src, dst, 'readback', () => truncateSync(src, MiB + MiB / 2))
    assert.is(r.ok, false)
    assert.is(r.readErr, true)
    assert.equal(r.errors.map((e) => [e.dest, e.offset, e.length, e.code]), [[-1, MiB + MiB / 2, MiB / 2, 'SHORT_READ']])
    assert.equal(r.completed, [{ offset: 0, length: MiB }])
  }))

test('the command line checks clones with --verify readback and prints the digest a copy gives', () =>
  withImageFs(dir, 'xfs', (mnt) => {
    const src = join(mnt.dir, 'src.img')
    writeRandomFile(src, 3 * MiB, 5)
    const run = (type: string, verify: string, dst: string) => runCli(['replicate', src, join(mnt.dir, dst), '--range', '0:4MiB:3MiB', '--type', type, '--verify', verify, '--json', '--progress', 'none'])
    const copy = run('copy', 'hash', 'copy.img')
    assert.is(copy.status, 0, copy.stderr)
    const clone = run('clone', 'readback', 'clone.img')
    assert.is(clone.status, 0, clone.stderr)
    const c = JSON.parse(clone.stdout) as CopyResult
    assert.is(c.method, 'clone')
    assert.is(c.verify, 'readback')
    assert.is(c.digest, (JSON.parse(copy.stdout) as CopyResult).digest)
    // The summary says what was compared.
    const text = runCli(['replicate', src, join(mnt.dir, 'clone-hash.img'), '--range', '0:4MiB:3MiB', '--type', 'clone', '--verify', 'hash', '--progress', 'none'])
    assert.is(text.status, 0, text.stderr)
    assert.match(text.stdout, /^verify: hash \(each cloned range hashed in SRC and in DST, digests compared\), no differences$/m)
  }))

test.run()
