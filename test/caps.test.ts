import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { runCli } from './helpers/cli.js'

import { createClient } from '../src/client.js'
import { BlockcopyError } from '../src/errors.js'
import { FsBackend } from '../src/io/fs-backend.js'
import { capabilitiesOf, probeCapabilities, replicateBlockSize, type Capabilities } from '../src/caps/caps.js'
import { mountFaultFsIn } from './helpers/faultfs.js'
import { attachLoop, detachLoop } from './helpers/loop.js'
import { mountTmpfs, unmount } from './helpers/mounts.js'
import { logSkip, skipUnlessRoot } from './helpers/root.js'
import { fsTypeOf, readRange, writeRandomFile } from './helpers/tmp.js'
import { nativeBackend, withTempDir, withImageFs } from './helpers/native.js'

const MiB = 1024 * 1024

/** Probes `names` in dir (existing or not) and checks the directory holds the same entries afterwards. */
function probeIn(dir: string, names: string[]): Capabilities[] {
  const before = readdirSync(dir).sort()
  const caps = capabilitiesOf(nativeBackend(), names.map((n) => join(dir, n)))
  assert.equal(readdirSync(dir).sort(), before, 'the probe left nothing behind')
  return caps
}

const cli = (args: string[]) => runCli(args)

test('on ext4: direct I/O aligned to 512 (statx), no clone (EOPNOTSUPP), copy_file_range, zero range and holes', async () => {
  await withTempDir('caps', (dir) => {
    if (fsTypeOf(dir) !== 'ext4') return logSkip(`temp dir is on ${fsTypeOf(dir)}, not ext4`)
    writeRandomFile(join(dir, 'f'), 10_000, 1)
    for (const c of probeIn(dir, ['f', 'missing'])) {
      assert.is(c.kind, 'file')
      assert.equal(c.direct, { supported: true, memAlignBytes: 512, offsetAlignBytes: 512, alignSource: 'statx DIOALIGN' })
      assert.is(c.clone.supported, false)
      assert.match(c.clone.supported ? '' : c.clone.reason, /^EOPNOTSUPP from ioctl FICLONERANGE/)
      assert.equal(c.copyFileRange, { supported: true })
      assert.equal(c.zeroOut, { supported: true, method: 'FALLOC_FL_ZERO_RANGE' })
      assert.equal(c.sparse, { supported: true })
      assert.match(c.checkpoint.supported ? '' : c.checkpoint.reason, /^no clone: EOPNOTSUPP/)
      assert.equal([c.logicalBlockBytes, c.physicalBlockBytes, c.replicateBlockBytes], [512, 4096, 512])
      assert.equal(c.io, { kind: 'native' })
    }
  })
})

test('a file still to be created is probed through its directory: size 0, exists false, nothing created', async () => {
  await withTempDir('caps', (dir) => {
    const [c] = probeIn(dir, ['new.img'])
    assert.equal([c?.exists, c?.kind, c?.sizeBytes, c?.physicalBlockBytes], [false, 'file', 0, statSync(dir).blksize])
    assert.is(c?.copyFileRange.supported, true)
  })
})

test('on XFS with reflink: clone works with 4096-byte blocks, and replicateBlockSize is 4096', async () => {
  await withTempDir('caps', (dir) => withImageFs(dir, 'xfs', async (mnt) => {
    writeRandomFile(join(mnt.dir, 'f'), 3 * MiB, 2)
    const [file, missing] = probeIn(mnt.dir, ['f', 'new'])
    for (const c of [file, missing]) {
      assert.equal(c?.clone, { supported: true, blockBytes: 4096 })
      assert.is(c?.replicateBlockBytes, 4096)
      assert.equal(c?.direct, { supported: true, memAlignBytes: 512, offsetAlignBytes: 512, alignSource: 'statx DIOALIGN' })
      assert.equal([c?.copyFileRange.supported, c?.zeroOut.method, c?.sparse.supported], [true, 'FALLOC_FL_ZERO_RANGE', true])
      assert.equal(c?.checkpoint, { supported: true })
    }
    assert.is(file?.sizeBytes, 3 * MiB)
    assert.is(replicateBlockSize(nativeBackend(), join(mnt.dir, 'f')), 4096)
    const client = await createClient({ threads: 1 })
    try {
      assert.is(client.replicateBlockSize(join(mnt.dir, 'f')), 4096)
      assert.equal(client.capabilities([join(mnt.dir, 'f')]), [file])
    } finally {
      await client.destroy()
    }
  }))
})

