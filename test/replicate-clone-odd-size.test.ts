import { closeSync, existsSync, openSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createClient, type CopyClient } from '../src/index.js'
import type { ImageMount } from './helpers/mounts.js'
import { nativeBackend, withImageFs } from './helpers/native.js'
import { runCli } from './helpers/cli.js'
import { refuses } from './helpers/refuses.js'
import { makeTempDir, removeTempDir, writeRandomFile } from './helpers/tmp.js'

const test = suite('clones of a source whose size is not a multiple of the block')
const MiB = 1024 * 1024
const ODD = MiB + 123
const FIEMAP_EXTENT_SHARED = 0x2000
let client: CopyClient
let dir: string

test.before(async () => {
  client = await createClient({ threads: 2 })
})
test.after(async () => {
  await client.destroy()
})
test.before.each(() => {
  dir = makeTempDir('replicate-clone-odd')
})
test.after.each(() => {
  removeTempDir(dir)
})

/** Bytes of [0, size) of a file that FIEMAP reports as in shared extents. */
function sharedBytes(path: string): number {
  const fd = openSync(path, 'r')
  try {
    const map = nativeBackend().fiemap(fd, 0, statSync(path).size)
    let shared = 0
    for (let k = 0; k + 3 < map.length; k += 4) if (((map[k + 3] as number) & FIEMAP_EXTENT_SHARED) !== 0) shared += map[k + 2] as number
    return shared
  } finally {
    closeSync(fd)
  }
}

/** The same checks on XFS (reflink) and btrfs, each skipped with the package to install when its mkfs is missing. */
function onBoth(name: string, fn: (mnt: ImageMount) => Promise<void>): void {
  for (const kind of ['xfs', 'btrfs'] as const) test(`${name} (${kind})`, () => withImageFs(dir, kind, fn))
}

onBoth('a whole 1 MiB + 123 byte file clones into a new file, as cp --reflink does: byte-identical, every extent shared', async (mnt) => {
  const src = join(mnt.dir, 'odd.img')
  const dst = join(mnt.dir, 'odd-clone.img')
  writeRandomFile(src, ODD, 1)
  const r = await client.replicate(src, dst, [{ srcOffset: 0, dstOffset: 0, length: ODD }], { type: 'clone' }).result
  assert.is(r.ok, true, JSON.stringify(r.errors))
  assert.is(r.method, 'clone')
  assert.is(statSync(dst).size, ODD)
  assert.ok(readFileSync(dst).equals(readFileSync(src)))
  // The extents cover whole blocks: the partial last one counts whole.
  assert.ok(sharedBytes(dst) >= ODD, `shared bytes of the clone: ${sharedBytes(dst)}`)
  assert.ok(sharedBytes(src) >= ODD, `shared bytes of the source: ${sharedBytes(src)}`)

  // The command line too, and so does the source's partial block alone, to the end of an existing file.
  const tail = join(mnt.dir, 'tail.img')
  writeRandomFile(tail, 8192, 2)
  const run = runCli(['replicate', src, tail, '--range', `${MiB}:8192:123`, '--type', 'clone', '--json', '--progress', 'none'])
  assert.is(run.status, 0, run.stderr)
  assert.is((JSON.parse(run.stdout) as { method: string }).method, 'clone')
  assert.is(statSync(tail).size, 8192 + 123)
  assert.ok(readFileSync(tail).subarray(8192).equals(readFileSync(src).subarray(MiB)))
})

