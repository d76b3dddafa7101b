/**
 * Incremental copy against a full copy (issue 4's target): a 2 GiB source on
 * the project disk, 1 % of its chunks changed between runs; `copy --since`
 * (hash the source, write only the changed chunks) against a full `copy` of
 * the same source, both with cold caches, interleaved. Target: the
 * incremental at least 3 × faster. Needs root (drop_caches).
 *
 *   npm run bench:incremental [-- --runs 5 --size 2GiB]
 */
import { execFileSync } from 'node:child_process'
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs'
import { randomBytes, randomInt } from 'node:crypto'
import { join } from 'node:path'
import { createClient, parseSize, type Manifest } from '../src/index.js'
import { cmpFiles, writeRandomFile } from '../test/helpers/tmp.js'

const arg = (name: string, fallback: string) => {
  const at = process.argv.indexOf(name)
  return at > 0 ? (process.argv[at + 1] as string) : fallback
}
const runs = Number(arg('--runs', '5'))
const size = parseSize(arg('--size', '2GiB'), '--size')
const CHUNK = 1024 * 1024
const work = mkdtempSync(join('/var/tmp', 'blockcopy-bench-incremental-'))
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number
const dropCaches = () => execFileSync('sh', ['-c', 'sync; echo 3 > /proc/sys/vm/drop_caches'])
const gbps = (ms: number) => (size / 1e9 / (ms / 1000)).toFixed(3)

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

const client = await createClient({})
await client.probeWorkers()
try {
  const src = join(work, 'src.img')
  const dst = join(work, 'dst.img')
  const full = join(work, 'full.img')
  writeRandomFile(src, size, 5)
  const first = client.copy({ path: src }, [{ path: dst }])
  if (!(await first.result).ok) throw new Error('seeding copy failed')
  let manifest = (await client.hash(dst).manifest) as Manifest
  const fullMs: number[] = []
  const incMs: number[] = []
  const written: number[] = []
  for (let i = 0; i < runs; i++) {
    const changed = mutate(src)
    // Alternate which goes first, so neither always meets the other's dirty pages.
    const order = i % 2 === 0 ? ['full', 'inc'] : ['inc', 'full']
    for (const which of order) {
      dropCaches()
      if (which === 'full') {
        rmSync(full, { force: true })
        const r = await client.copy({ path: src }, [{ path: full }]).result
        if (!r.ok) throw new Error('full copy failed')
        fullMs.push(r.elapsedMs)
      } else {
        const job = client.copy({ path: src }, [{ path: dst }], { since: manifest })
        const r = await job.result
        if (!r.ok || !r.incremental) throw new Error('incremental copy failed')
        incMs.push(r.elapsedMs)
        written.push(r.incremental.writtenBytes)
        manifest = (await job.manifest) as Manifest
        console.log(`run ${i + 1}: ${changed} chunks changed; incremental wrote ${(r.incremental.writtenBytes / CHUNK).toFixed(0)} MiB, skipped ${(r.incremental.skippedBytes / CHUNK).toFixed(0)} MiB in ${r.elapsedMs.toFixed(0)} ms`)
      }
    }
  }
  if (!cmpFiles(src, dst)) throw new Error('the incremental destination differs from the source')
  const ratio = median(fullMs) / median(incMs)
  console.log(`\n${(size / 2 ** 30).toFixed(2)} GiB, 1 % of 1 MiB chunks changed per run, cold cache, ${runs} runs (medians):`)
  console.log(`  full copy:           ${median(fullMs).toFixed(0)} ms (${gbps(median(fullMs))} GB/s), min–max ${Math.min(...fullMs).toFixed(0)}–${Math.max(...fullMs).toFixed(0)}`)
  console.log(`  incremental --since: ${median(incMs).toFixed(0)} ms (${gbps(median(incMs))} GB/s of source), min–max ${Math.min(...incMs).toFixed(0)}–${Math.max(...incMs).toFixed(0)}; wrote ${(median(written) / CHUNK).toFixed(0)} MiB`)
  console.log(`  incremental ${ratio.toFixed(2)} × faster: ${ratio >= 3 ? 'PASS' : 'FAIL'} (target >= 3 ×)`)
} finally {
  await client.destroy()
  rmSync(work, { recursive: true, force: true })
}
