import { randomFillSync } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import nodePath from 'node:path'
import { spawn } from 'node:child_process'
import { Option, type Command } from 'commander'
import { createClient } from '../client.js'
import { BlockcopyError, SystemError, toSystemError } from '../errors.js'
import type { CopyResult, VerifyMode } from '../job.js'
import { PERCENTILES, PHASES, type JobTiming } from '../engine/timing.js'
import { fitBudget } from '../options.js'
import { writeRefusal } from '../files/regions.js'
import { CLI_BUDGET_NAMES, MEMORY_HELP, parseWhole } from './common.js'
import { EXIT } from './exit.js'
import { formatBytes, parseSize } from '../units.js'

/**
 * `blockcopy bench`: copies a generated file on this machine's storage and
 * measures each phase of every chunk (read, hash, write, read-back) and the
 * final sync, with fio's latency percentiles, CPU use and peak memory, for
 * each chunk size and thread count asked for. A table, or one JSON document.
 */
interface BenchFlags {
  size: string
  chunk: string
  threads?: string
  memory?: string
  direct?: boolean
  buffered?: boolean
  verify: VerifyMode
  destinations: string
  target: string
  runs: string
  dropCaches?: boolean
  json?: boolean
}

interface RunRecord {
  elapsedMs: number
  throughputBytesPerSec: number
  /** CPU time of the process (every worker thread included) over the run's wall time. */
  cpuPercent: number
  /** The process's peak resident memory so far (getrusage ru_maxrss). */
  peakRssBytes: number
  timing: JobTiming
}

interface Row {
  chunkBytes: number
  threads: number
  runs: RunRecord[]
  /** The run with the median throughput. */
  median: RunRecord
  minThroughputBytesPerSec: number
  maxThroughputBytesPerSec: number
}

function bad(argument: string, message: string): BlockcopyError {
  return new BlockcopyError('INVALID_ARGUMENT', `${argument}: ${message}`, argument)
}

function list(value: string, argument: string, parse: (s: string) => number): number[] {
  const out = value.split(',').map((s) => parse(s.trim()))
  if (out.length === 0) throw bad(argument, 'needs at least one value')
  return out
}

/** Every check before anything is written: sizes, lists, the target and its free space. */
function checked(f: BenchFlags) {
  const size = parseSize(f.size, '--size')
  if (size < 1) throw bad('--size', 'must be at least 1 byte')
  const chunks = list(f.chunk, '--chunk', (s) => parseSize(s, '--chunk'))
  const given = f.threads === undefined ? null : list(f.threads, '--threads', (s) => parseWhole(s, '--threads', { min: 1, max: 64 }))
  const destinations = parseWhole(f.destinations, '--destinations', { min: 1, max: 8 })
  const runs = parseWhole(f.runs, '--runs', { min: 1, max: 100 })
  if (f.direct && f.buffered) throw bad('--direct', 'and --buffered exclude each other')
  // Every combination must fit the memory budget, checked before anything
  // is written; without --threads, each chunk size gets the default count
  // the budget holds, as a copy would.
  const memoryBytes = f.memory === undefined ? undefined : parseSize(f.memory, '--memory')
  const memory = memoryBytes === undefined ? {} : { memoryBytes }
  const threadsFor = new Map(chunks.map((chunkBytes) => [chunkBytes, (given ?? [undefined]).map((t) => fitBudget({
    chunkBytes, ...memory, ...(t === undefined ? {} : { threads: t }),
  }, CLI_BUDGET_NAMES).threads)]))
  const threads = [...new Set([...threadsFor.values()].flat())]
  if (f.dropCaches && process.getuid?.() !== 0) throw bad('--drop-caches', 'needs root (it writes /proc/sys/vm/drop_caches)')
  let st: fs.Stats
  try {
    st = fs.statSync(f.target)
  } catch {
    throw new BlockcopyError('NOT_FOUND_VOLUME', `--target: ${f.target} does not exist`, 'target')
  }
  if (!st.isDirectory()) throw bad('--target', `${f.target} is not a directory`)
  const refused = writeRefusal(f.target)
  if (refused) throw bad('--target', `${f.target} cannot be written (${refused.code}), and the run makes its source and destinations there`)
  const free = (() => {
    const s = fs.statfsSync(f.target)
    return s.bavail * s.bsize
  })()
  const need = size * (1 + destinations)
  if (need > free) {
    throw bad('--target', `${f.target} has ${formatBytes(free)} free; the run needs ${formatBytes(need)} (a ${formatBytes(size)} source and ${destinations} destination${destinations > 1 ? 's' : ''})`)
  }
  return { size, chunks, threads, threadsFor, destinations, runs, memoryBytes, direct: f.direct ? 'always' as const : f.buffered ? 'never' as const : 'auto' as const }
}

/** Writes `size` random bytes to path, a piece at a time, so that a signal is seen between pieces. */
async function makeSource(path: string, size: number, signal: AbortSignal): Promise<void> {
  const buf = Buffer.alloc(Math.min(size, 8 * 1024 * 1024))
  const file = await fs.promises.open(path, 'w')
  try {
    for (let done = 0; done < size && !signal.aborted;) {
      const n = Math.min(buf.length, size - done)
      randomFillSync(buf, 0, n)
      done += (await file.write(buf, 0, n, done)).bytesWritten
    }
    if (!signal.aborted) await file.datasync()
  } finally {
    await file.close()
  }
}

