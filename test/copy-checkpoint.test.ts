// Incremental copies with a checkpoint (src/incremental/baseline.ts): a reflink
// clone of the source kept between runs, whose extents tell which chunks
// changed without reading them. On real XFS (reflink) and btrfs images.
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createClient, type CopyClient, type Manifest } from '../src/index.js'
import type { CopyResult } from '../src/job.js'
import { sameExtents } from '../src/incremental/extent-compare.js'
import { runCli } from './helpers/cli.js'
import { withImageFs, withTempDir } from './helpers/native.js'
import { mountXfs } from './helpers/mounts.js'
import { logSkip } from './helpers/root.js'
import { refuses } from './helpers/refuses.js'
import { cmpFiles, writeRandomFile } from './helpers/tmp.js'

const test = suite('incremental copy with a checkpoint')
const KiB = 1024
const MiB = 1024 * KiB
const CHUNK = 256 * KiB
const SIZE = 24 * MiB + 4097
let client: CopyClient

test.before(async () => {
  client = await createClient({ threads: 2, chunkBytes: CHUNK })
})
test.after(async () => {
  await client.destroy()
})

/** Overwrites [offset, +length) of path with a pattern, buffered and not synced: the clone must see dirty pages too. */
function scribble(path: string, offset: number, length: number, byte: number): void {
  const fd = openSync(path, 'r+')
  writeSync(fd, Buffer.alloc(length, byte), 0, length, offset)
  closeSync(fd)
}

interface Run {
  r: CopyResult
  m: Manifest
}

async function incremental(src: string, dst: string, since: Manifest, checkpoint: string, sequentialWrites = false): Promise<Run> {
  const job = client.copy({ path: src }, [{ path: dst }], { since, checkpoint, sequentialWrites })
  const r = await job.result
  const m = await job.manifest
  assert.is(r.ok, true, JSON.stringify(r.errors))
  assert.ok(m)
  return { r, m: m as Manifest }
}

/** A source, its full copy and the copy's manifest, on `dir`. */
async function seed(dir: string): Promise<{ src: string; dst: string; ckpt: string; m: Manifest }> {
  const src = join(dir, 'src.img')
  const dst = join(dir, 'dst.img')
  writeRandomFile(src, SIZE, 77)
  assert.is((await client.copy({ path: src }, [{ path: dst }]).result).ok, true)
  const m = await client.hash(dst, { chunkBytes: CHUNK }).manifest
  assert.ok(m)
  return { src, dst, ckpt: join(dir, 'src.ckpt'), m: m as Manifest }
}

for (const kind of ['xfs', 'btrfs'] as const) {
  test(`${kind}: chunks the last checkpoint still shares are not read; the rest are copied byte-exact`, async () => {
    await withTempDir(`ckpt-${kind}`, (tmp) => withImageFs(tmp, kind, async (mnt) => {
      const { src, dst, ckpt, m } = await seed(mnt.dir)
      // First run: no checkpoint yet, so every chunk is read; the clone is kept and bound.
      const first = await incremental(src, dst, m, ckpt)
      assert.equal(first.r.incremental?.checkpoint, { path: ckpt, used: false, reason: `no checkpoint at ${ckpt} yet`, unreadBytes: 0 })
      assert.is(first.r.incremental?.writtenBytes, 0)
      assert.ok(existsSync(ckpt) && existsSync(`${ckpt}.json`) && !existsSync(`${ckpt}.next`) && !existsSync(`${ckpt}.lock`))

      // Writes in three chunks (one across a chunk boundary), left dirty in the page cache.
      const edits = [[3 * CHUNK + 100, 10], [10 * CHUNK - 5, 10], [SIZE - 7, 7]] as const
      edits.forEach(([at, n], i) => scribble(src, at, n, 0x41 + i))
      const touched = new Set(edits.flatMap(([at, n]) => [Math.floor(at / CHUNK), Math.floor((at + n - 1) / CHUNK)]))
      const lastChunk = SIZE - Math.floor(SIZE / CHUNK) * CHUNK
      const touchedBytes = [...touched].reduce((sum, c) => sum + (c === Math.floor(SIZE / CHUNK) ? lastChunk : CHUNK), 0)

      const second = await incremental(src, dst, first.m, ckpt)
      const c = second.r.incremental?.checkpoint
      assert.is(c?.used, true, c?.reason ?? '')
      assert.is(c?.unreadBytes, SIZE - touchedBytes, 'exactly the chunks written to were read')
      assert.is(second.r.incremental?.writtenBytes, touchedBytes)
      assert.ok(cmpFiles(src, dst), 'the destination differs from the source')
      assert.is(second.m.root, (await client.hash(src, { chunkBytes: CHUNK }).manifest)?.root)

      // Nothing changed since: nothing read, nothing written.
      const third = await incremental(src, dst, second.m, ckpt)
      assert.is(third.r.incremental?.checkpoint?.unreadBytes, SIZE)
      assert.is(third.r.incremental?.writtenBytes, 0)
      assert.ok(cmpFiles(src, dst))

      // Writes in chunk order: skipped chunks pass their turn on to the next.
      scribble(src, 7 * CHUNK, 1, 0x61)
      scribble(src, 20 * CHUNK, 1, 0x62)
      const fourth = await incremental(src, dst, third.m, ckpt, true)
      assert.is(fourth.r.incremental?.checkpoint?.unreadBytes, SIZE - 2 * CHUNK)
      assert.is(fourth.r.incremental?.writtenBytes, 2 * CHUNK)
      assert.ok(cmpFiles(src, dst))
    }))
  })
}

