import { Option, type Command } from 'commander'
import { createClient, type CopyClient } from '../client.js'
import { BlockcopyError } from '../errors.js'
import type { CopyResult, Job } from '../job.js'
import { checkChunkBytes, DEFAULT_CHUNK_BYTES, fitBudget, type BudgetNames, type ClientOptions } from '../options.js'
import type { DirectMode } from '../files/regions.js'
import { parseSize } from '../units.js'
import { JobRecorder } from './detached/recorder.js'
import { EXIT, exitCodeFor } from './exit.js'
import { showProgress } from './progress.js'

/** Flags of addEngineOptions, as commander parses them. */
export interface EngineFlags {
  chunk?: string
  threads?: string
  memory?: string
  direct: DirectMode
  rate?: string
  ignoreErrors?: boolean
  json?: boolean
  /** Set in a process started by --detach: the job's id. */
  jobId?: string
  progress: 'auto' | 'ndjson' | 'none'
  /** Where `chunk` came from when the user did not type --chunk (a manifest's), for messages. */
  chunkOrigin?: 'manifest'
}

/** The flags budget refusals name. */
export const CLI_BUDGET_NAMES: BudgetNames = { threads: '--threads', chunk: '--chunk', memory: '--memory', units: true }

/** What --threads and --memory say in every command's help. */
export const THREADS_HELP = 'I/O worker threads (default: 2 × cores, 2 to 8, fewer if --memory cannot hold them)'
export const MEMORY_HELP = 'memory budget for all worker buffers, 2 × (--chunk + 4KiB) per thread (default 64MiB)'

export const collect = (value: string, previous: string[]) => [...previous, value]

/** The options every job command takes: engine settings, errors, progress, output. */
export function addEngineOptions(cmd: Command): Command {
  return cmd
    .option('--chunk <size>', 'chunk size, 64KiB to 16MiB (default 1MiB)')
    .option('--threads <n>', THREADS_HELP)
    .option('--memory <size>', MEMORY_HELP)
    .addOption(new Option('--direct <mode>', 'O_DIRECT for aligned middles').choices(['auto', 'always', 'never']).default('auto'))
    .option('--rate <size>', 'limit to this many bytes per second, e.g. 200MiB (all chunks of the job, read or written once)')
    .option('--ignore-errors', 'go on past I/O errors and list every failed range')
    .addOption(new Option('--progress <mode>', 'progress on stderr: a bar on a terminal (auto), NDJSON lines, or none').choices(['auto', 'ndjson', 'none']).default('auto'))
    .option('--json', 'print one JSON result object on stdout')
    .option('--detach', 'run in the background: print the job id and return (see blockcopy jobs)')
    .addOption(new Option('--job-id <id>', 'the id of a detached job (set by --detach)').hideHelp())
}

/** A whole number typed on the command line, optionally within [min, max]; INVALID_ARGUMENT naming `argument` otherwise. */
export function parseWhole(s: string, argument: string, range?: { min: number; max: number }): number {
  const v = Number(s)
  if (!/^\d+$/.test(s) || (range && (v < range.min || v > range.max))) {
    throw new BlockcopyError('INVALID_ARGUMENT', `${argument}: '${s}' is not a whole number${range ? ` from ${range.min} to ${range.max}` : ''}`, argument)
  }
  return v
}

export function clientOptions(f: EngineFlags): ClientOptions {
  const o: ClientOptions = { direct: f.direct }
  if (f.chunk !== undefined) o.chunkBytes = parseSize(f.chunk, 'chunkBytes')
  if (f.memory !== undefined) o.memoryBytes = parseSize(f.memory, 'memoryBytes')
  if (f.rate !== undefined) o.rateBytesPerSec = parseSize(f.rate.replace(/\/s$/, ''), 'rateBytesPerSec')
  if (f.threads !== undefined) o.threads = parseWhole(f.threads, 'threads')
  // The library checks the same budget; this says it with the flags the
  // user typed, once the values themselves are valid (else the library's
  // own checks say what is wrong with them).
  if (o.chunkBytes !== undefined) checkChunkBytes(o.chunkBytes, 'chunkBytes')
  if ((o.threads === undefined || (o.threads >= 1 && o.threads <= 64)) && (o.memoryBytes === undefined || o.memoryBytes >= 1)) {
    fitBudget({
      chunkBytes: o.chunkBytes ?? DEFAULT_CHUNK_BYTES,
      ...(o.threads === undefined ? {} : { threads: o.threads }),
      ...(o.memoryBytes === undefined ? {} : { memoryBytes: o.memoryBytes }),
      ...(f.chunkOrigin ? { chunkOrigin: f.chunkOrigin } : f.chunk === undefined ? { chunkOrigin: 'default' as const } : {}),
    }, CLI_BUDGET_NAMES)
  }
  return o
}

/**
 * Runs a job to its end, cancelling it on SIGINT/SIGTERM; a second signal
 * exits at once. Its progress display is stopped before this returns or
 * throws, so whatever the caller prints next starts on a line of its own.
 */
export async function runJob(
  job: Job, f: EngineFlags, controller: AbortController,
  /** Work that belongs to the job's end (an incremental copy's manifest): done before a detached job's record says it ended; may set the exit code. */
  after?: (result: CopyResult) => Promise<number | null>,
): Promise<CopyResult & { exitCode?: number }> {
  const display = showProgress(job, f.progress)
  let signals = 0
  const onSignal = () => {
    signals++
    if (signals === 1) {
      // A bar is stopped on its own line first; on a terminal without one, the notice goes past the ^C it echoed.
      const lead = display.drawing || !process.stderr.isTTY ? '' : '\n'
      display.say(`${lead}blockcopy: interrupted; finishing running chunks and syncing destinations (again to exit now)\n`)
      controller.abort()
    } else {
      process.exit(EXIT.interrupted)
    }
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  try {
    // A detached job (--job-id) keeps its record in the state directory and
    // tells the process that started it that its arguments passed. Only once
    // the job's own checks have passed: one that refuses in them (an
    // incremental copy's destination, say) fails --detach with exit 2, as it
    // would in the foreground, and leaves no record, since no id was printed.
    let recorder = null as JobRecorder | null
    const started = () => {
      // The log's first line; it also gives the log room (a block of its own) for the lines a full state directory would refuse later.
      process.stderr.write(`blockcopy: job ${f.jobId as string} started, pid ${process.pid}: blockcopy ${recordedArgv().join(' ')}\n`)
      recorder = JobRecorder.start(f.jobId as string, job.kind, recordedArgv(), job, (line) => process.stderr.write(`blockcopy: ${line}\n`))
      process.send?.({ started: f.jobId })
    }
    if (f.jobId && job.isWriting) started()
    else if (f.jobId) job.once('writing', started)
    const result = await job.result
    const code = (await after?.(result)) ?? null
    await recorder?.finish(result, code ?? exitCodeFor(result))
    return code === null ? result : { ...result, exitCode: code }
  } finally {
    display.stop()
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}

export async function withClient(f: EngineFlags, work: (client: CopyClient) => Promise<number>): Promise<number> {
  const client = await createClient(clientOptions(f))
  try {
    return await work(client)
  } finally {
    await client.destroy()
  }
}

/** This process's command line as a detached job records it: without --job-id. */
export function recordedArgv(argv: string[] = process.argv): string[] {
  const out = argv.slice(2)
  const at = out.indexOf('--job-id')
  if (at >= 0) out.splice(at, 2)
  return out
}
