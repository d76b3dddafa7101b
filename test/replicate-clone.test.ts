import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync, statfsSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createClient, type CopyClient } from '../src/index.js'
import { hasProgram, mountBtrfs, mountXfs, type ImageMount } from './helpers/mounts.js'
import { logSkip, skipUnlessRoot } from './helpers/root.js'
import { fsTypeOf, makeTempDir, removeTempDir, writeRandomFile } from './helpers/tmp.js'
import { refuses } from './helpers/refuses.js'

const test = suite('replicate with type clone')
const MiB = 1024 * 1024
let client: CopyClient
let dir: string
let xfs: ImageMount | string

test.before(async () => {
  client = await createClient({ threads: 2 })
  dir = makeTempDir('replicate-clone-')
  const why = skipUnlessRoot('mounts an XFS image on a loop device')
  xfs = why ?? (hasProgram('mkfs.xfs') ? await mountXfs(join(dir, 'xfs.img'), join(dir, 'xfs'), 400 * MiB) : 'mkfs.xfs is missing (xfsprogs)')
})
test.after(async () => {
  if (typeof xfs !== 'string') await xfs.unmount()
  removeTempDir(dir)
  await client.destroy()
})

/** Extents of a file that xfs_io's fiemap marks shared (flag 0x2000). */
function sharedExtents(file: string): number {
  const out = execFileSync('xfs_io', ['-c', 'fiemap -v', file], { encoding: 'utf8' })
  return out.split('\n').filter((l) => /^\s*\d+:/.test(l) && (parseInt(l.trim().split(/\s+/).pop() ?? '0', 16) & 0x2000) !== 0).length
}

test('a clone on XFS with reflink shares the extents, as fiemap reports, and reads back byte-exact', () => {
  if (typeof xfs === 'string') return logSkip(xfs)
  const src = join(xfs.dir, 'src.img')
  const dst = join(xfs.dir, 'dst.img')
  writeRandomFile(src, 16 * MiB, 1)
  return client.replicate(src, dst, [
    { srcOffset: 0, dstOffset: 4 * MiB, length: 8 * MiB },
    { srcOffset: 12 * MiB, dstOffset: 0, length: 4096 },
  ], { type: 'clone' }).result.then((r) => {
    assert.is(r.ok, true, JSON.stringify(r.errors))
    assert.is(r.method, 'clone')
    assert.ok(sharedExtents(dst) >= 1, 'the destination has shared extents')
    assert.ok(sharedExtents(src) >= 1, 'and so has the source')
    const s = readFileSync(src)
    const d = readFileSync(dst)
    assert.ok(d.subarray(4 * MiB, 12 * MiB).equals(s.subarray(0, 8 * MiB)))
    assert.ok(d.subarray(0, 4096).equals(s.subarray(12 * MiB, 12 * MiB + 4096)))
  })
})

test('a clone whose sync fails is not ok: the failure names every cloned range', async () => {
  const why = skipUnlessRoot('shuts down an XFS image')
  if (why) return logSkip(why)
  const own = await mountXfs(join(dir, 'xfs-shut.img'), join(dir, 'xfs-shut'), 400 * MiB)
  if (typeof own === 'string') return logSkip(own)
  try {
    const src = join(own.dir, 'src.img')
    writeRandomFile(src, 2 * MiB, 9)
    const job = client.replicate(src, join(own.dir, 'dst.img'), [
      { srcOffset: 0, dstOffset: 0, length: MiB },
      { srcOffset: MiB, dstOffset: 4 * MiB, length: MiB },
    ], { type: 'clone' })
    // The file system goes away once the clones are done, before the sync.
    let shut = false
    job.on('progress', (p) => {
      if (shut || p.doneBytes < p.totalBytes) return
      shut = true
      execFileSync('xfs_io', ['-x', '-c', 'shutdown', own.dir])
    })
    const r = await job.result
    assert.ok(shut, 'the file system was shut down')
    assert.is(r.ok, false, 'not ok')
    assert.is(r.writeErr, 1)
    const failed = r.errors.filter((e) => e.dest === 0).map((e) => [e.offset, e.length])
    assert.equal(failed, [[0, MiB], [4 * MiB, MiB]], JSON.stringify(r.errors))
  } finally {
    await own.unmount()
  }
})

test('a clone into an existing destination reached through a symlink probes beside the file, not the link', async () => {
  if (typeof xfs === 'string') return logSkip(xfs)
  const src = join(xfs.dir, 'src5.img')
  const target = join(xfs.dir, 'dst5.img')
  writeRandomFile(src, MiB, 12)
  writeRandomFile(target, MiB, 13)
  const link = join(dir, 'dst5.lnk')
  symlinkSync(target, link)
  const r = await client.replicate(src, link, [{ srcOffset: 0, dstOffset: 0, length: 64 * 1024 }], { type: 'clone' }).result
  assert.is(r.ok, true, JSON.stringify(r.errors))
  assert.is(r.method, 'clone')
  assert.ok(readFileSync(target).subarray(0, 64 * 1024).equals(readFileSync(src).subarray(0, 64 * 1024)))
})

