import type { Extent, WorkPlan } from '../job.js'
import { markDone, newBarrier } from '../protocol/order.js'
import type { FileRef, RangesTask, VerifyLevel } from '../protocol/protocol.js'
import { planCloneChecks, planClones, type ReplicateRange } from './ranges.js'

/** Buffers the checks' pieces are batched for. */
export interface CheckBuffers {
  chunkBytes: number
  bufferBytes: number
  pageBytes: number
}

/**
 * The tasks of a clone job. Without verify, the clones only: up to 1,024
 * ranges a task, each one FICLONERANGE whatever its length. With verify
 * (level 1 or 2), the same clones, then tasks that check them
 * (RangesTask 'check'), which wait until every clone task has ended (a
 * barrier in shared memory; tasks start in index order, so every clone task
 * is running or done by then). The checks are cut as a copy of the ranges
 * would be, across every worker, and carry the job's bytes: progress counts
 * what was cloned and checked. Every task reports the destination bytes it
 * completed (doneSpans: cloned, and checked where checks follow), so the
 * job's `completed` is in the destination's offsets, as its errors are, and
 * a task that fails on one range still counts the others. A range whose
 * clone failed is flagged by its clone task and not checked, so it is
 * reported once.
 */
export function cloneWork(ranges: ReplicateRange[], src: FileRef, dest: FileRef, buffers: CheckBuffers): (level: VerifyLevel) => WorkPlan {
  return (level) => {
    const clones = planClones(ranges)
    if (level === 0) {
      const starts = offsets(clones.taskBytes)
      return {
        count: clones.tasks.length,
        spans: true,
        extent: (i) => ({ offset: starts[i] ?? 0, length: clones.taskBytes[i] ?? 0 }),
        task: (i) => ({
          kind: 'ranges', chunkIndex: i, lengthBytes: clones.taskBytes[i] ?? 0, src, dest, pieces: clones.tasks[i] ?? [], method: 'clone', verify: 0, order: null,
        }),
      }
    }
    const checks = planCloneChecks(ranges, buffers.chunkBytes, buffers.bufferBytes, buffers.pageBytes)
    const first = clones.tasks.length
    const barrier = newBarrier(first + checks.tasks.length)
    const flags = new SharedArrayBuffer(ranges.length)
    const starts = offsets(checks.taskBytes)
    const extent = (i: number): Extent => (i < first ? { offset: 0, length: 0 } : { offset: starts[i - first] ?? 0, length: checks.taskBytes[i - first] ?? 0 })
    return {
      count: first + checks.tasks.length,
      spans: true,
      extent,
      // A task that never ran marks itself done, so no check waits for it;
      // the ranges of a clone task that never ran are not checked, as failed.
      abandon: (i) => {
        if (i < first) for (const r of clones.rangeOf[i] ?? []) Atomics.store(new Uint8Array(flags), r, 1)
        markDone(new Int32Array(barrier), i)
      },
      task: (i): RangesTask => {
        const clone = i < first
        const plan = clone ? clones : checks
        const k = clone ? i : i - first
        return {
          kind: 'ranges', chunkIndex: i, lengthBytes: plan.taskBytes[k] ?? 0, src, dest, pieces: plan.tasks[k] ?? [],
          method: clone ? 'clone' : 'check', verify: clone ? 0 : level,
          order: clone
            ? { barrier, waitFor: 0, waitBefore: 'none', markAfter: 'write' }
            : { barrier, waitFor: first, waitBefore: 'read', markAfter: 'read' },
          cloneRanges: { flags, ofPiece: plan.rangeOf[k] ?? [] },
        }
      },
    }
  }
}

/** Where each task's bytes start, end to end. */
function offsets(taskBytes: number[]): number[] {
  const out: number[] = []
  taskBytes.reduce((at, n) => (out.push(at), at + n), 0)
  return out
}
