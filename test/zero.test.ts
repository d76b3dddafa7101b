import { spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { test } from 'uvu'
import * as assert from 'uvu/assert'

import { createClient, type CopyClient } from '../src/client.js'
import { BlockcopyError } from '../src/errors.js'
import type { CopyResult } from '../src/job.js'
import { mountFaultFs } from './helpers/faultfs.js'
import { attachLoop, detachLoop } from './helpers/loop.js'
import { mountTmpfs, unmount } from './helpers/mounts.js'
import { logSkip, skipUnlessRoot } from './helpers/root.js'
import { cmpFiles, makeTempDir, readRange, removeTempDir, writeRandomFile } from './helpers/tmp.js'

const KiB = 1024
const MiB = 1024 * KiB
const ROOT = fileURLToPath(new URL('..', import.meta.url))
// Unaligned on both ends, and long enough for a zero-out middle and edges written by hand.
const OFFSET = 4097
const LENGTH = 3 * MiB + 5

/** Runs fn with a fresh temp dir and a two-thread client; both go away afterwards. */
async function withClient(fn: (client: CopyClient, dir: string) => Promise<void>): Promise<void> {
  const dir = makeTempDir('zero')
  try {
    const client = await createClient({ threads: 2 })
    try {
      await fn(client, dir)
    } finally {
      await client.destroy()
    }
  } finally {
    removeTempDir(dir)
  }
}

/**
 * Asserts that file (or device) equals original except [offset, +length),
 * which is all zeros, and that its size did not change.
 */
function assertZeroedExactly(file: string, original: string, offset: number, length: number): void {
  // A block device has no st_size; cmp to the end of both below checks its size.
  if (!statSync(file).isBlockDevice()) assert.is(statSync(file).size, statSync(original).size, `${file} changed size`)
  assert.ok(cmpFiles(original, file, { length: offset }), `${file}: bytes before the range changed`)
  assert.ok(readRange(file, offset, length).equals(Buffer.alloc(length)), `${file}: the range is not all zeros`)
  const end = offset + length
  assert.ok(cmpFiles(original, file, { aOffset: end, bOffset: end }), `${file}: bytes after the range changed`)
  // The original had no zero run there: the check above can fail.
  assert.not.ok(readRange(original, offset, length).equals(Buffer.alloc(length)))
}

function assertClean(r: CopyResult, length: number): void {
  assert.is(r.kind, 'zero')
  assert.equal(r.errors, [], JSON.stringify(r.errors))
  assert.is(r.ok, true)
  assert.is(r.writeErr, 0)
  assert.is(r.totalBytes, length)
  assert.is(r.completedBytes, length)
}

test('zeroing an unaligned range in the middle of a file zeroes exactly that range', async () => {
  await withClient(async (client, dir) => {
    const [file, original] = [join(dir, 'f.bin'), join(dir, 'original.bin')]
    writeRandomFile(original, 8 * MiB, 1)
    copyFileSync(original, file)
    const r = await client.zero([{ path: file, offset: OFFSET }], { length: LENGTH }).result
    assertClean(r, LENGTH)
    assertZeroedExactly(file, original, OFFSET, LENGTH)
  })
})

test('zeroing two destinations at once zeroes the same length at each one\'s offset', async () => {
  await withClient(async (client, dir) => {
    const [a, b, original] = [join(dir, 'a.bin'), join(dir, 'b.bin'), join(dir, 'original.bin')]
    writeRandomFile(original, 6 * MiB, 2)
    copyFileSync(original, a)
    copyFileSync(original, b)
    const r = await client.zero([{ path: a, offset: OFFSET }, { path: b, offset: 2 * MiB + 100 }], { length: LENGTH }).result
    assertClean(r, LENGTH)
    assert.equal(r.direct.dests.length, 2)
    assertZeroedExactly(a, original, OFFSET, LENGTH)
    assertZeroedExactly(b, original, 2 * MiB + 100, LENGTH)
  })
})

test('zeroing a range of a loop device zeroes the device, and the backing file shows it after detach', async () => {
  const why = skipUnlessRoot('attaches a loop device')
  if (why) return logSkip(why)
  await withClient(async (client, dir) => {
    const [backing, original] = [join(dir, 'backing.img'), join(dir, 'original.img')]
    writeRandomFile(original, 8 * MiB, 3)
    copyFileSync(original, backing)
    const device = await attachLoop(backing)
    let attached = true
    try {
      const r = await client.zero([{ path: device, offset: OFFSET }], { length: LENGTH }).result
      assertClean(r, LENGTH)
      assertZeroedExactly(device, original, OFFSET, LENGTH)
      await detachLoop(device)
      attached = false
      assertZeroedExactly(backing, original, OFFSET, LENGTH)
    } finally {
      if (attached) await detachLoop(device)
    }
  })
})

test('zeroing on tmpfs, which has no zero-out, writes zeros and passes a read-back check', async () => {
  const why = skipUnlessRoot('mounts a tmpfs')
  if (why) return logSkip(why)
  await withClient(async (client, dir) => {
    const mnt = join(dir, 'tmpfs')
    await mountTmpfs(mnt, 32 * MiB)
    try {
      const [file, original] = [join(mnt, 'f.bin'), join(dir, 'original.bin')]
      writeRandomFile(original, 6 * MiB, 4)
      copyFileSync(original, file)
      const r = await client.zero([{ path: file, offset: OFFSET }], { length: LENGTH, verify: 'readback' }).result
      assertClean(r, LENGTH)
      assert.is(r.verify, 'readback')
      assertZeroedExactly(file, original, OFFSET, LENGTH)
    } finally {
      await unmount(mnt)
    }
  })
})

test('zeroing a missing destination without a length is INVALID_ARGUMENT naming to[0].length, and creates no file', async () => {
  await withClient(async (client, dir) => {
    const missing = join(dir, 'missing.bin')
    let thrown: unknown
    try {
      client.zero([{ path: missing, offset: 0 }])
    } catch (err) {
      thrown = err
    }
    assert.instance(thrown, BlockcopyError)
    const err = thrown as BlockcopyError
    assert.is(err.code, 'INVALID_ARGUMENT')
    assert.is(err.argument, 'to[0].length')
    assert.match(err.message, /^to\[0\]\.length: /)
    assert.not.ok(existsSync(missing))
    assert.equal(readdirSync(dir), [])
  })
})

test('a read-back that sees different bytes is VERIFY_MISMATCH for that destination only', async () => {
  const dir = makeTempDir('zero-faultfs')
  try {
    mkdirSync(join(dir, 'backing'))
    mkdirSync(join(dir, 'mnt'))
    const length = 4 * MiB
    writeRandomFile(join(dir, 'backing', 'bad.img'), length, 5)
    writeRandomFile(join(dir, 'backing', 'good.img'), length, 6)
    const corruptAt = 2 * MiB + 100
    const fs = await mountFaultFs(join(dir, 'backing'), join(dir, 'mnt'), [
      { op: 'read', path: 'bad.img', offset: corruptAt, length: 10, corrupt: true },
    ])
    if (typeof fs === 'string') return logSkip(fs)
    try {
      const client = await createClient({ threads: 2 })
      let r: CopyResult
      try {
        const to = [{ path: join(fs.mountDir, 'good.img') }, { path: join(fs.mountDir, 'bad.img') }]
        r = await client.zero(to, { length, verify: 'readback', ignoreErrors: true }).result
      } finally {
        await client.destroy()
      }
      assert.is(r.ok, false)
      assert.is(r.readErr, false)
      assert.is(r.writeErr, 0b10)
      // Read-back compares 4 KiB blocks: exactly the block holding the flipped bytes.
      assert.equal(r.errors.map((e) => ({ dest: e.dest, offset: e.offset, length: e.length, code: e.code })), [
        { dest: 1, offset: 2 * MiB, length: 4 * KiB, code: 'VERIFY_MISMATCH' },
      ])
      assert.ok(fs.events().some((e) => e.path === 'bad.img' && e.action === 'corrupt'))
      // The zeros did land: the mismatch was in what was read back.
      assert.ok(readRange(join(fs.backingDir, 'bad.img'), 0, length).equals(Buffer.alloc(length)))
      assert.ok(readRange(join(fs.backingDir, 'good.img'), 0, length).equals(Buffer.alloc(length)))
    } finally {
      await fs.unmount()
    }
  } finally {
    removeTempDir(dir)
  }
})

test('blockcopy zero DST --length 1MiB --dst-offset 4KiB --json exits 0 and zeroes exactly that range', () => {
  const dir = makeTempDir('zero-cli')
  try {
    const [file, original] = [join(dir, 'f.bin'), join(dir, 'original.bin')]
    writeRandomFile(original, 3 * MiB, 7)
    copyFileSync(original, file)
    const run = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'src/cli/bin.ts', 'zero', file, '--length', '1MiB', '--dst-offset', '4KiB', '--threads', '2', '--json'],
      { cwd: ROOT, encoding: 'utf8', timeout: 60_000 },
    )
    assert.is(run.status, 0, run.stderr)
    const lines = run.stdout.split('\n').filter((line) => line.trim() !== '')
    assert.is(lines.length, 1, run.stdout)
    const out = JSON.parse(lines[0] ?? '') as { ok?: unknown; kind?: unknown; totalBytes?: unknown }
    assert.is(out.ok, true)
    assert.is(out.kind, 'zero')
    assert.is(out.totalBytes, MiB)
    assertZeroedExactly(file, original, 4 * KiB, MiB)
  } finally {
    removeTempDir(dir)
  }
})

test('a region length that differs from the length option is refused, naming the region', async () => {
  const dir = makeTempDir('zero-len')
  const client = await createClient({ threads: 1 })
  try {
    const file = join(dir, 'f.img')
    writeRandomFile(file, 8192, 1)
    let caught: unknown
    try {
      client.zero([{ path: file, length: 4096 }], { length: 8192 })
    } catch (err) {
      caught = err
    }
    assert.is((caught as { code?: string }).code, 'INVALID_ARGUMENT')
    assert.match((caught as Error).message, /to\[0\]\.length: 4096 differs from the length option 8192/)
  } finally {
    await client.destroy()
    removeTempDir(dir)
  }
})

test.run()
