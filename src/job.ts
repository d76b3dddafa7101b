import { randomUUID } from 'node:crypto'
import { EventEmitter } from 'eventemitter3'
import { toSystemError } from './errors.js'
import type { IoBackend } from './io/types.js'
import type { ChunkResult, ChunkTask, DigestBytes, HashAlgo, RangeFailure, VerifyLevel } from './protocol/protocol.js'
import { stopsDestination, systemCode } from './error-kinds.js'
import type { OpenFile } from './files/regions.js'
import { coalesceFailures, schedule, type TaskRunner } from './scheduler.js'
import { combineDigests } from './hash/xxh3.js'
import type { Since } from './incremental/since.js'
import { incrementalResult } from './incremental/since-result.js'
import type { MapJournal } from './journal/journal.js'
import { finishJournal, journalSyncFailures } from './journal/resume.js'
import type { Throttle } from './throttle.js'
import { chunkWork, type WorkPlan } from './engine/work.js'
import { closeAll, closeUnwritten, preallocate, syncAll } from './files/job-files.js'
import { finishedStatus, percentOf, type JobStatus } from './engine/status.js'
import { completedParts, notWritten, spansDone, tallyChunks } from './engine/results.js'
import { TimingCollector } from './engine/timing.js'
import { VERIFY_LEVELS, type CopyResult, type Extent, type JobKind, type NotifyFn, type VerifyMode } from './job-result.js'
import type { Progress } from './engine/progress.js'

export type { WorkPlan } from './engine/work.js'
export type { Progress } from './engine/progress.js'
export type { IncrementalResult } from './incremental/since-result.js'

export { VERIFY_LEVELS, type ChunkDigest, type CopyResult, type Extent, type JobKind, type NotifyFn, type VerifyMode } from './job-result.js'

export interface JobEvents {
  progress: [Progress]
  /** The job passed its own checks (an incremental copy's destination, a map's first save) and writes from now on. */
  writing: []
}

/** Everything a job needs once its arguments are checked and its files are open. */
export interface JobSpec {
  kind: JobKind
  source: OpenFile | null
  srcOffset: number
  dests: OpenFile[]
  destOffsets: number[]
  totalBytes: number
  chunkBytes: number
  verify: VerifyMode
  ignoreErrors: boolean
  sequentialWrites: boolean
  /** Copies: the source is a regular file, so chunks that are all hole in it are not read. */
  srcHoles?: boolean
  /** Sparse copies: which holes are left, and where each destination is a hole already (CopyTask.sparse); null or absent otherwise. */
  sparse?: { mode: 'auto' | 'always'; holeFromBytes: number[] } | null
  signal?: AbortSignal
  notify?: NotifyFn
  context?: unknown
  /** Tasks other than one range in chunks (replicate: many ranges, ordered or batched). */
  work?: (level: VerifyLevel) => WorkPlan
  /**
   * The byte ranges of destination 0 the job writes or clones, when not the
   * one range at destOffsets[0] (replicate): a failed sync names them.
   */
  destSpans?: Extent[]
  /** Replicate: whether extents were cloned or bytes copied. */
  method?: 'clone' | 'copy'
  /** Hash jobs: the algorithm of the chunk digests and of the result's digest. Default xxh3. */
  hashAlgo?: HashAlgo
  /** Scratch files the job stages through; closed (and so freed) when it ends. */
  scratch?: { close(): void }
  /** Incremental copies: the destination's manifest; unchanged chunks are not written. */
  since?: Since
  /** Chunks answered without any I/O (a reflink baseline's unchanged ones): the rate limit leaves them out. */
  ioFree?: (index: number) => boolean
  /**
   * Copies only these extents (relative to the range, in order, none
   * crossing a chunk boundary) instead of every chunk: a resumed copy.
   */
  extents?: Extent[]
  /** Copies: split failed reads into logical blocks (ignoreErrors, retryBad; src/chunk/scrape.ts). */
  badBlocks?: { blockBytes: number; tries: number; fill: boolean }
  /** Collect per-phase chunk timings into result.timing. */
  timing?: boolean
  /** The client's rate limit (src/throttle.ts). */
  throttle?: Throttle
  /** The resume map, saved durably as chunks finish (src/journal/journal.ts). */
  journal?: MapJournal
  /** Runs before anything is written (the incremental copy's check of the destination), given the job's signal; a throw rejects the job. */
  prepare?: (signal: AbortSignal) => Promise<void>
  /** Runs once the chunks have ended, whatever happened to them, before the destinations are synced (the incremental copy's resize). */
  finish?: () => void
  /** Files the job only reads besides its source (verify's replicas); closed when it ends, never synced. */
  readers?: OpenFile[]
  /** Sees every chunk result as it arrives (verify collects where replicas differ). */
  onChunk?: (result: ChunkResult) => void
}

