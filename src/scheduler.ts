import { BlockcopyError } from './errors.js'
import type { ChunkResult, ChunkTask, RangeFailure } from './protocol/protocol.js'
import type { Throttle } from './throttle.js'

/**
 * How a range is cut into chunks. Boundaries fall on absolute multiples of
 * `chunkBytes` in the anchor file (the source of a copy, the first
 * destination of a zero), so only the first and last chunks have unaligned
 * edges and every middle chunk can go out whole with O_DIRECT.
 */
export interface ChunkPlan {
  anchorOffsetBytes: number
  totalBytes: number
  chunkBytes: number
}

/** Chunks a job may have: its results are indexed in 32-bit typed arrays. */
export const MAX_CHUNKS = 2 ** 32 - 1

/**
 * Refuses a range of more than MAX_CHUNKS chunks (over 256 TiB in chunks of
 * 64 KiB), naming `argument`, before anything is created.
 */
export function checkChunkCount(totalBytes: number, chunkBytes: number, argument: string): void {
  const chunks = Math.ceil(totalBytes / chunkBytes) + 1
  if (chunks > MAX_CHUNKS) {
    throw new BlockcopyError('INVALID_ARGUMENT', `${argument}: ${totalBytes} bytes in chunks of ${chunkBytes} make more than 2^32 chunks; use a larger chunk size or a shorter range`, argument)
  }
}

export function chunkCount(plan: ChunkPlan): number {
  if (plan.totalBytes === 0) return 0
  const first = firstChunkBytes(plan)
  return 1 + Math.ceil((plan.totalBytes - first) / plan.chunkBytes)
}

function firstChunkBytes(plan: ChunkPlan): number {
  return Math.min(plan.totalBytes, plan.chunkBytes - (plan.anchorOffsetBytes % plan.chunkBytes))
}

/** Chunk `index` as an offset relative to the start of the range, and a length. */
export function chunkAt(plan: ChunkPlan, index: number): { offset: number; length: number } {
  const first = firstChunkBytes(plan)
  if (index === 0) return { offset: 0, length: first }
  const offset = first + (index - 1) * plan.chunkBytes
  return { offset, length: Math.min(plan.chunkBytes, plan.totalBytes - offset) }
}

/** Runs one task somewhere (the Piscina pool in production); answers with a result of the task's kind. */
export type TaskRunner = (task: ChunkTask) => Promise<ChunkResult>

export interface ScheduleOptions {
  count: number
  makeTask: (index: number) => ChunkTask
  run: TaskRunner
  /** Tasks handed to the pool at once: enough to keep every worker busy, never more data than the workers' buffers. */
  inflight: number
  stopOnError: boolean
  signal?: AbortSignal
  /** The client's rate limit: a chunk starts only when it allows. */
  throttle?: Throttle
  /** Bytes a task moves, for the throttle. */
  bytesOf?: (index: number) => number
  onResult: (result: ChunkResult) => void
}

export interface ScheduleOutcome {
  /** The signal fired: no new chunks were started after it. */
  cancelled: boolean
  /** An error stopped new chunks (errors not ignored). */
  stopped: boolean
  /** Chunks never started. */
  skipped: number
}

/**
 * kcopyd's master job: one shared cursor, a bounded number of chunks in
 * flight, each finished chunk claiming the next. Completion fires once, when
 * the last running chunk ends. Chunks start in index order (sequential
 * writes depend on it).
 */
export function schedule(o: ScheduleOptions): Promise<ScheduleOutcome> {
  return new Promise((resolve) => {
    let next = 0
    let running = 0
    let cancelled = false
    let stopped = false
    let settled = false
    const onAbort = () => {
      cancelled = true
    }
    o.signal?.addEventListener('abort', onAbort, { once: true })
    if (o.signal?.aborted) cancelled = true

    let waiting: NodeJS.Timeout | null = null
    const finish = () => {
      if (settled || running > 0 || (waiting && !cancelled && !stopped)) return
      settled = true
      if (waiting) clearTimeout(waiting)
      o.signal?.removeEventListener('abort', onAbort)
      o.signal?.removeEventListener('abort', onAbortWake)
      unsubscribe?.()
      // An abort after the last chunk started cancelled nothing.
      resolve({ cancelled: cancelled && next < o.count, stopped, skipped: o.count - next })
    }
    const onAbortWake = () => {
      // A cancel while a chunk waits for the throttle ends the wait.
      if (waiting) clearTimeout(waiting)
      waiting = null
      finish()
    }
    o.signal?.addEventListener('abort', onAbortWake, { once: true })
    // A new rate (client.setRate) ends the wait for the old one's slot.
    const unsubscribe = o.throttle?.onChange(() => {
      if (!waiting) return
      clearTimeout(waiting)
      waiting = null
      pump()
    })
    const pump = () => {
      while (!cancelled && !stopped && running < o.inflight && next < o.count) {
        const wait = o.throttle?.waitMs() ?? 0
        if (wait > 0) {
          waiting ??= setTimeout(() => {
            waiting = null
            pump()
          }, Math.max(1, Math.ceil(wait)))
          break
        }
        o.throttle?.take(o.bytesOf ? o.bytesOf(next) : 0)
        const task = o.makeTask(next++)
        running++
        o.run(task).then(
          (res) => done(res),
          (err: unknown) => done(crashed(task, err)),
        )
      }
      finish()
    }
    const done = (res: ChunkResult) => {
      running--
      try {
        o.onResult(res)
      } catch (err) {
        // Thrown here it would be an unhandled rejection, and the job would never end.
        process.emitWarning(`blockcopy: a chunk result handler threw: ${String(err)}`)
      }
      if (o.stopOnError && (res.readErr || res.writeErr !== 0)) stopped = true
      pump()
    }
    pump()
  })
}

// A worker that died or threw is a bug or a crash, not an I/O error of a
// file; it still ends the chunk, reported against the source.
function crashed(task: ChunkTask, err: unknown): ChunkResult {
  const message = `WORKER_FAILED: ${err instanceof Error ? err.message : String(err)}`
  const index = task.chunkIndex
  const length = task.lengthBytes
  const offset = task.kind === 'copy' || task.kind === 'hash'
    ? task.src.offsetBytes
    : task.kind === 'zero' ? (task.dests[0]?.offsetBytes ?? 0) : task.kind === 'compare' ? task.offsetBytes : 0
  // Every kind but zero reads first: a dead worker is a failed read there.
  return {
    kind: task.kind, chunkIndex: index, lengthBytes: length, digest: null, readErr: task.kind !== 'zero', directBytes: 0,
    writeErr: task.kind === 'zero' ? (1 << task.dests.length) - 1 : 0,
    errors: [{ dest: task.kind === 'zero' ? 0 : -1, offset, length, code: 'WORKER_FAILED', errno: 0, syscall: 'worker', message }],
  }
}

/** Sorts failures by file then offset and merges touching ranges with the same code and call. */
export function coalesceFailures(failures: RangeFailure[]): RangeFailure[] {
  const sorted = [...failures].sort((a, b) => a.dest - b.dest || a.offset - b.offset)
  const out: RangeFailure[] = []
  for (const f of sorted) {
    const last = out[out.length - 1]
    if (last && last.dest === f.dest && last.code === f.code && last.syscall === f.syscall && last.offset + last.length === f.offset) {
      // A message that names its range (VERIFY_MISMATCH does) names the merged one.
      last.message = last.message.replace(`${last.offset}..${last.offset + last.length}`, `${last.offset}..${f.offset + f.length}`)
      last.length += f.length
    } else {
      out.push({ ...f })
    }
  }
  return out
}
