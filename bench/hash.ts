/**
 * blockcopy hash against xxhsum and fio, in one run, interleaved (issue 4's
 * targets): every round runs each contender once, in an order rotated per
 * round, each as its own process, from the page cache it is measured on:
 *   cached: xxhsum -H3, blockcopy hash, client.hash (the library, timed
 *           inside its process), the floor of blockcopy's stack (the same
 *           manifest by commander, Piscina and the same WebAssembly, none of
 *           the engine), blockcopy hash --xxhsum, with the
 *           whole file read just before (a run during which anything on the
 *           machine dropped the caches is discarded and run again);
 *   cold:   fio's sequential O_DIRECT read, blockcopy hash, with caches
 *           dropped just before (needs root).
 * Contenders and targets are listed in bench/lib/hash-contenders.ts.
 *
 *   npm run bench:hash -- [--size 2GiB] [--runs 3] [--only xxhsum,hash,...]
 *                         [--blockcopy-args "--threads 2"] [--dir DIR] [--json] [--out FILE]
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'
import { parseSizeBytes, UsageError } from './lib/args.js'
import { killRunning, runTimed } from './lib/contenders.js'
import { makeHashContenders, TARGETS, type HashContender } from './lib/hash-contenders.js'
import { fmt } from './lib/report.js'
import { writeRandomFile } from './lib/source.js'
import { dropCaches, freeBytes, hasGnuTime, isMemoryFs, machineInfo, makeDefaultWorkDir, mountOf, probeCacheMode } from './lib/system.js'

const GNU_TIME = '/usr/bin/time'
const MIB = 1024 * 1024
const CACHED_TRIES = 3
const repoRoot = fileURLToPath(new URL('..', import.meta.url))
const log = (line: string): void => void process.stderr.write(`${line}\n`)

const USAGE = `usage: npm run bench:hash -- [options]

Hashes one file with xxhsum -H3, blockcopy hash, client.hash, the floor of
blockcopy's stack (bench/lib/hash-floor.mjs) and blockcopy hash --xxhsum
from a cached page cache, and reads it with fio (O_DIRECT), blockcopy hash
and blockcopy verify from a cold one, interleaved; prints times, ratios and
the targets.

  --size SIZE             file size (default 2GiB)
  --runs N                timed runs per contender (default 3)
  --only LIST             contenders, comma-separated (default: all)
  --blockcopy-args "..."  extra flags for every blockcopy run, e.g. "--threads 2"
  --dir DIR               directory for the file (default: a temp dir on the
                          repository's disk, never tmpfs)
  --json                  print the whole result as JSON on stdout (table to stderr)
  --out FILE              also write the JSON result to FILE
  -h, --help              this text`

interface Options {
  sizeBytes: number
  runs: number
  only: string[] | undefined
  blockcopyArgs: string[]
  dir: string | undefined
  json: boolean
  out: string | undefined
}

function parseOptions(argv: string[]): Options | undefined {
  // `--blockcopy-args "--threads 2"`: a value starting with a dash must be joined with `=` for parseArgs.
  const args = argv.flatMap((a, i) => (argv[i - 1] === '--blockcopy-args' ? [] : a === '--blockcopy-args' ? [`${a}=${argv[i + 1] ?? ''}`] : [a]))
  let values
  try {
    values = parseArgs({
      args,
      options: {
        size: { type: 'string', default: '2GiB' },
        runs: { type: 'string', default: '3' },
        only: { type: 'string' },
        'blockcopy-args': { type: 'string', default: '' },
        dir: { type: 'string' },
        json: { type: 'boolean', default: false },
        out: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }).values
  } catch (error: unknown) {
    throw new UsageError(error instanceof Error ? error.message : String(error))
  }
  if (values.help === true) return undefined
  const runs = Number(values.runs)
  if (!Number.isInteger(runs) || runs < 1 || runs > 100) throw new UsageError(`--runs: "${values.runs}" must be a whole number from 1 to 100`)
  return {
    sizeBytes: parseSizeBytes(values.size ?? '2GiB', '--size'),
    runs,
    only: values.only?.split(',').map((s) => s.trim()).filter((s) => s !== ''),
    blockcopyArgs: (values['blockcopy-args'] ?? '').split(/\s+/).filter((a) => a !== ''),
    dir: values.dir,
    json: values.json === true,
    out: values.out,
  }
}

/** How many times the kernel has dropped the page cache since boot (any process, echo 1 or 3 > drop_caches). */
function pageCacheDrops(): number {
  const m = /^drop_pagecache (\d+)$/m.exec(readFileSync('/proc/vmstat', 'utf8'))
  return m ? Number(m[1]) : NaN
}

/** Reads the whole file, so that the next run finds it in the page cache. */
function warm(file: string): void {
  const r = spawnSync('cat', ['--', file], { stdio: ['ignore', 'ignore', 'inherit'] })
  if (r.status !== 0) throw new Error(`cat ${file} failed: ${r.error?.message ?? `exit ${r.status}`}`)
}

interface Run {
  round: number
  elapsedMs: number
  bytesPerSecond: number
  peakRssKiB: number
  /** Earlier tries of this run thrown away because the caches were dropped during them. */
  discarded: number
}