/**
 * sync, then drops the page cache (root). Not synchronous, so a signal is
 * handled meanwhile; in a process group of its own, so a Ctrl-C meant for
 * bench does not kill it half-way (the copy that follows is then cancelled).
 */
function dropCaches(): Promise<void> {
  return new Promise((done, fail) => {
    const child = spawn('sh', ['-c', 'sync; echo 3 > /proc/sys/vm/drop_caches'], { detached: true, stdio: 'ignore' })
    child.on('error', fail)
    child.on('exit', (code, signal) => (code === 0 ? done() : fail(new Error(`bench: dropping the page cache failed (${code ?? signal})`))))
  })
}

/** A copy in the bench did not succeed: the figures would mean nothing. Exit 3. */
class BenchCopyFailed extends Error {
  constructor(readonly result: CopyResult) {
    super(`bench: a copy failed, so there is nothing to report: ${result.errors.map((e) => e.message).join('; ') || 'cancelled'}`)
  }
}

/** SIGINT or SIGTERM stopped the bench; its files are removed by then. */
class BenchInterrupted extends Error {
  constructor(readonly work: string) {
    super(`bench interrupted; removed its files (${work})`)
  }
}

const median = <T>(xs: T[], key: (x: T) => number): T => [...xs].sort((a, b) => key(a) - key(b))[Math.floor(xs.length / 2)] as T

/** Every rate bench prints, in the binary units of the rest of the CLI (--json has bytes per second). */
const rate = (bytesPerSec: number): string => `${formatBytes(Math.round(bytesPerSec))}/s`

/**
 * Generates the source, then copies it run after run. Aborting `signal`
 * stops the source's generation or cancels the running copy; either way the
 * work directory and everything in it is removed before this returns or
 * throws (BenchInterrupted when aborted).
 */
async function measure(f: BenchFlags, say: (line: string) => void, signal: AbortSignal, made: (work: string) => void) {
  const c = checked(f)
  // Every file bench writes is in a directory it has just made, so none can be another name of a file it was told of
  // (src/files/aliases.ts has nothing to compare: --target is all it is told, and it writes only inside).
  let work: string
  try {
    work = fs.mkdtempSync(nodePath.join(f.target, 'blockcopy-bench-'))
  } catch (err) {
    // What the check above cannot know (access() does not judge for a process with capabilities): still named, exit 2.
    const e = toSystemError(err, 'mkdtemp', f.target)
    throw new SystemError(`${e.code}: --target: cannot make the run's directory in ${f.target}`, e.code, e.errno, 'mkdtemp', f.target)
  }
  made(work)
  const stopped = () => {
    if (signal.aborted) throw new BenchInterrupted(work)
  }
  const rows: Row[] = []
  try {
    const src = nodePath.join(work, 'source.img')
    say(`writing a ${formatBytes(c.size)} source in ${work}`)
    await makeSource(src, c.size, signal)
    stopped()
    const dsts = Array.from({ length: c.destinations }, (_, i) => nodePath.join(work, `dest-${i + 1}.img`))
    for (const chunkBytes of c.chunks) {
      for (const threads of c.threadsFor.get(chunkBytes) ?? []) {
        const client = await createClient({
          threads, chunkBytes, direct: c.direct, ...(c.memoryBytes === undefined ? {} : { memoryBytes: c.memoryBytes }),
        })
        const runs: RunRecord[] = []
        try {
          for (let run = 0; run < c.runs; run++) {
            stopped()
            for (const d of dsts) fs.rmSync(d, { force: true })
            if (f.dropCaches) await dropCaches()
            const cpu = process.cpuUsage()
            const r: CopyResult = await client.copy({ path: src }, dsts.map((path) => ({ path })), { verify: f.verify, timing: true, signal }).result
            stopped()
            if (!r.ok) throw new BenchCopyFailed(r)
            const used = process.cpuUsage(cpu)
            const seconds = r.elapsedMs / 1000
            runs.push({
              elapsedMs: r.elapsedMs, throughputBytesPerSec: Math.round(c.size / seconds),
              cpuPercent: +(((used.user + used.system) / 1e6 / seconds) * 100).toFixed(1),
              peakRssBytes: process.resourceUsage().maxRSS * 1024, timing: r.timing as JobTiming,
            })
            say(`chunk ${formatBytes(chunkBytes)}, ${threads} threads, run ${run + 1}/${c.runs}: ${rate(c.size / seconds)}`)
          }
        } finally {
          await client.destroy()
        }
        const speeds = runs.map((r) => r.throughputBytesPerSec)
        rows.push({
          chunkBytes, threads, runs, median: median(runs, (r) => r.throughputBytesPerSec),
          minThroughputBytesPerSec: Math.min(...speeds), maxThroughputBytesPerSec: Math.max(...speeds),
        })
      }
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true })
  }
  return { c, rows }
}