onBoth('a partial last block that would land inside the destination is refused before anything is written, and copied with fallback copy', async (mnt) => {
  const src = join(mnt.dir, 'odd.img')
  const dst = join(mnt.dir, 'big.img')
  writeRandomFile(src, ODD, 3)
  writeRandomFile(dst, 4 * MiB, 4)
  const before = readFileSync(dst)
  refuses(() => client.replicate(src, dst, [{ srcOffset: 0, dstOffset: 0, length: ODD }], { type: 'clone' }), 'NO_SUPPORT',
    /ranges\[0\] ends in the source's partial last block, which the kernel clones only to the end of the destination, and it would end at byte 1048699, inside the destination \(4194304 bytes\)/)
  assert.ok(readFileSync(dst).equals(before), 'the destination is untouched')
  const r = await client.replicate(src, dst, [{ srcOffset: 0, dstOffset: 0, length: ODD }], { type: 'clone', fallback: 'copy' }).result
  assert.is(r.ok, true, JSON.stringify(r.errors))
  assert.is(r.method, 'copy')
  const after = readFileSync(dst)
  assert.ok(after.subarray(0, ODD).equals(readFileSync(src)))
  assert.ok(after.subarray(ODD).equals(before.subarray(ODD)), 'the rest of the destination is as it was')
})

onBoth('a partial block is refused where the kernel refuses it: not at the source\'s end, or with another range past it', async (mnt) => {
  const src = join(mnt.dir, 'odd.img')
  writeRandomFile(src, ODD, 5)
  const fresh = join(mnt.dir, 'fresh.img')
  refuses(() => client.replicate(src, fresh, [{ srcOffset: 0, dstOffset: 0, length: MiB + 100 }], { type: 'clone' }), 'NO_SUPPORT',
    /ranges\[0\] is not aligned to the clone block size of \d+ bytes: only a range that ends at the end of the source \(1048699 bytes\) may end in a partial block/)
  // Cloned in parallel, the aligned range could extend the file first and leave the partial block inside it.
  refuses(() => client.replicate(src, fresh, [
    { srcOffset: 0, dstOffset: 0, length: ODD },
    { srcOffset: 0, dstOffset: 4 * MiB, length: MiB },
  ], { type: 'clone' }), 'NO_SUPPORT', /ranges\[0\] ends in the source's partial last block.*ranges\[1\] ends past it in the destination \(at byte 5242880, after 1048699\)/)
  assert.not.ok(existsSync(fresh), 'nothing created')
  // The same two ranges with the partial block last in the destination clone.
  const r = await client.replicate(src, fresh, [
    { srcOffset: 0, dstOffset: 2 * MiB, length: ODD },
    { srcOffset: 0, dstOffset: 0, length: MiB },
  ], { type: 'clone' }).result
  assert.is(r.ok, true, JSON.stringify(r.errors))
  assert.is(r.method, 'clone')
  const s = readFileSync(src)
  const d = readFileSync(fresh)
  assert.is(d.length, 2 * MiB + ODD)
  assert.ok(d.subarray(0, MiB).equals(s.subarray(0, MiB)))
  assert.ok(d.subarray(MiB, 2 * MiB).equals(Buffer.alloc(MiB)), 'the gap reads as zeros')
  assert.ok(d.subarray(2 * MiB).equals(s))
})

onBoth('every range that ends in the partial last block is checked, not only the last one: refused before anything is written', async (mnt) => {
  const src = join(mnt.dir, 'p5.img')
  writeRandomFile(src, 5000, 7)
  // The first range ends in the partial block inside the destination; the second is fine alone.
  const dst = join(mnt.dir, 'dd20.img')
  writeRandomFile(dst, 20000, 8)
  const before = readFileSync(dst)
  const inside = [{ srcOffset: 4096, dstOffset: 0, length: 904 }, { srcOffset: 0, dstOffset: 16384, length: 5000 }]
  refuses(() => client.replicate(src, dst, inside, { type: 'clone' }), 'NO_SUPPORT',
    /ranges\[0\] ends in the source's partial last block, which the kernel clones only to the end of the destination, and it would end at byte 904, inside the destination \(20000 bytes\)/)
  assert.ok(readFileSync(dst).equals(before), 'the destination is untouched')
  // On a new file the second range ends past the first.
  const fresh = join(mnt.dir, 'fresh.img')
  const past = [{ srcOffset: 4096, dstOffset: 0, length: 904 }, { srcOffset: 0, dstOffset: 8192, length: 5000 }]
  refuses(() => client.replicate(src, fresh, past, { type: 'clone' }), 'NO_SUPPORT',
    /ranges\[0\] ends in the source's partial last block.*ranges\[1\] ends past it in the destination \(at byte 13192, after 904\)/)
  assert.not.ok(existsSync(fresh), 'nothing created')
  // With fallback copy both are copied, byte for byte.
  const r = await client.replicate(src, dst, inside, { type: 'clone', fallback: 'copy', verify: 'readback' }).result
  assert.is(r.ok, true, JSON.stringify(r.errors))
  assert.is(r.method, 'copy')
  const s = readFileSync(src)
  const d = readFileSync(dst)
  assert.is(d.length, 21384)
  assert.ok(d.subarray(0, 904).equals(s.subarray(4096)))
  assert.ok(d.subarray(904, 16384).equals(before.subarray(904, 16384)), 'the bytes between as they were')
  assert.ok(d.subarray(16384).equals(s))
})

onBoth('within one file, the source\'s partial last block clones past the end unless another range would move the end first', async (mnt) => {
  const file = join(mnt.dir, 'one.img')
  writeRandomFile(file, ODD, 6)
  const original = readFileSync(file)
  refuses(() => client.replicate(file, file, [
    { srcOffset: MiB, dstOffset: 4 * MiB, length: 123 },
    { srcOffset: 0, dstOffset: 2 * MiB, length: MiB },
  ], { type: 'clone' }), 'NO_SUPPORT', /ranges\[1\] would move the end of this one file \(to byte 3145728\) if cloned first/)
  assert.ok(readFileSync(file).equals(original), 'untouched')
  const r = await client.replicate(file, file, [{ srcOffset: 0, dstOffset: 2 * MiB, length: ODD }], { type: 'clone' }).result
  assert.is(r.ok, true, JSON.stringify(r.errors))
  const after = readFileSync(file)
  assert.is(after.length, 2 * MiB + ODD)
  assert.ok(after.subarray(0, ODD).equals(original))
  assert.ok(after.subarray(2 * MiB).equals(original))
})

test('a file smaller than a block clones whole: the pair probe clones what the source has, not a whole block', () =>
  withImageFs(dir, 'xfs', async (mnt) => {
    const src = join(mnt.dir, 'small.img')
    writeFileSync(src, 'a hundred and twenty-three bytes'.repeat(4).slice(0, 123))
    const dst = join(mnt.dir, 'small-clone.img')
    const r = await client.replicate(src, dst, [{ srcOffset: 0, dstOffset: 0, length: 123 }], { type: 'clone' }).result
    assert.is(r.ok, true, JSON.stringify(r.errors))
    assert.is(r.method, 'clone')
    assert.ok(readFileSync(dst).equals(readFileSync(src)))
  }))

test.run()