interface Summary {
  name: string
  label: string
  command: string
  runs: Run[]
  medianMs: number
  minMs: number
  maxMs: number
  medianBytesPerSecond: number
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2
}

/** The time a `timing: 'reported'` contender measured itself: the elapsedMs of its JSON output. */
function reportedMs(c: HashContender, stdout: string): number {
  const ms = (JSON.parse(stdout) as { elapsedMs?: unknown }).elapsedMs
  if (typeof ms !== 'number' || !(ms > 0)) throw new Error(`${c.label} reported no elapsedMs: ${stdout.slice(0, 200)}`)
  return ms
}

/** The first run's output, checked: the same xxhsum digest, the same manifest root, from every contender that prints one. */
class OutputChecks {
  private readonly seen = new Map<string, { value: string; by: string }>()

  check(c: HashContender, stdout: string): string | undefined {
    let value: string | undefined
    if (c.check === 'xxhsum-line') {
      value = /^XXH3 \(.*\) = ([0-9a-f]{16})$/m.exec(stdout)?.[1]
      if (!value) throw new Error(`${c.label} printed no XXH3 line: ${stdout.slice(0, 200)}`)
    } else if (c.check === 'manifest-json') {
      const r = JSON.parse(stdout) as { ok?: boolean; files?: Array<{ root?: string }> }
      value = r.files?.[0]?.root
      if (r.ok !== true || !value) throw new Error(`${c.label} did not succeed: ${stdout.slice(0, 200)}`)
    } else {
      return undefined
    }
    const before = this.seen.get(c.check)
    if (before && before.value !== value) throw new Error(`${c.label} gives ${value}, but ${before.by} gave ${before.value}`)
    this.seen.set(c.check, before ?? { value, by: c.label })
    return value
  }
}

