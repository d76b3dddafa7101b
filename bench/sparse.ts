/**
 * Sparse sources copied to a new file, against `cp --sparse=auto` in the
 * same run: a fragmented one (4 KiB of data every 8 KiB) and a nearly empty
 * one (4 KiB of data in 1 GiB). Each contender is a process timed wall clock
 * (Node's start included), its destination removed before each run, the
 * order rotated every round; medians. cp is followed by `sync -d DST`
 * (fdatasync), as blockcopy syncs before it reports. Warm cache: the
 * sources stay in the page cache. Allocation is `du` (st_blocks) of each
 * destination, which is compared with its source (`cmp`) once.
 *
 *   npm run bench:sparse -- [--target DIR] [--runs N] [--base DIR] [--frag SIZE] [--sparse SIZE]
 *
 * --base DIR adds `blockcopy (base)`: DIR/cli/blockcopy.js, a bundle of
 * another version made with `node scripts/bundle.mjs DIR` (inside the
 * package), to measure a change before and after in one run.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { closeSync, ftruncateSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from 'node:fs'
import { randomFillSync } from 'node:crypto'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'
import { parseSize } from '../src/units.js'

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)))
const { values } = parseArgs({
  options: {
    target: { type: 'string', default: '/var/tmp' },
    runs: { type: 'string', default: '7' },
    base: { type: 'string' },
    frag: { type: 'string', default: '256MiB' },
    sparse: { type: 'string', default: '1GiB' },
  },
})
const runs = Number(values.runs)
const work = mkdtempSync(join(resolve(values.target), 'blockcopy-bench-sparse-'))
const KiB = 1024
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number

/** A file of `size` bytes that is a hole but for 4 KiB of random bytes at each of `at`. */
function sparseFile(path: string, size: number, at: Iterable<number>): void {
  const fd = openSync(path, 'w')
  const block = Buffer.alloc(4 * KiB)
  try {
    ftruncateSync(fd, size)
    for (const offset of at) writeSync(fd, randomFillSync(block), 0, block.length, offset)
  } finally {
    closeSync(fd)
  }
}

function* every8KiB(size: number): Generator<number> {
  for (let at = 0; at < size; at += 8 * KiB) yield at
}

interface Contender {
  name: string
  argv: (src: string, dst: string) => string[][]
}

const blockcopy = (bin: string, ...flags: string[]) => (src: string, dst: string) => [[process.execPath, bin, 'copy', src, dst, '--progress', 'none', '--json', ...flags]]
const contenders: Contender[] = [
  { name: 'cp --sparse=auto + sync -d', argv: (src, dst) => [['cp', '--sparse=auto', src, dst], ['sync', '-d', dst]] },
  { name: 'blockcopy (default)', argv: blockcopy(join(ROOT, 'bin', 'blockcopy.js')) },
  { name: 'blockcopy --no-sparse', argv: blockcopy(join(ROOT, 'bin', 'blockcopy.js'), '--no-sparse') },
  { name: 'blockcopy --sparse', argv: blockcopy(join(ROOT, 'bin', 'blockcopy.js'), '--sparse') },
  ...(values.base ? [{ name: 'blockcopy (base, default)', argv: blockcopy(join(resolve(values.base), 'cli', 'blockcopy.js')) }] : []),
]

/** Runs each command in turn; wall clock of all of them in ms, and the job's own elapsedMs where one printed it. */
function timed(commands: string[][]): { wallMs: number; jobMs: number | null } {
  const t = performance.now()
  let jobMs: number | null = null
  for (const [cmd, ...args] of commands) {
    const r = spawnSync(cmd as string, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status}: ${r.stderr}`)
    if (r.stdout.startsWith('{')) jobMs = (JSON.parse(r.stdout) as { elapsedMs: number }).elapsedMs
  }
  return { wallMs: performance.now() - t, jobMs }
}

function bench(label: string, src: string): void {
  const wall = new Map<string, number[]>(contenders.map((c) => [c.name, []]))
  const job = new Map<string, number[]>(contenders.map((c) => [c.name, []]))
  const allocated = new Map<string, number>()
  for (let round = 0; round < runs; round++) {
    // Rotated each round, so no contender always follows the same one.
    const order = contenders.map((_, i) => contenders[(i + round) % contenders.length] as Contender)
    for (const c of order) {
      const dst = join(work, 'dst.img')
      rmSync(dst, { force: true })
      const r = timed(c.argv(src, dst))
      wall.get(c.name)?.push(r.wallMs)
      if (r.jobMs !== null) job.get(c.name)?.push(r.jobMs)
      if (!allocated.has(c.name)) {
        execFileSync('cmp', [src, dst])
        allocated.set(c.name, statSync(dst).blocks * 512)
      }
    }
  }
  rmSync(join(work, 'dst.img'), { force: true })
  const cp = median(wall.get(contenders[0]?.name ?? '') ?? [])
  const dense = median(wall.get('blockcopy --no-sparse') ?? [])
  console.log(`\n${label}: ${runs} runs each, medians (min-max), wall clock of the process\n`)
  console.log('| contender | wall s | job s | allocated | × cp | × --no-sparse |')
  console.log('|---|---|---|---|---|---|')
  for (const c of contenders) {
    const w = wall.get(c.name) ?? []
    const j = job.get(c.name) ?? []
    const m = median(w)
    const range = `${(Math.min(...w) / 1000).toFixed(3)}-${(Math.max(...w) / 1000).toFixed(3)}`
    const mib = ((allocated.get(c.name) ?? 0) / KiB / KiB).toFixed(2)
    console.log(`| ${c.name} | ${(m / 1000).toFixed(3)} (${range}) | ${j.length > 0 ? (median(j) / 1000).toFixed(3) : '-'} | ${mib} MiB | ${(m / cp).toFixed(2)} | ${(m / dense).toFixed(2)} |`)
  }
}

try {
  const frag = parseSize(values.frag, '--frag')
  const fragged = join(work, 'fragmented.img')
  sparseFile(fragged, frag, every8KiB(frag))
  const size = parseSize(values.sparse, '--sparse')
  const empty = join(work, 'nearly-empty.img')
  sparseFile(empty, size, [Math.floor(size / 3 / (4 * KiB)) * 4 * KiB])
  console.log(`target ${work}; load average ${execFileSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).trim()}`)
  bench(`${values.frag} with 4 KiB of data every 8 KiB, to a new file`, fragged)
  bench(`${values.sparse} with 4 KiB of data, to a new file`, empty)
  console.log(`\nload average at the end ${execFileSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).trim()}`)
} finally {
  rmSync(work, { recursive: true, force: true })
}
