// engine/: the run loop's parts: chunk work to dispatch, results tallied, progress, per-phase timing and a job's status.
import type { Extent, JobSpec } from '../job.js'
import type { ChunkTask, VerifyLevel } from '../protocol/protocol.js'
import { fileRef as ref } from '../files/regions.js'
import { chunkAt, chunkCount, type ChunkPlan } from '../scheduler.js'
import { previousDigest } from '../incremental/since.js'
import { passTurnWhenDue } from '../protocol/order.js'

/** The tasks of a job: how many, each one, and the part of the range each covers. */
export interface WorkPlan {
  count: number
  task(index: number): ChunkTask
  /** Relative to the start of the job's byte space (the range, or the ranges end to end). */
  extent(index: number): Extent
  /** Task `index` ended without running (its worker died): release whatever order later tasks wait on. */
  abandon?(index: number): void
  /**
   * Tasks report what they completed as destination spans
   * (ChunkResult.doneSpans; clones): the job's `completed` is those, and
   * `extent` only places each task in the work list, for progress.
   */
  spans?: true
}

/** Copy and zero: one contiguous range cut into chunks (src/scheduler.ts). */
export function chunkWork(spec: JobSpec, level: VerifyLevel): WorkPlan {
  const list = spec.extents
  const plan: ChunkPlan = {
    anchorOffsetBytes: spec.source ? spec.srcOffset : (spec.destOffsets[0] ?? 0),
    totalBytes: spec.totalBytes,
    chunkBytes: spec.chunkBytes,
  }
  const writeTurn = spec.sequentialWrites && spec.kind === 'copy' ? new SharedArrayBuffer(4) : null
  const src = spec.source ? ref(spec.source) : null
  const dests = spec.dests.map(ref)
  const extentOf = (index: number): Extent => (list ? (list[index] as Extent) : chunkAt(plan, index))
  return {
    count: list ? list.length : chunkCount(plan),
    extent: extentOf,
    ...(writeTurn ? { abandon: (index: number) => void passTurnWhenDue(new Int32Array(writeTurn), index) } : {}),
    task: (index) => {
      const c = extentOf(index)
      const ends = dests.map((d, i) => ({ ...d, offsetBytes: (spec.destOffsets[i] ?? 0) + c.offset }))
      return src
        ? { kind: 'copy', chunkIndex: index, lengthBytes: c.length, src: { ...src, offsetBytes: spec.srcOffset + c.offset }, dests: ends, verify: level, writeTurn, srcHoles: spec.srcHoles === true, sparse: spec.sparse ?? null,
          since: spec.since ? { digest: previousDigest(spec.since, index, c.offset, c.length), algo: spec.since.manifest.algo } : null,
          badBlocks: spec.badBlocks ?? null }
        : { kind: 'zero', chunkIndex: index, lengthBytes: c.length, dests: ends, verify: level }
    },
  }
}