function table(rows: Row[], verify: VerifyMode): string {
  const ms = (p: { percentilesMs: Record<string, number> }, k: string) => (p.percentilesMs[k] ?? 0).toFixed(2)
  const phases = PHASES.filter((p) => p !== 'hash' || verify !== 'none').filter((p) => p !== 'readback' || verify === 'readback')
  const head = ['chunk', 'threads', 'throughput (min - max)', 'CPU %', 'peak RSS',
    ...phases.map((p) => `${p} per worker, p50/p99 ms`), 'chunk p50/p99/p99.9 ms', 'sync ms']
  const body = rows.map((r) => {
    const t = r.median.timing.phases
    return [formatBytes(r.chunkBytes), String(r.threads), `${rate(r.median.throughputBytesPerSec)} (${rate(r.minThroughputBytesPerSec)} - ${rate(r.maxThroughputBytesPerSec)})`,
      String(r.median.cpuPercent), formatBytes(r.median.peakRssBytes),
      ...phases.map((p) => `${rate(t[p].bytesPerSecPerWorker)} ${ms(t[p], '50')}/${ms(t[p], '99')}`),
      `${ms(t.chunk, '50')}/${ms(t.chunk, '99')}/${ms(t.chunk, '99.9')}`, r.median.timing.syncMs.toFixed(1)]
  })
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] ?? '').length)))
  return [head, ...body].map((cells) => cells.map((x, i) => x.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n')
}

export function registerBench(prog: Command, setExit: (code: number) => void): void {
  prog.command('bench')
    .description('measure this machine: copy a generated file, each phase timed, per chunk size and thread count')
    .option('--size <size>', 'size of the generated source', '1GiB')
    .option('--chunk <sizes>', 'chunk size, or a comma list to sweep', '1MiB')
    .option('--threads <n>', 'worker threads, or a comma list to sweep (default twice the cores, 2 to 8, fewer if --memory cannot hold them)')
    .option('--memory <size>', MEMORY_HELP)
    .option('--direct', 'O_DIRECT always (fail where the file system refuses it)')
    .option('--buffered', 'no O_DIRECT: through the page cache')
    .addOption(new Option('--verify <mode>', 'none, hash or readback').choices(['none', 'hash', 'readback']).default('none'))
    .option('--destinations <n>', 'destinations per copy, 1 to 8', '1')
    .option('--target <dir>', 'directory for the source and destinations (removed afterwards)', '.')
    .option('--runs <n>', 'runs per combination; the median is reported', '3')
    .option('--drop-caches', 'drop the page cache before each run (root)')
    .option('--json', 'one JSON document on stdout, nothing else')
    .action(async (f: BenchFlags) => {
      // SIGINT or SIGTERM: stop, remove the files (gigabytes of them), say so, exit 130.
      const controller = new AbortController()
      let work: string | null = null
      let signals = 0
      const onSignal = () => {
        if (++signals === 1) {
          // On a terminal, past the ^C it echoed.
          process.stderr.write(`${process.stderr.isTTY ? '\n' : ''}blockcopy: interrupted; stopping the bench and removing its files (again to exit now)\n`)
          controller.abort()
          return
        }
        // Whatever still runs writes into files no longer linked: they go with the process.
        if (work) fs.rmSync(work, { recursive: true, force: true })
        process.stderr.write(`blockcopy: bench interrupted; removed its files${work ? ` (${work})` : ''}\n`)
        process.exit(EXIT.interrupted)
      }
      process.on('SIGINT', onSignal)
      process.on('SIGTERM', onSignal)
      let measured
      try {
        measured = await measure(f, (line) => {
          if (!f.json) process.stderr.write(`${line}\n`)
        }, controller.signal, (dir) => {
          work = dir
        })
      } catch (err) {
        if (err instanceof BenchInterrupted) {
          process.stderr.write(`blockcopy: ${err.message}\n`)
          if (f.json) process.stdout.write(`${JSON.stringify({ ok: false, error: { code: 'CANCELLED', message: err.message } })}\n`)
          setExit(EXIT.interrupted)
          return
        }
        if (!(err instanceof BenchCopyFailed)) throw err
        process.stderr.write(`blockcopy: ${err.message}\n`)
        setExit(EXIT.ioErrors)
        return
      } finally {
        process.off('SIGINT', onSignal)
        process.off('SIGTERM', onSignal)
      }
      const { c, rows } = measured
      if (f.json) {
        const doc = {
          version: 1, machine: { cpus: os.availableParallelism(), kernel: os.release(), node: process.version },
          options: { sizeBytes: c.size, chunks: c.chunks, threads: c.threads, destinations: c.destinations, runs: c.runs, direct: c.direct, verify: f.verify, dropCaches: f.dropCaches === true, target: f.target },
          percentiles: PERCENTILES, phases: [...PHASES, 'chunk'], rows,
        }
        process.stdout.write(`${JSON.stringify(doc)}\n`)
      } else {
        process.stdout.write(`${table(rows, f.verify)}\n`)
      }
      setExit(0)
    })
}