// btrfs on 6.18 reports no statx DIOALIGN, so the alignment is its block size.
test('on btrfs: clone with 4096-byte blocks, direct I/O aligned to the file system block', async () => {
  await withTempDir('caps', (dir) => withImageFs(dir, 'btrfs', (mnt) => {
    const [c] = probeIn(mnt.dir, ['new'])
    assert.equal(c?.clone, { supported: true, blockBytes: 4096 })
    assert.equal(c?.direct, { supported: true, memAlignBytes: 4096, offsetAlignBytes: 4096, alignSource: 'f_bsize' })
    assert.equal([c?.copyFileRange.supported, c?.zeroOut.method, c?.sparse.supported, c?.replicateBlockBytes], [true, 'FALLOC_FL_ZERO_RANGE', true, 4096])
    assert.equal(c?.checkpoint, { supported: true })
  }))
})

test('on tmpfs: no clone and no zero range (EOPNOTSUPP: zeros are written), but copy_file_range and holes', async () => {
  const why = skipUnlessRoot('mounts a tmpfs')
  if (why) return logSkip(why)
  await withTempDir('caps', async (dir) => {
    const mnt = join(dir, 'tmpfs')
    await mountTmpfs(mnt, 16 * MiB)
    try {
      const [c] = probeIn(mnt, ['new'])
      assert.match(c?.clone.supported === false ? c.clone.reason : '', /^EOPNOTSUPP from ioctl FICLONERANGE/)
      assert.equal([c?.zeroOut.supported, c?.zeroOut.method], [false, 'write zeros'])
      assert.equal([c?.copyFileRange.supported, c?.sparse.supported, c?.direct.supported, c?.replicateBlockBytes], [true, true, true, 512])
    } finally {
      await unmount(mnt)
    }
  })
})

test('a loop block device: its own size and sector sizes, BLKZEROOUT, no clone, copy_file_range or holes, and no byte changed', async () => {
  const why = skipUnlessRoot('attaches loop devices')
  if (why) return logSkip(why)
  await withTempDir('caps', async (dir) => {
    const image = join(dir, 'image')
    writeRandomFile(image, 6 * MiB, 3)
    const device = await attachLoop(image, { sectorBytes: 4096 })
    try {
      const before = readRange(device, 0, 6 * MiB)
      const c = probeCapabilities(nativeBackend(), device)
      assert.equal(
        [c.kind, c.exists, c.sizeBytes, c.logicalBlockBytes, c.replicateBlockBytes],
        ['blockDevice', true, 6 * MiB, 4096, 4096],
      )
      assert.is(c.physicalBlockBytes, Number(readRange(`/sys/block/${basename(device)}/queue/physical_block_size`, 0, 32).toString()))
      assert.equal(c.direct, { supported: true, memAlignBytes: 4096, offsetAlignBytes: 4096, alignSource: 'BLKSSZGET' })
      assert.equal(c.clone, { supported: false, blockBytes: 0, reason: 'block devices have no reflink' })
      assert.match(c.copyFileRange.supported ? '' : c.copyFileRange.reason, /^EINVAL from copy_file_range/)
      assert.equal(c.zeroOut, { supported: true, method: 'BLKZEROOUT' })
      assert.is(c.sparse.supported, false)
      assert.equal(c.checkpoint, { supported: false, reason: 'a block device cannot be cloned' })
      assert.ok(readRange(device, 0, 6 * MiB).equals(before))
    } finally {
      await detachLoop(device)
    }
    const readOnly = await attachLoop(image, { readOnly: true })
    try {
      const z = probeCapabilities(nativeBackend(), readOnly).zeroOut
      assert.match(z.supported ? '' : z.reason, /read-only/)
    } finally {
      await detachLoop(readOnly)
    }
  })
})

