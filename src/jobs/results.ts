import type { ChunkDigest, Extent, JobSpec } from '../job.js'
import type { RangeFailure } from '../protocol.js'
import type { WorkPlan } from './work.js'
import { DIGEST_BYTES } from '../verify/xxh3.js'

/** Failures for the destinations a chunk skipped because they had failed before: each the chunk's whole range there. */
export function notWritten(spec: JobSpec, mask: number, c: Extent): RangeFailure[] {
  const out: RangeFailure[] = []
  spec.dests.forEach((d, i) => {
    if ((mask & (1 << i)) === 0) return
    const offset = (spec.destOffsets[i] ?? 0) + c.offset
    out.push({
      dest: i, offset, length: c.length, code: 'DEST_STOPPED', errno: 0, syscall: 'pwrite',
      message: `DEST_STOPPED: ${d.path} bytes ${offset}..${offset + c.length} were not written: this destination had failed earlier (full or a media error), so it got no more writes`,
    })
  })
  return out
}

/**
 * A task's digests as chunk entries: one, or (hash tasks, which cover
 * several manifest chunks) one per chunk of spec.chunkBytes, its digests
 * being theirs end to end.
 */
export function chunkDigests(extent: Extent, digest: string, spec: JobSpec): ChunkDigest[] {
  const width = 2 * DIGEST_BYTES[spec.hashAlgo ?? 'xxh3']
  if (spec.kind !== 'hash' || digest.length <= width) return [{ ...extent, digest }]
  const out: ChunkDigest[] = []
  for (let k = 0; k * width < digest.length; k++) {
    const offset = extent.offset + k * spec.chunkBytes
    out.push({ offset, length: Math.min(spec.chunkBytes, extent.offset + extent.length - offset), digest: digest.slice(k * width, (k + 1) * width) })
  }
  return out
}

/** What a job's chunks add up to, walked once in index order. */
export interface ChunkTally {
  /** The ranges done, coalesced, in offset order: the chunks that succeeded and the readable parts of those with bad blocks. */
  completed: Extent[]
  completedBytes: number
  /** Holes punched or left (sparse copies) within the chunks that succeeded. */
  holeBytes: number
  /** Bytes not written because their digest matched (incremental copies), within the chunks that succeeded. */
  skippedBytes: number
}

/**
 * Sums and coalesces without an array per chunk: a job of a million chunks
 * keeps, beyond the per-chunk typed arrays it already has, only the ranges
 * that remain after coalescing. Tasks whose extent is empty (staging) carry
 * nothing of the result's own.
 */
export function tallyChunks(work: WorkPlan, ok: Uint8Array, partial: readonly Extent[], holes: ReadonlyMap<number, number>, skipped: ReadonlyMap<number, number>): ChunkTally {
  const tally: ChunkTally = { completed: [], completedBytes: 0, holeBytes: 0, skippedBytes: 0 }
  let sorted = true
  for (let i = 0; i < work.count; i++) {
    if (!ok[i]) continue
    const e = work.extent(i)
    if (e.length === 0) continue
    tally.holeBytes += holes.get(i) ?? 0
    tally.skippedBytes += skipped.get(i) ?? 0
    sorted = append(tally.completed, e) && sorted
  }
  for (const e of partial) sorted = append(tally.completed, e) && sorted
  // Chunk extents come in offset order, so only the (few) partial ones, or a
  // plan whose extents are not in order, need the sort.
  if (!sorted) tally.completed = coalesce(tally.completed.sort((a, b) => a.offset - b.offset))
  tally.completedBytes = tally.completed.reduce((n, e) => n + e.length, 0)
  return tally
}

/** Adds e to the end of list, merged with the last range when they touch; false when e starts before that range ends. */
function append(list: Extent[], e: Extent): boolean {
  const last = list[list.length - 1]
  if (last && last.offset + last.length === e.offset) {
    last.length += e.length
    return true
  }
  list.push({ offset: e.offset, length: e.length })
  return !last || last.offset + last.length <= e.offset
}

function coalesce(sorted: Extent[]): Extent[] {
  const out: Extent[] = []
  for (const e of sorted) append(out, e)
  return out
}

/** True when pred holds for every task with a non-empty extent. */
export function everyCounted(work: WorkPlan, pred: (index: number) => boolean): boolean {
  for (let i = 0; i < work.count; i++) if (work.extent(i).length > 0 && !pred(i)) return false
  return true
}

/** The result's per-chunk digests, in task order (tasks with an empty extent or no digest have none). */
export function resultDigests(work: WorkPlan, digests: readonly (string | undefined)[], spec: JobSpec): ChunkDigest[] {
  const out: ChunkDigest[] = []
  for (let i = 0; i < work.count; i++) {
    const d = digests[i]
    const e = work.extent(i)
    if (d && e.length > 0) out.push(...chunkDigests(e, d, spec))
  }
  return out
}