test('a checkpoint written to since it was bound is not trusted: every chunk is read, and the copy is still exact', async () => {
  await withTempDir('ckpt-touched', (tmp) => withImageFs(tmp, 'xfs', async (mnt) => {
    const { src, dst, ckpt, m } = await seed(mnt.dir)
    const first = await incremental(src, dst, m, ckpt)
    scribble(src, 5 * CHUNK, 4096, 0x55)
    // The same bytes into the checkpoint: a dedupe could make it share the source's new block again.
    const fd = openSync(ckpt, 'r+')
    writeSync(fd, Buffer.alloc(4096, 0x55), 0, 4096, 5 * CHUNK)
    fsyncSync(fd)
    closeSync(fd)
    const second = await incremental(src, dst, first.m, ckpt)
    assert.is(second.r.incremental?.checkpoint?.used, false)
    assert.match(second.r.incremental?.checkpoint?.reason ?? '', 'changed, replaced or moved')
    assert.is(second.r.incremental?.writtenBytes, CHUNK)
    assert.ok(cmpFiles(src, dst))
  }))
})

test('with force, a destination out of the manifest\'s state gets every chunk written, checkpoint or not', async () => {
  await withTempDir('ckpt-force', (tmp) => withImageFs(tmp, 'xfs', async (mnt) => {
    const { src, dst, ckpt, m } = await seed(mnt.dir)
    const first = await incremental(src, dst, m, ckpt)
    truncateSync(dst, SIZE - 1)
    const job = client.copy({ path: src }, [{ path: dst }], { since: first.m, checkpoint: ckpt, force: true })
    const r = await job.result
    assert.is(r.ok, true)
    assert.is(r.incremental?.writeAll, true)
    assert.equal(r.incremental?.checkpoint, { path: ckpt, used: false, reason: 'every chunk was written (force)', unreadBytes: 0 })
    assert.is(r.incremental?.writtenBytes, SIZE)
    assert.ok(cmpFiles(src, dst))
  }))
})

test('a checkpoint bound to another manifest is not used (two destinations, one checkpoint)', async () => {
  await withTempDir('ckpt-other', (tmp) => withImageFs(tmp, 'xfs', async (mnt) => {
    const { src, dst, ckpt, m } = await seed(mnt.dir)
    const other = join(mnt.dir, 'other.img')
    assert.is((await client.copy({ path: src }, [{ path: other }]).result).ok, true)
    scribble(other, 0, 1, 0x01)
    const mOther = await client.hash(other, { chunkBytes: CHUNK }).manifest
    await incremental(src, dst, m, ckpt)
    const r = await incremental(src, other, mOther as Manifest, ckpt)
    assert.is(r.r.incremental?.checkpoint?.used, false)
    assert.match(r.r.incremental?.checkpoint?.reason ?? '', 'another manifest')
    assert.ok(cmpFiles(src, other))
  }))
})