test('bad paths are refused before any probe: a missing directory is NOT_FOUND_VOLUME naming the path', async () => {
  await withTempDir('caps', async (dir) => {
    mkdirSync(join(dir, 'sub'))
    const client = await createClient({ threads: 1 })
    try {
      const lost = join(dir, 'no-dir', 'f')
      const err = (() => {
        try {
          client.capabilities([join(dir, 'ok'), lost])
        } catch (e) {
          return e
        }
        return null
      })()
      assert.instance(err, BlockcopyError)
      assert.equal([(err as BlockcopyError).code, (err as BlockcopyError).argument], ['NOT_FOUND_VOLUME', 'paths[1]'])
      assert.ok((err as Error).message.includes(lost))
      assert.throws(() => client.replicateBlockSize(lost), (e: BlockcopyError) => e.code === 'NOT_FOUND_VOLUME')
      assert.throws(() => client.capabilities([join(dir, 'sub')]), (e: BlockcopyError) => e.code === 'INVALID_ARGUMENT')
    } finally {
      await client.destroy()
    }
    assert.equal(readdirSync(dir), ['sub'])
  })
})

test('with the fs backend every offload is unsupported, saying the native addon is not loaded', async () => {
  await withTempDir('caps', (dir) => {
    writeFileSync(join(dir, 'f'), Buffer.alloc(5000, 1))
    const c = probeCapabilities(new FsBackend('test: no addon'), join(dir, 'f'))
    assert.equal([c.sizeBytes, c.replicateBlockBytes, c.io.kind, c.zeroOut.method], [5000, 512, 'fs', 'write zeros'])
    for (const s of [c.direct, c.clone, c.copyFileRange, c.zeroOut, c.sparse, c.checkpoint]) {
      assert.match(s.supported ? '' : s.reason, /native addon is not loaded \(test: no addon\)/)
    }
  })
})

test('on a FUSE file system without O_TMPFILE the probes say why not and leave nothing behind', async () => {
  await withTempDir('caps', async (dir) => {
    const fuse = await mountFaultFsIn(dir)
    if (typeof fuse === 'string') return logSkip(fuse)
    try {
      const [c] = probeIn(fuse.mountDir, ['new'])
      assert.is(c?.clone.supported, false)
      assert.ok(c?.clone.supported === false && c.clone.reason.length > 0)
      assert.equal(readdirSync(fuse.backingDir), [])
    } finally {
      await fuse.unmount()
    }
  })
})

test('blockcopy caps --json prints the same answers as the library; the table names each path; bad input exits 2', async () => {
  const why = skipUnlessRoot('attaches a loop device and mounts XFS')
  if (why) return logSkip(why)
  await withTempDir('caps', (dir) => withImageFs(dir, 'xfs', async (mnt) => {
    writeRandomFile(join(dir, 'image'), 2 * MiB, 4)
    writeRandomFile(join(mnt.dir, 'f'), MiB, 5)
    const device = await attachLoop(join(dir, 'image'))
    try {
      const paths = [join(dir, 'image'), join(mnt.dir, 'f'), join(mnt.dir, 'new'), device]
      const run = cli(['caps', ...paths, '--json'])
      assert.is(run.status, 0, run.stderr)
      assert.equal(JSON.parse(run.stdout), capabilitiesOf(nativeBackend(), paths))
      const table = cli(['caps', join(mnt.dir, 'f'), device])
      assert.is(table.status, 0, table.stderr)
      assert.match(table.stdout, new RegExp(`^${join(mnt.dir, 'f')}  \\(file\\)\\n`))
      assert.match(table.stdout, /clone \(reflink\) +yes {2}block 4096 B/)
      assert.match(table.stdout, /clone \(reflink\) +no {3}block devices have no reflink/)
      assert.match(table.stdout, /checkpoint +yes {2}copy --since --baseline reads only what changed/)
      const bad = cli(['caps', join(dir, 'nope', 'f'), '--json'])
      assert.is(bad.status, 2)
      assert.equal(JSON.parse(bad.stdout)[0].error.code, 'NOT_FOUND_VOLUME')
      assert.match(bad.stderr, /PATH 1: directory .*nope does not exist/)
    } finally {
      await detachLoop(device)
    }
  }))
})

test.run()
