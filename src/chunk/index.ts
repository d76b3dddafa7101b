// chunk/: the worker side: one pool task (copy, zero, hash, compare, ranges, baseline) run on a chunk, its reads, writes, holes and zero runs.
import { workerData } from 'node:worker_threads'
import type { PoolTask, TaskResults, WorkerConfig } from '../protocol/protocol.js'
import { cloneBaseline } from './baseline-clone.js'
import { ensureHasher, workerContext } from './context.js'
import { compareChunk } from './compare.js'
import { copyChunk } from './copy.js'
import { hashChunk } from './hash.js'
import { rangesChunk } from './ranges.js'
import { zeroChunk } from './zero.js'

/**
 * Runs one task in the calling worker. Never throws for I/O: errors are
 * data. Each case answers with its kind's result (TaskResults); Piscina
 * erases which, and the main thread checks it (protocol.ts answers).
 */
export async function runTask(task: PoolTask): Promise<TaskResults[PoolTask['kind']]> {
  const ctx = await workerContext(workerData as WorkerConfig)
  switch (task.kind) {
    case 'copy':
      return copyChunk(ctx, task.verify > 0 ? await ensureHasher(ctx, task.since?.algo) : null, task)
    case 'zero':
      return zeroChunk(ctx, task)
    case 'ranges':
      return rangesChunk(ctx, task.verify > 0 ? await ensureHasher(ctx) : null, task)
    case 'hash':
      return hashChunk(ctx, await ensureHasher(ctx, task.algo), task)
    case 'compare':
      return compareChunk(ctx, task.expect ? await ensureHasher(ctx, task.expect.algo) : null, task)
    case 'baseline':
      return cloneBaseline(ctx, task)
    case 'probe': {
      // Hold this worker until `parties` workers have arrived, so that each
      // probe is answered by a different thread.
      const slot = new Int32Array(task.rendezvous)
      Atomics.add(slot, 0, 1)
      Atomics.notify(slot, 0)
      const deadline = Date.now() + 10_000
      for (let n = Atomics.load(slot, 0); n < task.parties && Date.now() < deadline; n = Atomics.load(slot, 0)) {
        Atomics.wait(slot, 0, n, 100)
      }
      return { kind: 'probe', threadId: ctx.threadId, backend: ctx.io.info.kind, reason: ctx.io.info.reason ?? '' }
    }
  }
}