/** Runs the comparison; a missed target is a finding, not an error, so only failures change the exit code. */
async function main(o: Options): Promise<number> {
  const bin = join(repoRoot, 'bin', 'blockcopy.js')
  if (!existsSync(join(repoRoot, 'dist', 'cli', 'blockcopy.js'))) throw new UsageError('dist/ is missing: run npm run build first')
  if (!hasGnuTime(GNU_TIME)) throw new UsageError(`peak RSS is measured with GNU time at ${GNU_TIME}: apt-get install time`)
  const cache = probeCacheMode()
  const library = [process.execPath, join(repoRoot, 'bench', 'lib', 'hash-library.mjs')]
  const floor = [process.execPath, join(repoRoot, 'bench', 'lib', 'hash-floor.mjs')]
  let contenders = makeHashContenders({ blockcopy: [process.execPath, bin], library, floor, blockcopyArgs: o.blockcopyArgs })
  if (o.only) {
    const unknown = o.only.filter((n) => !contenders.some((c) => c.name === n))
    if (unknown.length > 0) throw new UsageError(`--only: no contender ${unknown.join(', ')} (choose from ${contenders.map((c) => c.name).join(',')})`)
    contenders = contenders.filter((c) => o.only?.includes(c.name))
  }
  if (cache.kind !== 'cold' && contenders.some((c) => c.phase === 'cold')) {
    log(`cold runs left out: ${cache.reason}`)
    contenders = contenders.filter((c) => c.phase !== 'cold')
  }
  for (const tool of new Set(contenders.map((c) => c.command('F')[0] as string))) {
    if (spawnSync(tool, ['--version'], { stdio: 'ignore' }).error) throw new UsageError(`${tool} is not installed (apt-get install xxhash fio)`)
  }

  const dir = o.dir === undefined ? makeDefaultWorkDir(repoRoot) : mkdtempSync(join(resolve(o.dir), 'blockcopy-bench-'))
  const cleanup = () => rmSync(dir, { recursive: true, force: true })
  process.once('SIGINT', () => {
    killRunning()
    cleanup()
    process.exit(130)
  })
  try {
    const mount = mountOf(dir)
    if (isMemoryFs(mount)) throw new UsageError(`--dir: ${dir} is on ${mount.fsType}; use a directory on a disk`)
    if (freeBytes(dir) < 2 * o.sizeBytes + 64 * MIB) throw new UsageError(`--size: ${dir} has too little room for the file and its replica (2 × ${o.sizeBytes} bytes)`)
    const file = join(dir, 'source.bin')
    log(`file: ${fmt(o.sizeBytes / MIB, 0)} MiB of pseudo-random bytes in ${dir} (${mount.fsType} on ${mount.source})`)
    await writeRandomFile(file, o.sizeBytes, () => false)
    for (const c of contenders) log(`  ${c.label.padEnd(34)} ${c.note}`)
    for (const c of contenders) c.prepare?.(file)

    const runs = new Map<string, Run[]>(contenders.map((c) => [c.name, []]))
    const checks = new OutputChecks()
    const results: Record<string, string> = {}
    for (let round = 0; round < o.runs; round++) {
      const order = contenders.map((_, i) => contenders[(i + round) % contenders.length] as HashContender)
      for (const c of order) {
        let discarded = 0
        for (;;) {
          if (c.phase === 'cold') dropCaches()
          else warm(file)
          const drops = pageCacheDrops()
          const m = await runTimed(GNU_TIME, join(dir, 'rss.txt'), c.command(file))
          if (m.exitCode !== 0) throw new Error(`${c.label} failed (exit ${m.exitCode ?? m.signal}): ${m.stderr.trim().slice(-1000)}`)
          if (c.phase === 'cached' && pageCacheDrops() !== drops && discarded + 1 < CACHED_TRIES) {
            discarded++
            log(`round ${round + 1}  ${c.label}: the page cache was dropped during the run (by another process); run again`)
            continue
          }
          const elapsedMs = c.timing === 'reported' ? reportedMs(c, m.stdout) : m.elapsedMs
          const run = { round, elapsedMs, bytesPerSecond: o.sizeBytes / (elapsedMs / 1000), peakRssKiB: m.peakRssKiB, discarded }
          runs.get(c.name)?.push(run)
          log(`round ${round + 1}/${o.runs}  ${c.label.padEnd(34)} ${fmt(elapsedMs / 1000, 3)} s  ${fmt(run.bytesPerSecond / 1e9, 2)} GB/s  peak RSS ${fmt(m.peakRssKiB / 1024, 0)} MiB`)
          if (round === 0) {
            const value = checks.check(c, m.stdout)
            if (value) results[c.name] = value
          }
          break
        }
      }
    }

    const summaries: Summary[] = contenders.map((c) => {
      const rs = runs.get(c.name) ?? []
      const ms = rs.map((r) => r.elapsedMs)
      return {
        name: c.name, label: c.label, command: c.command('FILE').join(' ').replace(process.execPath, 'node'), runs: rs,
        medianMs: median(ms), minMs: Math.min(...ms), maxMs: Math.max(...ms), medianBytesPerSecond: o.sizeBytes / (median(ms) / 1000),
      }
    })
    const byName = new Map(summaries.map((s) => [s.name, s]))
    const targets = TARGETS.map((t) => {
      const a = byName.get(t.contender)
      const b = byName.get(t.peer)
      if (!a || !b) return { ...t, status: 'n/a' as const }
      const ratio = b.medianMs / a.medianMs
      if (t.info) return { ...t, ratio, status: 'INFO' as const }
      return { ...t, ratio, status: ratio >= t.atLeast ? ('PASS' as const) : ('FAIL' as const) }
    })

    const rows = [['contender', 'runs', 'median s', 'min-max s', 'median GB/s', 'median peak RSS MiB']]
    for (const s of summaries) {
      rows.push([s.label, String(s.runs.length), fmt(s.medianMs / 1000, 3), `${fmt(s.minMs / 1000, 3)}-${fmt(s.maxMs / 1000, 3)}`,
        fmt(s.medianBytesPerSecond / 1e9, 2), fmt(median(s.runs.map((r) => r.peakRssKiB)) / 1024, 0)])
    }
    const widths = (rows[0] as string[]).map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)))
    const table = rows.map((r) => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  '))
    const discardedRuns = summaries.reduce((n, s) => n + s.runs.reduce((k, r) => k + r.discarded, 0), 0)
    const report = [
      `hash of ${fmt(o.sizeBytes / MIB, 0)} MiB, ${o.runs} run(s) per contender, interleaved, order rotated per round` +
        (o.blockcopyArgs.length > 0 ? `; blockcopy args: ${o.blockcopyArgs.join(' ')}` : ''),
      `cached runs discarded because another process dropped the page cache meanwhile: ${discardedRuns}`,
      '',
      ...table,
      '',
      'targets (ratio of median throughputs; INFO lines are no target):',
      ...targets.map((t) => `  ${t.status.padEnd(4)}  ${t.label}: ${'ratio' in t ? `${fmt(t.ratio as number, 2)}x` : 'not run'}`),
      '',
      `digests: ${Object.entries(results).map(([k, v]) => `${k} ${v}`).join(', ')}`,
    ].join('\n')
    if (o.json) log(`\n${report}`)
    else process.stdout.write(`\n${report}\n`)
    const json = JSON.stringify({
      benchmark: 'hash', date: new Date().toISOString(), machine: machineInfo(),
      config: { sizeBytes: o.sizeBytes, runs: o.runs, blockcopyArgs: o.blockcopyArgs, fsType: mount.fsType, device: mount.source },
      contenders: summaries, targets, results,
    }, null, 2)
    if (o.json) process.stdout.write(`${json}\n`)
    if (o.out !== undefined) writeFileSync(o.out, `${json}\n`)
    return 0
  } finally {
    cleanup()
  }
}

try {
  const options = parseOptions(process.argv.slice(2))
  if (options === undefined) process.stdout.write(`${USAGE}\n`)
  else process.exitCode = await main(options)
} catch (error: unknown) {
  log(error instanceof UsageError ? `error: ${error.message}\n(npm run bench:hash -- --help for the options)` : error instanceof Error ? (error.stack ?? error.message) : String(error))
  process.exitCode = error instanceof UsageError ? 2 : 1
}
