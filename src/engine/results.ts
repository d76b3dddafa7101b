import type { ChunkDigest, Extent, JobSpec } from '../job.js'
import type { ChunkResult, CopyChunkResult, DigestBytes, RangeFailure } from '../protocol/protocol.js'
import { goodParts } from '../chunk/scrape.js'
import type { WorkPlan } from './work.js'
import { DIGEST_BYTES, hexOf } from '../hash/xxh3.js'

/**
 * A chunk with bad blocks: its readable parts that reached every
 * destination (absolute source offsets, flat pairs). A write that failed on
 * one destination part-way through the chunk takes out only what it and the
 * parts after it did not write there (the errors name those), so the parts
 * written everywhere before it still count as completed.
 */
export function completedParts(spec: JobSpec, c: Extent, r: CopyChunkResult, skipMask: number): number[] {
  if (skipMask !== 0 || !r.badRanges) return []
  const at = spec.srcOffset + c.offset
  const gaps: Array<[number, number]> = []
  for (let k = 0; k + 1 < r.badRanges.length; k += 2) gaps.push([r.badRanges[k] as number, r.badRanges[k + 1] as number])
  for (const e of r.errors) {
    // A destination's error, in its own offsets, back to the source's.
    if (e.dest >= 0) gaps.push([at + e.offset - ((spec.destOffsets[e.dest] ?? 0) + c.offset), e.length])
  }
  gaps.sort((x, y) => x[0] - y[0])
  return goodParts(at, c.length, gaps.flat())
}

/**
 * A task of a plan that reports destination spans (WorkPlan.spans, clones):
 * its spans added to `into`, and their bytes, which are what it did,
 * whether or not all of it went well. Only ranges tasks report spans; any
 * other answer (none is expected in such a plan) did nothing.
 */
export function spansDone(r: ChunkResult, into: Extent[]): number {
  const s = (r.kind === 'ranges' ? r.doneSpans : undefined) ?? []
  let bytes = 0
  for (let k = 0; k + 1 < s.length; k += 2) {
    into.push({ offset: s[k] as number, length: s[k + 1] as number })
    bytes += s[k + 1] as number
  }
  return bytes
}

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
 * A task's digests as the result's chunk entries, in hex: one, or (hash
 * tasks, which cover several manifest chunks) one per chunk of
 * spec.chunkBytes, its digests being theirs end to end.
 */
export function chunkDigests(extent: Extent, digest: DigestBytes, spec: JobSpec): ChunkDigest[] {
  const width = DIGEST_BYTES[spec.hashAlgo ?? 'xxh3']
  if (spec.kind !== 'hash' || digest.length <= width) return [{ ...extent, digest: hexOf(digest) }]
  const out: ChunkDigest[] = []
  for (let k = 0; k * width < digest.length; k++) {
    const offset = extent.offset + k * spec.chunkBytes
    out.push({ offset, length: Math.min(spec.chunkBytes, extent.offset + extent.length - offset), digest: hexOf(digest.subarray(k * width, (k + 1) * width)) })
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
  /** Every task's digest in task order (a task's digest holds several chunks' for hash tasks). */
  digests: DigestBytes[]
  /** The result's per-chunk digests. */
  chunks: ChunkDigest[]
  /** True when every task has its digest. */
  allDigested: boolean
}

/** The per-task outcomes a job gathered: `ok` for every task, the rest only where there is something. */
export interface ChunkOutcomes {
  ok: Uint8Array
  /** The readable parts of chunks with bad blocks; the spans of a plan of spans (WorkPlan.spans). */
  partial: readonly Extent[]
  holes: ReadonlyMap<number, number>
  skipped: ReadonlyMap<number, number>
  /** Sparse: the tasks that hashed. */
  digests: readonly (DigestBytes | undefined)[]
}

/**
 * Sums, coalesces and collects digests in one walk, without an array per
 * chunk beyond the digests a hashing job returns: a job of a million chunks
 * keeps only the ranges that remain after coalescing. Tasks whose extent is
 * empty (staging) carry nothing of the result's own.
 */
export function tallyChunks(work: WorkPlan, o: ChunkOutcomes, spec: JobSpec): ChunkTally {
  const tally: ChunkTally = { completed: [], completedBytes: 0, holeBytes: 0, skippedBytes: 0, digests: [], chunks: [], allDigested: true }
  let sorted = true
  for (let i = 0; i < work.count; i++) {
    const e = work.extent(i)
    if (e.length === 0) continue
    const d = o.digests[i]
    if (d === undefined) tally.allDigested = false
    else {
      tally.digests.push(d)
      tally.chunks.push(...chunkDigests(e, d, spec))
    }
    // A plan of spans has its completed ranges in `partial` only.
    if (!o.ok[i] || work.spans) continue
    tally.holeBytes += o.holes.get(i) ?? 0
    tally.skippedBytes += o.skipped.get(i) ?? 0
    sorted = append(tally.completed, e) && sorted
  }
  for (const e of o.partial) sorted = append(tally.completed, e) && sorted
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
