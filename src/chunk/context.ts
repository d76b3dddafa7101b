import { threadId } from 'node:worker_threads'
import { loadBackend } from '../io/index.js'
import type { IoBackend } from '../io/types.js'
import type { HashAlgo, WorkerConfig } from '../protocol/protocol.js'
import { Xxh3 } from '../hash/xxh3.js'

/**
 * What one worker owns for its whole life: the I/O backend, two aligned
 * buffers and a hasher. Allocated once, on the first task; nothing is
 * allocated per chunk. Only the owning thread may touch the buffers.
 */
export interface WorkerContext {
  io: IoBackend
  /** Holds the chunk as read from the source, at the source's page phase. */
  main: Buffer
  /** Restaging for destinations of another page phase, read-back, and zeros. */
  stage: Buffer
  pageBytes: number
  /** Created by the first task that hashes (ensureHasher); a worker that never hashes never loads it. */
  hash: Xxh3 | null
  /** The XXH3-128 hasher, created by the first xxh128 hash task. */
  hash128: Xxh3 | null
  threadId: number
}

let context: Promise<WorkerContext> | null = null

/** The calling worker's context, created on first use from the pool's workerData. */
export function workerContext(config: WorkerConfig): Promise<WorkerContext> {
  context ??= (async () => {
    const io = loadBackend({ prefer: config.io })
    return {
      io,
      main: io.allocAligned(config.bufferBytes, config.pageBytes),
      stage: io.allocAligned(config.bufferBytes, config.pageBytes),
      pageBytes: config.pageBytes,
      hash: null,
      hash128: null,
      threadId,
    }
  })()
  return context
}

/** The context's hasher of `algo` (default xxh3-64), created on first use. */
export async function ensureHasher(ctx: WorkerContext, algo: HashAlgo = 'xxh3'): Promise<Xxh3> {
  if (algo === 'xxh128') {
    ctx.hash128 ??= await Xxh3.create('xxh128')
    return ctx.hash128
  }
  ctx.hash ??= await Xxh3.create()
  return ctx.hash
}