/** A running copy or zero: progress events, a result promise, and cancel(). */
export class Job extends EventEmitter<JobEvents> {
  readonly id: string
  readonly kind: JobKind
  readonly totalBytes: number
  readonly result: Promise<CopyResult>
  /** Bytes done so far, as Progress.doneBytes; at the end, what the result's `completed` holds (a failed sync takes back what it may have lost), plus what earlier runs of a resumed copy did. */
  doneBytes = 0
  /** Bytes of finished chunks that failed so far, as Progress.failedBytes. */
  failedBytes = 0
  /** Set once the job has finished. */
  finished: CopyResult | null = null
  private readonly controller = new AbortController()

  constructor(spec: JobSpec, io: IoBackend, run: TaskRunner, inflight: number, id: string = randomUUID()) {
    super()
    this.id = id
    this.kind = spec.kind
    this.totalBytes = spec.totalBytes
    const signal = spec.signal ? AbortSignal.any([spec.signal, this.controller.signal]) : this.controller.signal
    this.result = execute(this, { ...spec, signal }, io, run, inflight)
    void this.result.then((r) => {
      this.finished = r
    }, (err: unknown) => {
      const e = err as { code?: unknown; message?: unknown }
      this.refused = { code: typeof e.code === 'string' ? e.code : 'EIO', message: typeof e.message === 'string' ? e.message : String(err) }
    })
  }

  /** Set once the job has passed its own checks and writes from now on (the 'writing' event). */
  isWriting = false

  /** Why the job ended without a result (its result rejected: refused in its own checks, before writing). */
  refused: { code: string; message: string } | null = null

  /** Whether the job has ended, with a result or without one. */
  get ended(): boolean {
    return this.finished !== null || this.refused !== null
  }

  /** lsm job_status_get for this job. */
  status(): JobStatus {
    if (this.finished) return finishedStatus(this.id, this.finished, this.doneBytes)
    if (this.refused) return { id: this.id, status: 'error', percent: 0, error: this.refused }
    return { id: this.id, status: 'inprogress', percent: percentOf(this.doneBytes, this.totalBytes, false) }
  }

  /** Starts no new chunks; running ones finish and destinations are synced. */
  cancel(): void {
    this.controller.abort()
  }
}

/** Emits to the job's listeners; a listener's bug must not stop the job: its destinations still need syncing. */
function tell<E extends keyof JobEvents>(job: Job, event: E, ...args: JobEvents[E]): void {
  try {
    // EventEmitter's typings cannot follow a generic event name to its arguments.
    (job.emit as (e: E, ...a: JobEvents[E]) => boolean)(event, ...args)
  } catch (err) {
    process.emitWarning(`blockcopy: a ${event} listener threw: ${String(err)}`)
  }
}

