/**
 * How long an incremental copy with a reflink baseline holds the calling thread's
 * event loop (issue 15: the main thread plans, workers do I/O). A source of
 * --size on a fresh XFS (reflink) image, its destination seeded and hashed;
 * each run changes 1 % of the source's chunks (left dirty in the page
 * cache, as a live image would be), drops caches, then runs
 * `copy --since M --baseline C` while perf_hooks monitorEventLoopDelay
 * and a 10 ms interval timer watch the event loop. Reports, per run, the
 * time copy() itself took to return (synchronous), the largest gap between
 * two ticks of the timer, and the event loop delay's max and p99, from the
 * call to copy() to the new manifest. Needs root (mount, drop_caches).
 *
 *   npm run bench:event-loop [-- --runs 3 --size 1GiB]
 */
import { execFileSync } from 'node:child_process'
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs'
import { randomBytes, randomInt } from 'node:crypto'
import { join } from 'node:path'
import { monitorEventLoopDelay, performance } from 'node:perf_hooks'
import { createClient, parseSize, type Manifest } from '../src/index.js'
import { mountXfs } from '../test/helpers/mounts.js'
import { writeRandomFile } from '../test/helpers/tmp.js'

const arg = (name: string, fallback: string) => {
  const at = process.argv.indexOf(name)
  return at > 0 ? (process.argv[at + 1] as string) : fallback
}
const runs = Number(arg('--runs', '3'))
const size = parseSize(arg('--size', '1GiB'), '--size')
const CHUNK = 1024 * 1024
const work = mkdtempSync(join('/var/tmp', 'blockcopy-bench-event-loop-'))
const dropCaches = () => execFileSync('sh', ['-c', 'sync; echo 3 > /proc/sys/vm/drop_caches'])
const ms = (x: number) => x.toFixed(1)

/** Changes 16 bytes in 1 % of the source's chunks, not synced. */
function mutate(path: string): void {
  const chunks = Math.ceil(size / CHUNK)
  const fd = openSync(path, 'r+')
  for (let n = 0; n < Math.max(1, Math.round(chunks / 100)); n++) {
    const c = randomInt(chunks)
    writeSync(fd, randomBytes(16), 0, 16, c * CHUNK + randomInt(Math.min(CHUNK, size - c * CHUNK) - 16))
  }
  closeSync(fd)
}

const client = await createClient({})
await client.probeWorkers()
const xfs = await mountXfs(join(work, 'xfs.img'), join(work, 'xfs'), size * 3 + 512 * CHUNK)
if (typeof xfs === 'string') throw new Error(`needs an XFS image: ${xfs}`)
try {
  const src = join(xfs.dir, 'src.img')
  const dst = join(xfs.dir, 'dst.img')
  const ckpt = join(xfs.dir, 'src.ckpt')
  writeRandomFile(src, size, 5)
  if (!(await client.copy({ path: src }, [{ path: dst }]).result).ok) throw new Error('seeding copy failed')
  let manifest = (await client.hash(dst, { chunkBytes: CHUNK }).manifest) as Manifest
  console.log(`copy --since --baseline of ${size} bytes on XFS (reflink), ${runs} runs; times in ms`)
  console.log('run  copy() returned  largest timer gap  loop delay max  loop delay p99  checkpoint used')
  for (let i = 1; i <= runs; i++) {
    mutate(src)
    dropCaches()
    const delay = monitorEventLoopDelay({ resolution: 10 })
    let last = performance.now()
    let gap = 0
    const timer = setInterval(() => {
      const now = performance.now()
      gap = Math.max(gap, now - last)
      last = now
    }, 10)
    delay.enable()
    const t0 = performance.now()
    last = t0
    const job = client.copy({ path: src }, [{ path: dst }], { since: manifest, baseline: ckpt })
    const returned = performance.now() - t0
    const r = await job.result
    const next = await job.manifest
    delay.disable()
    clearInterval(timer)
    if (!r.ok || !next) throw new Error(`run ${i} failed: ${JSON.stringify(r.errors)}`)
    manifest = next
    const used = r.incremental?.checkpoint?.used === true
    console.log(`${i}    ${ms(returned).padStart(14)}  ${ms(gap).padStart(17)}  ${ms(delay.max / 1e6).padStart(14)}  ${ms(delay.percentile(99) / 1e6).padStart(14)}  ${used}`)
  }
} finally {
  await client.destroy()
  await xfs.unmount()
  rmSync(work, { recursive: true, force: true })
}