test('a clone whose ranges are not aligned to the clone block size is NO_SUPPORT naming the range', () => {
  if (typeof xfs === 'string') return logSkip(xfs)
  const src = join(xfs.dir, 'src2.img')
  const dst = join(xfs.dir, 'dst2.img')
  writeRandomFile(src, MiB, 2)
  refuses(() => client.replicate(src, dst, [{ srcOffset: 0, dstOffset: 0, length: 4096 }, { srcOffset: 512, dstOffset: 8192, length: 4096 }], { type: 'clone' }),
    'NO_SUPPORT', /type: cannot clone: ranges\[1\] is not aligned to the clone block size of 4096 bytes/)
  assert.not.ok(existsSync(dst))
})

test('a clone across two file systems is NO_SUPPORT, and falls back to a copy when asked', async () => {
  if (typeof xfs === 'string') return logSkip(xfs)
  const src = join(xfs.dir, 'src3.img')
  const dst = join(dir, 'other-fs.img')
  writeRandomFile(src, MiB, 3)
  // The destination's file system is asked: this one cannot clone at all (ext4), or not from another (EXDEV).
  refuses(() => client.replicate(src, dst, [{ srcOffset: 0, dstOffset: 0, length: MiB }], { type: 'clone' }), 'NO_SUPPORT', /cannot (clone \(EOPNOTSUPP|be cloned into .*EXDEV)/)
  assert.not.ok(existsSync(dst))
  const r = await client.replicate(src, dst, [{ srcOffset: 0, dstOffset: 0, length: MiB }], { type: 'clone', fallback: 'copy', verify: 'readback' }).result
  assert.is(r.ok, true)
  assert.is(r.method, 'copy')
  assert.ok(readFileSync(dst).equals(readFileSync(src)))
})

test('a clone on btrfs shares the extents (free space does not shrink by the cloned size) and is byte-exact', async () => {
  const why = skipUnlessRoot('mounts a btrfs image on a loop device')
  if (why) return logSkip(why)
  if (!hasProgram('mkfs.btrfs')) return logSkip('mkfs.btrfs is missing (btrfs-progs)')
  const btrfs = await mountBtrfs(join(dir, 'btrfs.img'), join(dir, 'btrfs'), 512 * MiB)
  if (typeof btrfs === 'string') return logSkip(btrfs)
  try {
    const src = join(btrfs.dir, 'src.img')
    const dst = join(btrfs.dir, 'dst.img')
    writeRandomFile(src, 64 * MiB, 5)
    execFileSync('sync')
    const free = () => statfsSync(btrfs.dir).bfree * statfsSync(btrfs.dir).bsize
    const before = free()
    const r = await client.replicate(src, dst, [{ srcOffset: 0, dstOffset: 0, length: 64 * MiB }], { type: 'clone' }).result
    execFileSync('sync')
    assert.is(r.ok, true, JSON.stringify(r.errors))
    assert.is(r.method, 'clone')
    assert.ok(before - free() < 16 * MiB, `free space fell by ${before - free()} bytes for a 64 MiB clone`)
    assert.ok(readFileSync(dst).equals(readFileSync(src)))

    // Into a subvolume: another st_dev, the same file system, and clones work (cp --reflink does).
    execFileSync('btrfs', ['subvolume', 'create', join(btrfs.dir, 'sv')], { stdio: 'ignore' })
    const inSub = join(btrfs.dir, 'sv', 'dst.img')
    const sv = await client.replicate(src, inSub, [{ srcOffset: 0, dstOffset: 0, length: MiB }], { type: 'clone' }).result
    assert.is(sv.ok, true, JSON.stringify(sv.errors))
    assert.is(sv.method, 'clone')
    assert.ok(readFileSync(inSub).equals(readFileSync(src).subarray(0, MiB)))

    // A No_COW source shares nothing with a copy-on-write file: refused before anything, and the fallback copies.
    const nocow = join(btrfs.dir, 'nocow.img')
    writeFileSync(nocow, '')
    execFileSync('chattr', ['+C', nocow])
    writeFileSync(nocow, readFileSync(src).subarray(0, MiB))
    const cow = join(btrfs.dir, 'cow.img')
    refuses(() => client.replicate(nocow, cow, [{ srcOffset: 0, dstOffset: 0, length: MiB }], { type: 'clone' }), 'NO_SUPPORT', /nocow\.img cannot be cloned into .*cow\.img \(EINVAL from ioctl FICLONERANGE: .*No_COW/)
    assert.not.ok(existsSync(cow), 'nothing created')
    const fell = await client.replicate(nocow, cow, [{ srcOffset: 0, dstOffset: 0, length: MiB }], { type: 'clone', fallback: 'copy' }).result
    assert.is(fell.ok, true, JSON.stringify(fell.errors))
    assert.is(fell.method, 'copy')
    assert.ok(readFileSync(cow).equals(readFileSync(nocow)))
  } finally {
    await btrfs.unmount()
  }
})

test('on ext4, which cannot clone, type clone is NO_SUPPORT with the reason and creates nothing', () => {
  if (fsTypeOf(dir) !== 'ext4') return logSkip(`the temporary directory is on ${fsTypeOf(dir)}, not ext4`)
  const src = join(dir, 'src4.img')
  const dst = join(dir, 'dst4.img')
  writeRandomFile(src, MiB, 4)
  refuses(() => client.replicate(src, dst, [{ srcOffset: 0, dstOffset: 0, length: MiB }], { type: 'clone' }), 'NO_SUPPORT', /cannot clone: .*(EOPNOTSUPP|not supported)/i)
  assert.not.ok(existsSync(dst))
})

test.run()