async function execute(job: Job, spec: JobSpec, io: IoBackend, run: TaskRunner, inflight: number): Promise<CopyResult> {
  const started = performance.now()
  const level = VERIFY_LEVELS[spec.verify]
  const work = spec.work ? spec.work(level) : chunkWork(spec, level)
  const count = work.count
  const digests: DigestBytes[] = []
  const ok = new Uint8Array(count)
  let failures: RangeFailure[] = []
  let readErr = false
  let writeErr = 0
  // A resumed copy starts with what earlier runs did.
  const resumedBytes = spec.extents ? spec.totalBytes - spec.extents.reduce((n, e) => n + e.length, 0) : 0
  let doneBytes = resumedBytes
  let failedBytes = 0
  job.doneBytes = doneBytes
  let directBytes = 0
  let retries = 0
  // The readable parts of chunks with bad blocks.
  let partial: Extent[] = []
  // Per chunk, only where not zero: most chunks have neither.
  const holes = new Map<number, number>()
  const skipped = new Map<number, number>()

  // Destinations that failed for good (full, or a media error) get no more writes.
  let stoppedDests = 0
  const skippedDests = new Map<number, number>()
  const makeTask = (i: number): ChunkTask => {
    const t = work.task(i)
    if (t.kind === 'copy' && stoppedDests !== 0) {
      t.skipDests = stoppedDests
      skippedDests.set(i, stoppedDests)
    }
    return t
  }
  const timing = spec.timing ? new TimingCollector(spec.dests.length, spec.verify === 'readback') : null
  let syncMs = 0
  const onResult = (r: ChunkResult) => {
    timing?.add(r)
    const c = work.extent(r.chunkIndex)
    const skipMask = skippedDests.get(r.chunkIndex) ?? 0
    const good = !r.readErr && r.writeErr === 0 && skipMask === 0
    readErr ||= r.readErr
    writeErr |= r.writeErr | skipMask
    failures.push(...r.errors, ...notWritten(spec, skipMask, c))
    for (const e of r.errors) if (e.dest >= 0 && stopsDestination(e.code)) stoppedDests |= 1 << e.dest
    retries += r.retries ?? 0
    directBytes += r.directBytes
    // Done is what reached every destination: the whole chunk, or the readable parts of one with bad blocks.
    let done = good ? c.length : 0
    if (good) ok[r.chunkIndex] = 1
    // Only copies meet bad blocks, leave holes, or skip unchanged chunks.
    const copied = r.kind === 'copy' ? r : null
    if (work.spans) done = spansDone(r, partial)
    else if (copied?.badRanges) {
      // The readable parts every destination got are completed; the bad blocks are recorded at their offsets.
      const parts = completedParts(spec, c, copied, skipMask)
      for (let k = 0; k < parts.length; k += 2) {
        partial.push({ offset: (parts[k] as number) - spec.srcOffset, length: parts[k + 1] as number })
        spec.journal?.copied(parts[k] as number, parts[k + 1] as number)
        done += parts[k + 1] as number
      }
      for (let k = 0; k < copied.badRanges.length; k += 2) spec.journal?.badBlock(copied.badRanges[k] as number, copied.badRanges[k + 1] as number)
    } else if (spec.journal) {
      const at = spec.srcOffset + c.offset
      if (good) spec.journal.copied(at, c.length)
      else if (r.readErr) spec.journal.readFailed(at, c.length)
    }
    if (r.digest) digests[r.chunkIndex] = r.digest
    if (copied?.holeBytes) holes.set(r.chunkIndex, copied.holeBytes)
    if (copied?.skippedBytes) skipped.set(r.chunkIndex, copied.skippedBytes)
    if (r.errors.some((e) => e.code === 'WORKER_FAILED')) work.abandon?.(r.chunkIndex)
    doneBytes += done
    failedBytes += c.length - done
    job.doneBytes = doneBytes
    job.failedBytes = failedBytes
    spec.onChunk?.(r)
    tell(job, 'progress', { doneBytes, failedBytes, totalBytes: spec.totalBytes, extent: c, ok: good })
  }

  // Awaited only when there is something to wait for: without, the first
  // chunks reach the pool before copy() returns (an abort then cancels nothing).
  try {
    if (spec.prepare) await spec.prepare(spec.signal ?? new AbortController().signal)
    // Saved before the first write: a run killed at once leaves a valid map.
    if (spec.journal) await spec.journal.start(spec.dests)
  } catch (err) {
    closeUnwritten(spec, io)
    throw err
  }
  job.isWriting = true
  tell(job, 'writing')
  if (spec.kind !== 'zero') preallocate(spec, io)
  let outcome
  let synced: RangeFailure[] = []
  try {
    outcome = await schedule({
      // Bad-block handling (ignoreErrors, retryBad) goes on past a chunk's unreadable blocks.
      count, makeTask, run, inflight, stopOnError: !spec.ignoreErrors && !spec.badBlocks, onResult,
      ...(spec.throttle ? { throttle: spec.throttle, bytesOf: (i: number) => (spec.ioFree?.(i) ? 0 : work.extent(i).length) } : {}),
      ...(spec.signal ? { signal: spec.signal } : {}),
    })
    if (spec.finish) {
      try {
        spec.finish()
      } catch (err) {
        const e = toSystemError(err, 'ftruncate', spec.dests[0]?.path ?? '')
        writeErr |= 1
        failures.push({ dest: 0, offset: 0, length: spec.totalBytes, code: systemCode(e), errno: e.errno, syscall: e.syscall, message: e.message })
      }
    }
  } finally {
    // Durable before reported: every destination, whatever happened above.
    const syncStart = performance.now()
    synced = await syncAll(spec)
    syncMs = performance.now() - syncStart
    // The map's periodic saves stop before the files close; a sync that failed in one fails the job too.
    if (spec.journal) synced.push(...(await journalSyncFailures(spec.journal, synced, spec.destOffsets, spec.totalBytes)))
    for (const s of synced) {
      writeErr |= 1 << s.dest
      failures.push(s)
    }
    // A destination that failed to sync may have lost any of its pages:
    // no extent can be said to have reached every destination.
    if (synced.length > 0) {
      ok.fill(0)
      partial = []
    }
    closeAll(spec, io)
  }
  failures = coalesceFailures(failures)

  // One pass over the chunks, nothing kept per chunk: a job of a million
  // chunks must not build arrays of them just to sum and coalesce.
  const tally = tallyChunks(work, { ok, partial, holes, skipped, digests }, spec)
  const completed = tally.completed
  // The same as the chunks reported, unless a failed sync took back what they had done.
  job.doneBytes = resumedBytes + tally.completedBytes
  job.failedBytes = doneBytes + failedBytes - job.doneBytes
  const hashed = level > 0 && spec.kind !== 'zero'
  // A resumed copy reads only part of the range: no digest of the whole.
  const resumed = spec.extents !== undefined && spec.extents.reduce((n, e) => n + e.length, 0) < spec.totalBytes
  const allRead = hashed && !resumed && !outcome.cancelled && outcome.skipped === 0 && tally.allDigested
  const result: CopyResult = {
    id: job.id,
    kind: spec.kind,
    ok: !readErr && writeErr === 0 && !outcome.cancelled && outcome.skipped === 0,
    readErr,
    writeErr,
    errors: failures,
    cancelled: outcome.cancelled,
    ...(outcome.stopped && outcome.skipped > 0 ? { stopped: true as const } : {}),
    totalBytes: spec.totalBytes,
    completedBytes: tally.completedBytes,
    completed,
    chunkBytes: spec.chunkBytes,
    verify: spec.verify,
    digest: allRead ? await combineDigests(tally.digests, spec.hashAlgo) : null,
    chunks: hashed ? tally.chunks : [],
    direct: { source: (spec.source?.directFd ?? -1) >= 0, dests: spec.dests.map((d) => d.directFd >= 0) },
    directBytes,
    retries,
    holeBytes: tally.holeBytes,
    elapsedMs: performance.now() - started,
    ...(spec.method ? { method: spec.method } : {}),
  }
  if (spec.since) {
    result.incremental = incrementalResult(spec.since, { count, ok, skipped, lengthOf: (i) => work.extent(i).length }, result.completedBytes, tally.skippedBytes)
  }
  if (timing) result.timing = timing.finish(syncMs)
  if (spec.journal) await finishJournal(spec.journal, result, synced.length === 0)
  if (spec.notify) {
    try {
      spec.notify(result.readErr, result.writeErr, spec.context)
    } catch (err) {
      process.emitWarning(`blockcopy: notify callback threw: ${String(err)}`)
    }
  }
  return result
}