test('a run that does not succeed removes its clone and leaves the last checkpoint as it was', async () => {
  await withTempDir('ckpt-fail', (tmp) => withImageFs(tmp, 'xfs', async (mnt) => {
    const { src, dst, ckpt, m } = await seed(mnt.dir)
    await incremental(src, dst, m, ckpt)
    const binding = readFileSync(`${ckpt}.json`, 'utf8')
    const controller = new AbortController()
    controller.abort()
    const job = client.copy({ path: src }, [{ path: dst }], { since: m, checkpoint: ckpt, signal: controller.signal })
    const r = await job.result
    await job.manifest
    assert.is(r.ok, false)
    assert.not.ok(existsSync(`${ckpt}.next`))
    assert.is(readFileSync(`${ckpt}.json`, 'utf8'), binding)
  }))
})

test('btrfs: a No_COW source (chattr +C, as VM images often are) is cloned into a No_COW checkpoint', async () => {
  await withTempDir('ckpt-nocow', (tmp) => withImageFs(tmp, 'btrfs', async (mnt) => {
    const src = join(mnt.dir, 'src.img')
    const dst = join(mnt.dir, 'dst.img')
    writeFileSync(src, '')
    assert.is(spawnSync('chattr', ['+C', src]).status, 0)
    writeRandomFile(src, SIZE, 9)
    assert.is((await client.copy({ path: src }, [{ path: dst }]).result).ok, true)
    const m = (await client.hash(dst, { chunkBytes: CHUNK }).manifest) as Manifest
    const ckpt = join(mnt.dir, 'src.ckpt')
    const first = await incremental(src, dst, m, ckpt)
    assert.match(spawnSync('lsattr', [ckpt], { encoding: 'utf8' }).stdout, /^\S*C\S* /)
    scribble(src, 2 * CHUNK, 100, 0x33)
    const second = await incremental(src, dst, first.m, ckpt)
    assert.is(second.r.incremental?.checkpoint?.unreadBytes, SIZE - CHUNK)
    assert.ok(cmpFiles(src, dst))
  }))
})

test('the checkpoint keeps the source\'s data to root alone (mode 0600); a damaged binding or a manifest whose root is not its digests\' is not trusted', async () => {
  await withTempDir('ckpt-bind', (tmp) => withImageFs(tmp, 'xfs', async (mnt) => {
    const { src, dst, ckpt, m } = await seed(mnt.dir)
    const first = await incremental(src, dst, m, ckpt)
    assert.is(statSync(ckpt).mode & 0o777, 0o600)
    // Chunk 5's digest edited in the manifest, its root left as it was.
    const edited: Manifest = { ...first.m, digests: Buffer.from(first.m.digests) }
    edited.digests.fill(0xab, 5 * edited.digestBytes, 6 * edited.digestBytes)
    const r1 = await incremental(src, dst, edited, ckpt)
    assert.is(r1.r.incremental?.checkpoint?.used, false)
    assert.match(r1.r.incremental?.checkpoint?.reason ?? '', 'is not the digest of its chunk digests')
    assert.is(r1.r.incremental?.writtenBytes, CHUNK)
    writeFileSync(`${ckpt}.json`, 'null')
    const r2 = await incremental(src, dst, r1.m, ckpt)
    assert.match(r2.r.incremental?.checkpoint?.reason ?? '', 'not a version 1 checkpoint binding')
    assert.ok(cmpFiles(src, dst))
  }))
})

test('chunks a checkpoint answers cost no rate budget: --rate limits only what is read', async () => {
  await withTempDir('ckpt-rate', (tmp) => withImageFs(tmp, 'xfs', async (mnt) => {
    const { src, dst, ckpt, m } = await seed(mnt.dir)
    const first = await incremental(src, dst, m, ckpt)
    const slow = await createClient({ threads: 2, chunkBytes: CHUNK, rateBytesPerSec: MiB })
    try {
      const job = slow.copy({ path: src }, [{ path: dst }], { since: first.m, checkpoint: ckpt })
      const r = await job.result
      assert.is(r.incremental?.checkpoint?.unreadBytes, SIZE)
      // Counted against 1 MiB/s, the 24 MiB would have taken 24 s.
      assert.ok(r.elapsedMs < 10_000, `took ${r.elapsedMs} ms`)
    } finally {
      await slow.destroy()
    }
  }))
})

