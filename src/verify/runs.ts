import { MERGE_GAP_BYTES } from '../chunk/diff-runs.js'

/** Where one replica differs: bytes [offset, offset + length) of the replica and the source. */
export interface Difference {
  offset: number
  length: number
}

/** One replica's differences, exact in the totals, listed up to a limit. */
export interface ReplicaRuns {
  /** The first runs in offset order, at most the limit (fewer when a chunk had more runs than a worker returns: the list stops there). */
  listed: Difference[]
  /** Runs in all, joined across chunk edges as within chunks. */
  count: number
  /** Bytes the runs span in all, from the first to the last differing byte of each. */
  spanBytes: number
  /** Bytes that differ (against a manifest: bytes of the chunks whose digest differs). */
  differingBytes: number
}

// A differing chunk's record, in RunCollector.chunks.
const START = 0
const END = 1
const RUNS = 2
const SPAN = 3
const DIFFERING = 4
const FIRST_OFFSET = 5
const FIRST_LENGTH = 6
const LAST_OFFSET = 7
const LAST_LENGTH = 8
/** 1 when the worker left out runs between the ones it returned and the chunk's last. */
const CUT = 9
const FIELDS = 10

/**
 * Gathers one replica's runs as its chunks finish, in any order (the
 * workers' results: ChunkResult.diffs), and at the end joins runs across
 * chunk edges, as the workers join them within chunks: a run ending fewer
 * than MERGE_GAP_BYTES before the end of one chunk and one starting as
 * early in the next compared chunk are one. Memory: ten numbers per
 * differing chunk (its counts, its first and last runs), and at most
 * `limit` of the runs in between, the ones at the lowest offsets, which are
 * the only ones that can be listed.
 */
export class RunCollector {
  private readonly chunks: number[] = []
  /** Runs other than a chunk's first and last, as (offset, length): none of them joins a run of another chunk. */
  private inner: Array<[number, number]> = []

  constructor(private readonly limit: number) {}

  /** Chunk bytes [start, end) were compared; `diffs` is what the worker found there. */
  add(start: number, end: number, diffs: readonly number[]): void {
    if (diffs.length < 5) {
      // An identical chunk shorter than the gap (at the edge of a range) can sit between two runs that are one.
      if (end > start && end - start < MERGE_GAP_BYTES) this.chunks.push(start, end, 0, 0, 0, 0, 0, 0, 0, 0)
      return
    }
    const pairs = (diffs.length - 3) / 2
    const runs = diffs[0] as number
    this.chunks.push(start, end, runs, diffs[1] as number, diffs[2] as number, diffs[3] as number, diffs[4] as number,
      diffs[diffs.length - 2] as number, diffs[diffs.length - 1] as number, runs > pairs ? 1 : 0)
    for (let k = 1; k < pairs - 1; k++) this.inner.push([diffs[3 + 2 * k] as number, diffs[4 + 2 * k] as number])
    // Only the lowest `limit` can ever be listed; sorted and cut now and then, not on every chunk.
    if (this.inner.length > 2 * this.limit + 1024) this.keepLowest()
  }

  private keepLowest(): void {
    this.inner.sort((x, y) => x[0] - y[0])
    this.inner.length = Math.min(this.inner.length, this.limit)
  }

  /** Walks the differing chunks in offset order once: totals over every run, the list up to the limit. */
  finish(): ReplicaRuns {
    this.keepLowest()
    const c = this.chunks
    const order = Array.from({ length: c.length / FIELDS }, (_, i) => i * FIELDS).sort((x, y) => (c[x + START] as number) - (c[y + START] as number))
    const out: ReplicaRuns = { listed: [], count: 0, spanBytes: 0, differingBytes: 0 }
    // The list stops at the limit, or where a worker left runs out.
    let listing = true
    const list = (offset: number, end: number) => {
      if (!listing) return
      if (out.listed.length < this.limit) out.listed.push({ offset, length: end - offset })
      else listing = false
    }
    // The last run of the chunk before, still open to a join, and where that chunk's compared bytes ended.
    let open: { offset: number; end: number } | null = null
    let before = -1
    let next = 0
    for (const at of order) {
      const start = c[at + START] as number
      if (c[at + RUNS] === 0) {
        // Compared and equal: the bytes between two runs stay known when it is between them.
        before = before === start ? (c[at + END] as number) : -1
        continue
      }
      const firstOffset = c[at + FIRST_OFFSET] as number
      out.count += c[at + RUNS] as number
      out.spanBytes += c[at + SPAN] as number
      out.differingBytes += c[at + DIFFERING] as number
      if (open && before === start && firstOffset - open.end < MERGE_GAP_BYTES) {
        out.count--
        out.spanBytes += firstOffset - open.end
        open.end = firstOffset + (c[at + FIRST_LENGTH] as number)
      } else {
        if (open) list(open.offset, open.end)
        open = { offset: firstOffset, end: firstOffset + (c[at + FIRST_LENGTH] as number) }
      }
      before = c[at + END] as number
      if ((c[at + RUNS] as number) === 1) continue
      list(open.offset, open.end)
      for (; next < this.inner.length && (this.inner[next] as [number, number])[0] < before; next++) {
        const [offset, length] = this.inner[next] as [number, number]
        list(offset, offset + length)
      }
      if (c[at + CUT] === 1) listing = false
      open = { offset: c[at + LAST_OFFSET] as number, end: (c[at + LAST_OFFSET] as number) + (c[at + LAST_LENGTH] as number) }
    }
    if (open) list(open.offset, open.end)
    return out
  }
}
