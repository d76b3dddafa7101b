// An incremental copy with a checkpoint never holds the main thread on the
// disk: the clone of the source, its fsync and its extent maps run on a
// worker (src/chunk/baseline.ts). Proven by events, not by timing: the XFS
// lives on a loop device whose image is on the fault file system, which
// holds every write of the image until the test releases it. The fsync of
// the clone writes the XFS log, so it waits there; a timer of the main
// thread must keep firing meanwhile, and it is that timer that releases the
// hold. Had the fsync run on the main thread, the timer could not fire and
// only the daemon's guard would let the write go.
import { existsSync, writeFileSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createClient, type Manifest } from '../src/index.js'
import { mountFaultFsIn } from './helpers/faultfs.js'
import { mountXfs } from './helpers/mounts.js'
import { withTempDir } from './helpers/native.js'
import { logSkip } from './helpers/root.js'
import { cmpFiles, writeRandomFile } from './helpers/tmp.js'

const test = suite('incremental copy with a checkpoint, off the main thread')
const KiB = 1024
const MiB = 1024 * KiB
const CHUNK = 256 * KiB
/** Ticks of the main thread's timer, seen while a write is held, before the test releases it. */
const TICKS_WHILE_HELD = 5

test('while the clone\'s sync waits on a held write, the main thread\'s timer keeps firing and is what releases it', async () => {
  await withTempDir('ckpt-offmain', async (tmp) => {
    const fuse = await mountFaultFsIn(tmp)
    if (typeof fuse === 'string') return logSkip(fuse)
    const client = await createClient({ threads: 2, chunkBytes: CHUNK })
    try {
      const mnt = await mountXfs(join(fuse.mountDir, 'xfs.img'), join(tmp, 'xfs'), 320 * MiB)
      if (typeof mnt === 'string') return logSkip(mnt)
      try {
        const src = join(mnt.dir, 'src.img')
        const dst = join(mnt.dir, 'dst.img')
        const ckpt = join(mnt.dir, 'src.ckpt')
        writeRandomFile(src, 8 * MiB + 123, 5)
        assert.is((await client.copy({ path: src }, [{ path: dst }]).result).ok, true)
        const m = (await client.hash(dst, { chunkBytes: CHUNK }).manifest) as Manifest
        assert.ok(m)
        // Nothing dirty left: what is held from here on is what the copy writes.
        assert.is(spawnSync('sync', ['-f', mnt.dir]).status, 0)

        const release = join(tmp, 'release')
        fuse.setRules([{ op: 'write', path: 'xfs.img', hold: release, holdMs: 10_000 }])
        let ticksWhileHeld = 0
        const timer = setInterval(() => {
          if (!existsSync(`${release}.held`) || existsSync(release)) return
          if (++ticksWhileHeld >= TICKS_WHILE_HELD) writeFileSync(release, '')
        }, 10)
        let r
        try {
          const job = client.copy({ path: src }, [{ path: dst }], { since: m, checkpoint: ckpt })
          r = await job.result
          await job.manifest
        } finally {
          clearInterval(timer)
          // Whatever happened, nothing stays held for the unmount.
          writeFileSync(release, '')
        }
        assert.is(r.ok, true, JSON.stringify(r.errors))
        assert.equal(r.incremental?.checkpoint, { path: ckpt, used: false, reason: `no checkpoint at ${ckpt} yet`, unreadBytes: 0 })
        assert.ok(cmpFiles(src, dst))
        assert.ok(existsSync(ckpt) && existsSync(`${ckpt}.json`))

        const releases = fuse.events().filter((e) => e.action.startsWith('released'))
        assert.ok(fuse.events().some((e) => e.action === 'hold'), 'no write was held: the test proved nothing')
        assert.is(ticksWhileHeld, TICKS_WHILE_HELD)
        assert.equal(releases.filter((e) => e.action === 'released by guard'), [], 'the main thread was stuck while a write was held')
        assert.ok(releases.some((e) => e.action === 'released by test'))
      } finally {
        await mnt.unmount()
      }
    } finally {
      await client.destroy()
      await fuse.unmount()
    }
  })
})

test.run()