test('one run at a time per checkpoint; what a killed run left (PATH.next, PATH.lock) does not stop the next', async () => {
  await withTempDir('ckpt-lock', (tmp) => withImageFs(tmp, 'xfs', async (mnt) => {
    const { src, dst, ckpt, m } = await seed(mnt.dir)
    writeFileSync(`${ckpt}.next`, 'left by a killed run')
    writeFileSync(`${ckpt}.lock`, '')
    const job = client.copy({ path: src }, [{ path: dst }], { since: m, checkpoint: ckpt })
    refuses(() => client.copy({ path: src }, [{ path: dst }], { since: m, checkpoint: ckpt }), 'INVALID_ARGUMENT', /in use by another copy/)
    assert.is((await job.result).ok, true)
    const next = await job.manifest
    assert.ok(next)
    assert.not.ok(existsSync(`${ckpt}.next`))
    // The lock went with the run: the next one takes it and uses the checkpoint.
    const again = await incremental(src, dst, next as Manifest, ckpt)
    assert.is(again.r.incremental?.checkpoint?.unreadBytes, SIZE)
  }))
})

test('bad checkpoint arguments are refused before anything is written', async () => {
  await withTempDir('ckpt-bad', (tmp) => withImageFs(tmp, 'xfs', async (mnt) => {
    const { src, dst, m } = await seed(mnt.dir)
    const before = statSync(dst).mtimeMs
    const copy = (checkpoint: string, since: Manifest | null = m) => client.copy({ path: src }, [{ path: dst }], since ? { since, checkpoint } : { checkpoint })
    refuses(() => copy(join(mnt.dir, 'c'), null), 'INVALID_ARGUMENT', /only applies with `since`/)
    refuses(() => copy(join(mnt.dir, 'no', 'c')), 'INVALID_ARGUMENT', /does not exist/)
    refuses(() => copy(src), 'INVALID_ARGUMENT', /^checkpoint: .*src\.img is from\.path .*src\.img \(the same path\)/)
    refuses(() => copy(dst), 'INVALID_ARGUMENT', /^checkpoint: .*dst\.img is to\[0\]\.path .*dst\.img \(the same path\)/)
    refuses(() => copy(join(tmp, 'c')), 'INVALID_ARGUMENT', /file system of/)
    // The destination is the source itself: refused as without a checkpoint, not copied from the clone onto the source.
    refuses(() => client.copy({ path: src }, [{ path: src }], { since: m, checkpoint: join(mnt.dir, 'c') }), 'INVALID_ARGUMENT', /may not overlap its source/)
    assert.is(statSync(dst).mtimeMs, before)
    for (const name of ['c', 'c.next', 'c.lock', 'c.json']) assert.not.ok(existsSync(join(mnt.dir, name)), `${name} was left behind`)
  }))
})

test('on a file system that cannot clone: NO_SUPPORT, the destination untouched, no clone left', async () => {
  await withTempDir('ckpt-ext4', async (dir) => {
    const src = join(dir, 'src.img')
    const dst = join(dir, 'dst.img')
    writeRandomFile(src, 2 * MiB, 3)
    writeFileSync(dst, readFileSync(src))
    const m = await client.hash(dst, { chunkBytes: CHUNK }).manifest
    scribble(src, 0, 10, 0x42)
    const ckpt = join(dir, 'src.ckpt')
    refuses(() => client.copy({ path: src }, [{ path: dst }], { since: m as Manifest, checkpoint: ckpt }), 'NO_SUPPORT', /need XFS with reflink or btrfs/)
    assert.not.ok(existsSync(`${ckpt}.next`) || existsSync(ckpt) || existsSync(`${ckpt}.lock`))
    assert.not.ok(cmpFiles(src, dst), 'the destination was written')
  })
})

