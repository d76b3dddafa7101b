/**
 * Incremental copy against a full copy (issue 4's target): a 2 GiB source,
 * 1 % of its chunks changed between runs; `copy --since` (hash the source,
 * write only the changed chunks) against a full `copy` of the same source,
 * both with cold caches, interleaved. Target: the incremental at least 3 ×
 * faster. Needs root (drop_caches).
 *
 * With --checkpoint the source lives on a fresh XFS (reflink) image on the
 * same disk, and a third contender runs `copy --since --baseline` (chunks
 * the last run's clone still shares are not read) onto its own destination.
 * Destinations stay on the project disk. Times are wall times from the
 * call to copy() to the new manifest (a checkpoint's clone included).
 *
 *   npm run bench:incremental [-- --runs 5 --size 2GiB --checkpoint]
 */
import { execFileSync } from 'node:child_process'
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs'
import { randomBytes, randomInt } from 'node:crypto'
import { join } from 'node:path'
import { createClient, parseSize, type CopyResult, type Manifest } from '../src/index.js'
import { mountXfs, type ImageMount } from '../test/helpers/mounts.js'
import { cmpFiles, writeRandomFile } from '../test/helpers/tmp.js'

const arg = (name: string, fallback: string) => {
  const at = process.argv.indexOf(name)
  return at > 0 ? (process.argv[at + 1] as string) : fallback
}
const runs = Number(arg('--runs', '5'))
const size = parseSize(arg('--size', '2GiB'), '--size')
const withCheckpoint = process.argv.includes('--checkpoint')
const CHUNK = 1024 * 1024
const work = mkdtempSync(join('/var/tmp', 'blockcopy-bench-incremental-'))
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number
const dropCaches = () => execFileSync('sh', ['-c', 'sync; echo 3 > /proc/sys/vm/drop_caches'])
const gbps = (ms: number) => (size / 1e9 / (ms / 1000)).toFixed(3)
const mib = (bytes: number) => (bytes / CHUNK).toFixed(0)

/** Changes a few bytes in 1 % of the source's chunks, chosen at random. */
function mutate(path: string): number {
  const chunks = Math.ceil(size / CHUNK)
  const picks = new Set<number>()
  while (picks.size < Math.max(1, Math.round(chunks / 100))) picks.add(randomInt(chunks))
  const fd = openSync(path, 'r+')
  for (const c of picks) {
    const at = c * CHUNK + randomInt(Math.min(CHUNK, size - c * CHUNK) - 16)
    writeSync(fd, randomBytes(16), 0, 16, at)
  }
  closeSync(fd)
  return picks.size
}

interface Contender {
  name: string
  label: string
  ms: number[]
  /** One run: its result, and its wall time from the call to copy() to the new manifest (the clone and extent maps of a checkpoint, taken before the job starts, included). */
  run(): Promise<{ r: CopyResult; ms: number }>
}

const client = await createClient({})
await client.probeWorkers()
let xfs: ImageMount | null = null
try {
  let srcDir = work
  if (withCheckpoint) {
    const m = await mountXfs(join(work, 'xfs.img'), join(work, 'xfs'), size * 2 + 512 * CHUNK)
    if (typeof m === 'string') throw new Error(`--checkpoint needs an XFS image: ${m}`)
    xfs = m
    srcDir = m.dir
  }
  const src = join(srcDir, 'src.img')
  const dsts = join(work, 'dst')
  mkdirSync(dsts)
  const full = join(dsts, 'full.img')
  writeRandomFile(src, size, 5)
  /** A destination seeded with a full copy, and its manifest, for one incremental contender. */
  const seed = async (name: string) => {
    const path = join(dsts, `${name}.img`)
    if (!(await client.copy({ path: src }, [{ path }]).result).ok) throw new Error('seeding copy failed')
    return { path, manifest: (await client.hash(path).manifest) as Manifest }
  }
  const incremental = async (name: string, label: string, checkpoint?: string): Promise<Contender> => {
    const d = await seed(name)
    return {
      name, label, ms: [],
      run: async () => {
        const started = performance.now()
        const job = client.copy({ path: src }, [{ path: d.path }], { since: d.manifest, ...(checkpoint ? { baseline: checkpoint } : {}) })
        const r = await job.result
        if (!r.ok || !r.incremental) throw new Error(`${label} failed: ${JSON.stringify(r.errors)}`)
        d.manifest = (await job.manifest) as Manifest
        const ms = performance.now() - started
        if (!cmpFiles(src, d.path)) throw new Error(`${label}: the destination differs from the source`)
        return { r, ms }
      },
    }
  }
  const contenders: Contender[] = [
    {
      name: 'full', label: 'full copy', ms: [],
      run: async () => {
        rmSync(full, { force: true })
        const started = performance.now()
        const r = await client.copy({ path: src }, [{ path: full }]).result
        if (!r.ok) throw new Error('full copy failed')
        return { r, ms: performance.now() - started }
      },
    },
    await incremental('since', 'incremental --since'),
  ]
  if (withCheckpoint) {
    const c = await incremental('ckpt', 'incremental --since --checkpoint', join(srcDir, 'src.ckpt'))
    // The first run with a checkpoint has none to compare with: it reads everything, untimed.
    await c.run()
    contenders.push(c)
  }
  for (let i = 0; i < runs; i++) {
    const changed = mutate(src)
    // Rotate which goes first, so none always meets the others' dirty pages.
    const order = contenders.map((_, k) => contenders[(k + i) % contenders.length] as Contender)
    const line: string[] = []
    for (const c of order) {
      dropCaches()
      const { r, ms } = await c.run()
      c.ms.push(ms)
      const inc = r.incremental
      const ck = inc?.checkpoint
      line.push(`${c.label} ${ms.toFixed(0)} ms${inc ? ` (wrote ${mib(inc.writtenBytes)} MiB${ck ? `, did not read ${mib(ck.unreadBytes)} MiB` : ''})` : ''}`)
    }
    console.log(`run ${i + 1}: ${changed} chunks changed; ${line.join('; ')}`)
  }
  const base = contenders[0] as Contender
  console.log(`\n${(size / 2 ** 30).toFixed(2)} GiB${withCheckpoint ? ' on an XFS (reflink) image' : ''}, 1 % of 1 MiB chunks changed per run, cold cache, ${runs} runs (medians):`)
  for (const c of contenders) {
    const m = median(c.ms)
    const ratio = median(base.ms) / m
    const verdict = c === base ? '' : `; ${ratio.toFixed(2)} × faster: ${ratio >= 3 ? 'PASS' : 'FAIL'} (target >= 3 ×)`
    console.log(`  ${c.label.padEnd(34)} ${m.toFixed(0)} ms (${gbps(m)} GB/s of source), min–max ${Math.min(...c.ms).toFixed(0)}–${Math.max(...c.ms).toFixed(0)}${verdict}`)
  }
} finally {
  await client.destroy()
  await xfs?.unmount()
  rmSync(work, { recursive: true, force: true })
}
