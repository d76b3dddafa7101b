import { spawnSync } from 'node:child_process'
import { closeSync, constants, fdatasyncSync, mkdirSync, openSync, readSync, statSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'

import { mountFaultFs, type FaultFs, type FaultRule } from './helpers/faultfs.js'
import { logSkip } from './helpers/root.js'
import { cmpFiles, makeTempDir, readRange, removeTempDir, writeRandomFile } from './helpers/tmp.js'

const KiB = 1024

/** Runs fn with faultfs mounted over a fresh backing dir, or logs why it cannot. */
async function withFaultFs(rules: FaultRule[], fn: (fs: FaultFs, dir: string) => Promise<void> | void): Promise<void> {
  const dir = makeTempDir('faultfs')
  try {
    mkdirSync(join(dir, 'backing'))
    mkdirSync(join(dir, 'mnt'))
    const fs = await mountFaultFs(join(dir, 'backing'), join(dir, 'mnt'), rules)
    if (typeof fs === 'string') return logSkip(fs)
    try {
      await fn(fs, dir)
    } finally {
      await fs.unmount()
    }
  } finally {
    removeTempDir(dir)
  }
}

/** The error code a call throws, or 'none'. */
function codeOf(fn: () => unknown): string {
  try {
    fn()
    return 'none'
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? String(err)
  }
}

test('a file written through faultfs reads back the same and lands in the backing dir', async () => {
  await withFaultFs([], (fs, dir) => {
    const src = join(dir, 'src.bin')
    writeRandomFile(src, 1024 * KiB + 123, 7)
    const dst = join(fs.mountDir, 'dst.img')
    const fd = openSync(dst, constants.O_CREAT | constants.O_RDWR, 0o644)
    try {
      const data = readRange(src, 0, 1024 * KiB + 123)
      for (let off = 0; off < data.length; ) off += writeSync(fd, data, off, data.length - off, off)
      fdatasyncSync(fd)
      const back = Buffer.alloc(data.length)
      assert.is(readSync(fd, back, 0, back.length, 0), data.length)
      assert.ok(back.equals(data))
    } finally {
      closeSync(fd)
    }
    assert.ok(cmpFiles(src, dst))
    assert.ok(cmpFiles(src, join(fs.backingDir, 'dst.img')))
  })
})

test('cp over a longer file through faultfs leaves exactly the new bytes', async () => {
  await withFaultFs([], (fs, dir) => {
    const [long, short, dst] = [join(dir, 'long'), join(dir, 'short'), join(fs.mountDir, 'dst.img')]
    writeRandomFile(long, 300 * KiB, 1)
    writeRandomFile(short, 5000, 2)
    for (const src of [long, short]) {
      const cp = spawnSync('cp', [src, dst], { encoding: 'utf8' })
      assert.is(cp.status, 0, cp.stderr)
    }
    assert.is(statSync(dst).size, 5000)
    assert.ok(cmpFiles(short, dst))
  })
})

test('a write overlapping a failing range fails with EIO and a write outside it succeeds', async () => {
  await withFaultFs([{ path: 'dst.img', op: 'write', offset: 64 * KiB, length: 512, errno: 'EIO' }], (fs) => {
    const fd = openSync(join(fs.mountDir, 'dst.img'), constants.O_CREAT | constants.O_RDWR, 0o644)
    try {
      const block = Buffer.alloc(4 * KiB, 0xab)
      assert.is(codeOf(() => writeSync(fd, block, 0, block.length, 64 * KiB + 4 * KiB)), 'none')
      assert.is(codeOf(() => writeSync(fd, block, 0, block.length, 60 * KiB + 1)), 'EIO')
      assert.is(codeOf(() => writeSync(fd, block, 0, block.length, 0)), 'none')
    } finally {
      closeSync(fd)
    }
    assert.equal(fs.events(), [{ op: 'write', path: 'dst.img', offset: 60 * KiB + 1, length: 4 * KiB, action: 'EIO' }])
  })
})

test('a corrupt-read rule returns the bytes in its range flipped and the rest intact', async () => {
  await withFaultFs([{ op: 'read', path: '*.img', offset: 5000, length: 100, corrupt: true }], (fs) => {
    const path = join(fs.mountDir, 'disk.img')
    writeRandomFile(path, 16 * KiB, 3)
    const onDisk = readRange(join(fs.backingDir, 'disk.img'), 0, 16 * KiB)
    const seen = readRange(path, 0, 16 * KiB)
    const flipped = Buffer.from(onDisk.map((byte, i) => (i >= 5000 && i < 5100 ? byte ^ 0xff : byte)))
    assert.ok(seen.equals(flipped))
    assert.ok(readRange(path, 8 * KiB, 4 * KiB).equals(onDisk.subarray(8 * KiB, 12 * KiB)))
    assert.not.ok(cmpFiles(path, join(fs.backingDir, 'disk.img')))
  })
})

test('a rule with times fails that many requests and setRules replaces the rules', async () => {
  await withFaultFs([{ op: 'read', errno: 'EAGAIN', times: 1 }], (fs) => {
    const path = join(fs.mountDir, 'f.img')
    writeRandomFile(path, 8 * KiB, 1)
    assert.is(codeOf(() => readRange(path, 0, 4 * KiB)), 'EAGAIN')
    assert.is(readRange(path, 0, 4 * KiB).length, 4 * KiB)
    fs.setRules([{ op: 'fsync', errno: 'EIO' }])
    const fd = openSync(path, 'r+')
    try {
      assert.is(codeOf(() => fdatasyncSync(fd)), 'EIO')
    } finally {
      closeSync(fd)
    }
    assert.equal(
      fs.events().map((event) => `${event.op} ${event.action}`),
      ['read EAGAIN', 'fsync EIO'],
    )
  })
})

test('an O_DIRECT descriptor reads and writes through faultfs at any offset', async () => {
  await withFaultFs([], (fs) => {
    const path = join(fs.mountDir, 'direct.img')
    const fd = openSync(path, constants.O_CREAT | constants.O_RDWR | constants.O_DIRECT, 0o644)
    try {
      const data = Buffer.alloc(8 * KiB + 3, 0x5a)
      assert.is(writeSync(fd, data, 0, data.length, 7), data.length)
      const back = Buffer.alloc(data.length)
      assert.is(readSync(fd, back, 0, back.length, 7), data.length)
      assert.ok(back.equals(data))
    } finally {
      closeSync(fd)
    }
  })
})

test.run()
