import { Option, type Command } from 'commander'
import { BlockcopyError } from '../errors.js'
import { DEFAULT_CHUNK_BYTES, DEFAULT_MEMORY_BYTES, defaultThreads, workerBufferBytes } from '../options.js'
import { formatBytes, parseSize } from '../units.js'
import { readManifest, type Manifest } from '../hash/manifest.js'
import { MAX_RUNS_PER_CHUNK } from '../chunk/diff-runs.js'
import type { VerifyRange } from '../verify/verify-plan.js'
import type { ReplicaReport, VerifyReport } from '../verify/verify-report.js'
import { collect, MEMORY_HELP, runJob, withClient, type EngineFlags } from './common.js'
import { EXIT } from './exit.js'

interface VerifyFlags extends EngineFlags {
  manifest?: string
  range: string[]
  all?: boolean
}

/** Differing ranges listed per replica, unless --all or --json raise it to LISTED_ALL; the totals count every one. */
const SHOWN = 20
/** The most --all or --json list per replica: enough to read, bounded in memory and output. */
const LISTED_ALL = 10_000

/** Parses `OFF:LEN` (units allowed) for --range number `n`. */
function parseRange(text: string, n: number): VerifyRange {
  const parts = text.split(':')
  if (parts.length !== 2) throw new BlockcopyError('INVALID_ARGUMENT', `--range ${n}: '${text}' is not OFF:LEN`, `ranges[${n - 1}]`)
  return { offset: parseSize(parts[0] as string, `ranges[${n - 1}].offset`), length: parseSize(parts[1] as string, `ranges[${n - 1}].length`) }
}

/**
 * --threads, or the default for verifying `files` files at once: a worker
 * reads its chunk of every file in turn, one read at a time, so the default
 * pool of twice the cores kept half as many reads in flight per file for a
 * source and a replica as `hash` has for one file (a cold 2 GiB pair took
 * 2.5-2.65 s with 4 workers, 2.2 s with 8, against fio's 2.6-2.9 s with 4
 * reads in flight per file). At most 8, as the default, and no more than
 * the budget (`fit`: --memory, or the default 64 MiB) holds for the chunk
 * size, at least one: the budget holds whatever the chunk (a manifest's
 * may be 16 MiB). Undefined when the budget cannot hold even one: the
 * client's own default then refuses it, naming --memory, not a --threads
 * the user never typed.
 */
export function verifyThreads(flag: string | undefined, files: number, fit: { memoryBytes: number; chunkBytes: number }): string | undefined {
  if (flag !== undefined) return flag
  const fits = Math.floor(fit.memoryBytes / workerBufferBytes(fit.chunkBytes))
  if (fits < 1) return undefined
  return String(Math.min(8, defaultThreads() * Math.max(1, files), fits))
}

/**
 * The chunk size of a verify: --chunk, or a manifest's own. A manifest's
 * digests are of its chunks, so a --chunk that differs from them is
 * refused, as copy --since refuses it, rather than silently not used.
 */
function chunkOf(f: VerifyFlags, manifest: Manifest | null): string | undefined {
  if (!manifest) return f.chunk
  if (f.chunk !== undefined && parseSize(f.chunk, 'chunkBytes') !== manifest.chunkBytes) {
    throw new BlockcopyError(
      'INVALID_ARGUMENT',
      `--chunk: ${f.chunk} differs from the manifest's chunk size, ${formatBytes(manifest.chunkBytes)}; verify --manifest compares in the manifest's chunks (leave --chunk out)`,
      'chunkBytes',
    )
  }
  return String(manifest.chunkBytes)
}

/** The process exit code: read errors over differences, qemu-img compare's 0 / 1 / >1. */
export function verifyExitCode(r: VerifyReport): number {
  if (r.sourceErrors.length > 0 || r.replicas.some((x) => x.errors.length > 0)) return EXIT.ioErrors
  if (r.cancelled) return EXIT.interrupted
  return r.identical ? EXIT.ok : EXIT.differences
}

