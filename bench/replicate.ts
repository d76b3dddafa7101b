/**
 * replicate against its peers, in one run (issue 3's targets):
 *   - clone of a 2 GiB file on XFS (reflink=1) vs `cp --reflink=always` on the same file system;
 *   - 100,000 ranges of 4 KiB on tmpfs, in ranges per second;
 *   - a 2 GiB `replicate --type copy` vs `copy` of the same file on the project disk, cold cache.
 * Needs root (loop mount, tmpfs, drop_caches) and mkfs.xfs.
 *
 *   npm run bench:replicate [-- --runs 3]
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { createClient } from '../src/index.js'
import { writeRandomFile } from '../test/helpers/tmp.js'

const at = process.argv.indexOf('--runs')
const runs = at > 0 ? Number(process.argv[at + 1]) : 3
const GiB = 1024 ** 3
const work = mkdtempSync(join('/var/tmp', 'blockcopy-bench-replicate-'))
const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] })
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number
const dropCaches = () => sh('sh', ['-c', 'sync; echo 3 > /proc/sys/vm/drop_caches'])
const client = await createClient({})
await client.probeWorkers()
const mounts: string[] = []
try {
  // 1. Clone on XFS.
  const xfs = join(work, 'xfs')
  mkdirSync(xfs)
  sh('truncate', ['-s', '3G', join(work, 'xfs.img')])
  sh('mkfs.xfs', ['-q', '-f', '-m', 'reflink=1', join(work, 'xfs.img')])
  sh('mount', ['-o', 'loop', join(work, 'xfs.img'), xfs])
  mounts.push(xfs)
  writeRandomFile(join(xfs, 'src.img'), 2 * GiB, 1)
  sh('sync', [])
  const cp: number[] = []
  const bc: number[] = []
  for (let i = 0; i < runs; i++) {
    rmSync(join(xfs, 'cp.img'), { force: true })
    rmSync(join(xfs, 'bc.img'), { force: true })
    let t = performance.now()
    sh('cp', ['--reflink=always', join(xfs, 'src.img'), join(xfs, 'cp.img')])
    cp.push(performance.now() - t)
    t = performance.now()
    const r = await client.replicate(join(xfs, 'src.img'), join(xfs, 'bc.img'), [{ srcOffset: 0, dstOffset: 0, length: 2 * GiB }], { type: 'clone' }).result
    bc.push(performance.now() - t)
    if (!r.ok || r.method !== 'clone') throw new Error(`clone failed: ${JSON.stringify(r.errors)}`)
  }
  console.log(`clone 2 GiB on XFS: cp --reflink=always ${median(cp).toFixed(1)} ms (process included), replicate clone ${median(bc).toFixed(1)} ms: ${(median(bc) / median(cp)).toFixed(2)}x the time (target <= 2x)`)

  // 2. 100,000 ranges of 4 KiB on tmpfs.
  const tmp = join(work, 'tmpfs')
  mkdirSync(tmp)
  sh('mount', ['-t', 'tmpfs', '-o', 'size=1g', 'tmpfs', tmp])
  mounts.push(tmp)
  const n = 100_000
  writeRandomFile(join(tmp, 'src.img'), n * 4096, 2)
  const ranges = Array.from({ length: n }, (_, i) => ({ srcOffset: i * 4096, dstOffset: (n - 1 - i) * 4096, length: 4096 }))
  const rates: number[] = []
  for (let i = 0; i < runs; i++) {
    rmSync(join(tmp, 'dst.img'), { force: true })
    const t = performance.now()
    const r = await client.replicate(join(tmp, 'src.img'), join(tmp, 'dst.img'), ranges, { type: 'copy' }).result
    rates.push(n / ((performance.now() - t) / 1000))
    if (!r.ok) throw new Error('ranges failed')
  }
  console.log(`100,000 ranges of 4 KiB on tmpfs: median ${median(rates).toFixed(0)} ranges/s (target >= 50,000)`)

  // 3. replicate --type copy vs copy, 2 GiB, cold cache.
  const src = join(work, 'src.img')
  writeRandomFile(src, 2 * GiB, 3)
  const copy: number[] = []
  const rep: number[] = []
  for (let i = 0; i < runs; i++) {
    rmSync(join(work, 'dst.img'), { force: true })
    dropCaches()
    copy.push((await client.copy({ path: src }, [{ path: join(work, 'dst.img') }], { verify: 'hash' }).result).elapsedMs)
    rmSync(join(work, 'dst.img'), { force: true })
    dropCaches()
    rep.push((await client.replicate(src, join(work, 'dst.img'), [{ srcOffset: 0, dstOffset: 0, length: 2 * GiB }], { type: 'copy', verify: 'hash' }).result).elapsedMs)
  }
  const gbps = (ms: number) => (2 * GiB / 1e9 / (ms / 1000)).toFixed(3)
  console.log(`2 GiB, cold cache, --verify hash: copy ${gbps(median(copy))} GB/s, replicate --type copy ${gbps(median(rep))} GB/s: ${(median(copy) / median(rep)).toFixed(2)}x (target 1.0x)`)
} finally {
  await client.destroy()
  for (const m of mounts.reverse()) sh('umount', [m])
  rmSync(work, { recursive: true, force: true })
}