test('XFS made without reflink: NO_SUPPORT, with no clone or lock file left behind', async () => {
  await withTempDir('ckpt-noreflink', async (tmp) => {
    const mnt = await mountXfs(join(tmp, 'xfs.img'), join(tmp, 'xfs'), 320 * MiB, false)
    if (typeof mnt === 'string') return logSkip(mnt)
    try {
      const { src, dst, ckpt, m } = await seed(mnt.dir)
      refuses(() => client.copy({ path: src }, [{ path: dst }], { since: m, checkpoint: ckpt }), 'NO_SUPPORT', /cannot clone it \(EOPNOTSUPP; XFS needs mkfs.xfs -m reflink=1\)/)
      for (const name of [ckpt, `${ckpt}.next`, `${ckpt}.lock`, `${ckpt}.json`]) assert.not.ok(existsSync(name), `${name} was left behind`)
    } finally {
      await mnt.unmount()
    }
  })
})

test('the CLI: --checkpoint reports what it spared reading, --json has it in incremental.checkpoint', async () => {
  await withTempDir('ckpt-cli', (tmp) => withImageFs(tmp, 'btrfs', async (mnt) => {
    const { src, dst, ckpt } = await seed(mnt.dir)
    const manifest = join(mnt.dir, 'dst.bcm')
    assert.is(runCli(['hash', dst, '--chunk', '256KiB', '-o', manifest, '--progress', 'none']).status, 0)
    const args = ['copy', src, dst, '--since', manifest, '--checkpoint', ckpt, '--progress', 'none']
    const first = runCli(args)
    assert.is(first.status, 0, first.stderr)
    assert.match(first.stdout, `checkpoint ${ckpt} not used (no checkpoint at ${ckpt} yet)`)
    scribble(src, CHUNK + 1, 1, 0x99)
    const second = runCli([...args, '--json'])
    assert.is(second.status, 0, second.stderr)
    const r = JSON.parse(second.stdout) as CopyResult
    assert.equal(r.incremental?.checkpoint, { path: ckpt, used: true, reason: null, unreadBytes: SIZE - CHUNK })
    assert.ok(cmpFiles(src, dst))
    const bad = runCli(['copy', src, dst, '--checkpoint', ckpt, '--progress', 'none'])
    assert.is(bad.status, 2)
    assert.match(bad.stderr, '--checkpoint: only applies with --since')
    const before = readFileSync(manifest)
    const onManifest = runCli(['copy', src, dst, '--since', manifest, '--checkpoint', manifest, '--progress', 'none'])
    assert.is(onManifest.status, 2)
    assert.match(onManifest.stderr, /INVALID_ARGUMENT: --checkpoint: .*dst\.bcm is --since .*dst\.bcm \(the same path\)/)
    assert.ok(readFileSync(manifest).equals(before), 'the manifest was written')
  }))
})

test('sameExtents: shared blocks, holes on both sides, moved or flagged extents', () => {
  const map = (...e: number[]) => Float64Array.from(e)
  const K = 64 * KiB
  // One extent in both: every chunk the same.
  assert.equal([...sameExtents(map(0, 1e6, 4 * K, 1), map(0, 1e6, 4 * K, 1 | 0x2000), 4 * K, K)], [1, 1, 1, 1])
  // Chunk 2 moved (copy on write) in b.
  assert.equal([...sameExtents(map(0, 1e6, 4 * K, 1), map(0, 1e6, 2 * K, 0, 2 * K, 9e6, K, 0, 3 * K, 1e6 + 3 * K, K, 1), 4 * K, K)], [1, 1, 0, 1])
  // A hole in both (chunk 1), a hole in only one (chunk 3).
  assert.equal([...sameExtents(map(0, 1e6, K, 0, 2 * K, 2e6, K, 1), map(0, 1e6, K, 0, 2 * K, 2e6, 2 * K, 1), 4 * K, K)], [1, 1, 1, 0])
  // Unwritten in one, delayed allocation in both: not trusted.
  assert.equal([...sameExtents(map(0, 1e6, 2 * K, 0x800 | 1), map(0, 1e6, 2 * K, 1), 2 * K, K)], [0, 0])
  assert.equal([...sameExtents(map(0, 1e6, 2 * K, 0x4 | 1), map(0, 1e6, 2 * K, 0x4 | 1), 2 * K, K)], [0, 0])
  // A 1-byte difference in placement within a chunk condemns only that chunk.
  assert.equal([...sameExtents(map(0, 1e6, K + 4096, 0, K + 4096, 5e6, K - 4096, 1), map(0, 1e6, 2 * K, 1), 2 * K, K)], [1, 0])
})

test.run()