const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? '' : 's'}`

/** Inclusive byte numbers: each run goes from a differing byte to a differing byte. */
function where(d: { offset: number; length: number }, granularity: 'byte' | 'chunk'): string {
  const last = d.offset + d.length - 1
  const span = d.length === 1 ? `byte ${d.offset}` : `bytes ${d.offset}-${last}`
  return `    ${span} (${formatBytes(d.length)}${granularity === 'chunk' ? ', whole chunks' : ''})`
}

/** What was compared of one replica: all of the ranges, or how much of them (a read error, a shorter replica or a cancel leaves some out). */
function comparedText(x: ReplicaReport, r: VerifyReport): string {
  return x.comparedBytes >= r.totalBytes ? `${formatBytes(r.totalBytes)} compared` : `${formatBytes(x.comparedBytes)} of ${formatBytes(r.totalBytes)} compared`
}

function replicaLines(x: ReplicaReport, r: VerifyReport, refName: string, all: boolean): string[] {
  const lines: string[] = []
  const reference = r.source?.sizeBytes ?? r.manifest?.sizeBytes ?? 0
  if (x.identical) return [`identical   ${x.path}: ${comparedText(x, r)}`]
  const what: string[] = [comparedText(x, r)]
  const n = x.differenceCount
  if (n > 0 && r.granularity === 'chunk') {
    what.push(`${plural(n, 'range')} of whole chunks ${n === 1 ? 'differs' : 'differ'} (${formatBytes(x.differenceBytes)}; a manifest has no bytes to narrow them with)`)
  } else if (n > 0) {
    what.push(`${formatBytes(x.differingBytes)} ${x.differingBytes === 1 ? 'differs' : 'differ'}, in ${plural(n, 'range')} (${formatBytes(x.differenceBytes)} from first to last differing byte of each)`)
  }
  // Against a manifest, a chunk the replica has only part of cannot match its digest, so it is listed.
  const chunk = r.manifest?.chunkBytes ?? 0
  const partial = r.granularity === 'chunk' && x.sizeBytes < reference && chunk > 0 && x.sizeBytes % chunk !== 0
    ? '; its last, partial chunk is listed, as it cannot match a whole chunk\'s digest' : ''
  if (x.sizeDiffers) what.push(`size ${x.sizeBytes} bytes, ${refName} ${reference} (only the bytes both have were compared${partial})`)
  if (x.errors.length > 0) what.push(`${plural(x.errors.length, 'range')} could not be read`)
  lines.push(`${n > 0 || x.sizeDiffers ? 'DIFFERS' : 'UNKNOWN'}     ${x.path}: ${what.join('; ')}`)
  for (const d of x.differences) lines.push(where(d, r.granularity))
  const more = n - x.differences.length
  if (more > 0) {
    const bytes = x.differenceBytes - x.differences.reduce((sum, d) => sum + d.length, 0)
    // Fewer listed than asked: a chunk had more runs than a worker returns, and the list stops there.
    const why = x.differences.length < r.maxDifferences ? `; the list stops in a chunk with more than ${MAX_RUNS_PER_CHUNK}` : all ? '' : ` (--all or --json lists up to ${LISTED_ALL})`
    lines.push(`    ... and ${plural(more, 'more range')} (${formatBytes(bytes)}) not listed${why}`)
  }
  for (const e of x.errors) lines.push(`    unreadable bytes ${e.offset}-${e.offset + e.length - 1}: ${e.message}`)
  return lines
}

function printReport(r: VerifyReport, refName: string, all: boolean): void {
  const out: string[] = []
  const identical = r.replicas.filter((x) => x.identical).length
  const secs = r.elapsedMs / 1000
  // The ranges' total here; what was compared of each replica is on its own line.
  const most = Math.max(...r.replicas.map((x) => x.comparedBytes))
  const rate = secs > 0 ? `${formatBytes(Math.round(most / secs))}/s` : '-'
  out.push(`${identical} of ${plural(r.replicas.length, 'replica')} identical to ${refName}: ${formatBytes(r.totalBytes)} to compare, in ${secs.toFixed(2)} s (${rate} of the reference)`)
  for (const e of r.sourceErrors) out.push(`  ${refName} unreadable at bytes ${e.offset}-${e.offset + e.length - 1}: ${e.message} (not compared there)`)
  for (const x of r.replicas) out.push(...replicaLines(x, r, refName, all))
  if (r.cancelled) out.push('interrupted: not every range was compared')
  process.stdout.write(`${out.join('\n')}\n`)
}

/** `blockcopy verify SRC REPLICA... | --manifest M REPLICA...`: are the replicas identical, and where do they differ? */
export function registerVerify(prog: Command, setExit: (code: number) => void): void {
  prog.command('verify')
    .description('are the replicas identical to SRC (or to a manifest)? exit 0 identical, 1 differences, 2 bad input, 3 read errors')
    .argument('<file...>', 'SRC then REPLICA... (with --manifest: REPLICA... only)')
    .option('--manifest <file>', 'check the replicas against this manifest (blockcopy hash -o) instead of a source')
    .option('--range <OFF:LEN>', 'compare only this range (same offsets in every file); repeat for more', collect, [])
    .option('--chunk <size>', 'compare in chunks of this size, 64KiB to 16MiB (default 1MiB; with --manifest, its own)')
    .option('--threads <n>', 'I/O worker threads (default: 2 × cores for each file read, at most 8, fewer if --memory cannot hold them)')
    .option('--memory <size>', MEMORY_HELP)
    .addOption(new Option('--direct <mode>', 'O_DIRECT for aligned middles').choices(['auto', 'always', 'never']).default('auto'))
    .addOption(new Option('--progress <mode>', 'progress on stderr: a bar on a terminal (auto), NDJSON lines, or none').choices(['auto', 'ndjson', 'none']).default('auto'))
    .option('--all', `list up to ${LISTED_ALL} differing ranges per replica (default: the first ${SHOWN}; --json lists up to ${LISTED_ALL})`)
    .option('--json', 'print the report as one JSON object on stdout')
    .action(async (files: string[], f: VerifyFlags) => {
      // verify only reads (SRC or the manifest, and the replicas), so src/files/aliases.ts has nothing to check for it.
      const manifest: Manifest | null = f.manifest === undefined ? null : await readManifest(f.manifest)
      const source = manifest ? null : (files[0] as string)
      const replicas = manifest ? files : files.slice(1)
      if (replicas.length === 0) {
        throw new BlockcopyError('INVALID_ARGUMENT', manifest ? 'REPLICA: at least one is required' : 'REPLICA: give SRC and at least one REPLICA (or --manifest M REPLICA...)', 'replicas')
      }
      const ranges = f.range.map((t, i) => parseRange(t, i + 1))
      // A manifest's chunks are the compare's chunks: the workers' buffers are sized for them.
      const chunk = chunkOf(f, manifest)
      const fit = {
        memoryBytes: f.memory === undefined ? DEFAULT_MEMORY_BYTES : parseSize(f.memory, 'memoryBytes'),
        chunkBytes: chunk === undefined ? DEFAULT_CHUNK_BYTES : parseSize(chunk, 'chunkBytes'),
      }
      const threads = verifyThreads(f.threads, replicas.length + (source === null ? 0 : 1), fit)
      // The chunk size came from the manifest unless the user typed it (the same).
      const engine = { ...f, chunk, ...(threads === undefined ? {} : { threads }), ...(manifest && f.chunk === undefined ? { chunkOrigin: 'manifest' as const } : {}) }
      setExit(await withClient(engine, async (client) => {
        const controller = new AbortController()
        const job = client.verify(source, replicas, {
          signal: controller.signal, ...(manifest ? { manifest } : {}), ...(ranges.length > 0 ? { ranges } : {}),
          maxDifferences: f.all || f.json ? LISTED_ALL : SHOWN,
        })
        await runJob(job, f, controller)
        const report = await job.report
        if (f.json) process.stdout.write(`${JSON.stringify(report)}\n`)
        else printReport(report, source === null ? `manifest ${f.manifest ?? ''}` : `SRC ${source}`, f.all === true)
        return verifyExitCode(report)
      }))
    })
}
