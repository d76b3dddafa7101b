import { BlockcopyError } from '../errors.js'
import { alignUp } from '../io/align.js'

/** One range to replicate (lsm_volume_replicate_range's range). */
export interface ReplicateRange {
  srcOffset: number
  dstOffset: number
  length: number
}

/** A piece of a range no longer than a chunk. */
interface Piece {
  so: number
  dof: number
  len: number
  /** The index of its range in the caller's list. */
  r: number
}

/** Order in which tasks must be dispatched: any, or so that no source byte is overwritten before it is read. */
export type RangeOrder = 'any' | 'ascending' | 'descending'

/** Batches of pieces, one per task, in dispatch order. */
export interface RangesPlan {
  /** Flat (srcOffset, dstOffset, length) triples of each task. */
  tasks: number[][]
  /** For each task, the index of each piece's range in the caller's list. */
  rangeOf: number[][]
  /** Bytes of each task. */
  taskBytes: number[]
  order: RangeOrder
  totalBytes: number
}

function bad(argument: string, message: string): BlockcopyError {
  return new BlockcopyError('INVALID_ARGUMENT', `${argument}: ${message}`, argument)
}

/**
 * Checks every range against the source size (and the destination device
 * size), and that no two destination ranges overlap, naming the ranges.
 */
export function checkRanges(ranges: unknown, srcSizeBytes: number, srcPath: string, destDeviceBytes: number | null): ReplicateRange[] {
  if (!Array.isArray(ranges) || ranges.length === 0) throw bad('ranges', 'at least one { srcOffset, dstOffset, length } is required')
  const out = ranges.map((r: unknown, i): ReplicateRange => {
    const arg = `ranges[${i}]`
    if (typeof r !== 'object' || r === null) throw bad(arg, 'must be { srcOffset, dstOffset, length }')
    const o = r as Record<string, unknown>
    for (const k of ['srcOffset', 'dstOffset', 'length'] as const) {
      const v = o[k]
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw bad(`${arg}.${k}`, `must be a whole number of bytes >= 0, got ${String(v)}`)
    }
    const c = { srcOffset: o.srcOffset as number, dstOffset: o.dstOffset as number, length: o.length as number }
    if (c.length === 0) throw bad(`${arg}.length`, 'must be at least 1 byte')
    if (Math.max(c.srcOffset, c.dstOffset) + c.length > Number.MAX_SAFE_INTEGER) throw bad(arg, 'ends past 2^53, the largest offset blockcopy handles exactly')
    if (c.srcOffset + c.length > srcSizeBytes) {
      throw bad(arg, `source bytes ${c.srcOffset}..${c.srcOffset + c.length} pass the end of ${srcPath} (${srcSizeBytes} bytes)`)
    }
    if (destDeviceBytes !== null && c.dstOffset + c.length > destDeviceBytes) {
      throw bad(arg, `destination bytes ${c.dstOffset}..${c.dstOffset + c.length} pass the end of the device (${destDeviceBytes} bytes)`)
    }
    return c
  })
  const byDest = out.map((r, i) => ({ r, i })).sort((a, b) => a.r.dstOffset - b.r.dstOffset)
  for (let k = 1; k < byDest.length; k++) {
    const a = byDest[k - 1] as { r: ReplicateRange; i: number }
    const b = byDest[k] as { r: ReplicateRange; i: number }
    if (b.r.dstOffset < a.r.dstOffset + a.r.length) {
      const [first, second] = a.i < b.i ? [a, b] : [b, a]
      throw bad(
        `ranges[${second.i}]`,
        `destination bytes ${second.r.dstOffset}..${second.r.dstOffset + second.r.length} overlap ranges[${first.i}] destination bytes ${first.r.dstOffset}..${first.r.dstOffset + first.r.length}; destination ranges may not overlap`,
      )
    }
  }
  return out
}

/** Whether any destination range overlaps any source range (same file only). O(n log n). */
export function overlapsItself(ranges: ReplicateRange[]): boolean {
  return overlapPair(ranges) !== null
}

/** A destination range that overlaps a source range (indexes in `ranges`), or null when none does. O(n log n). */
export function overlapPair(ranges: ReplicateRange[]): { dest: number; src: number } | null {
  const src = ranges.map((r, i) => ({ start: r.srcOffset, end: r.srcOffset + r.length, i })).sort((a, b) => a.start - b.start)
  // furthest[k]: the source, among the first k + 1 by start, that ends furthest.
  const furthest: Array<{ end: number; i: number }> = []
  src.forEach((s, k) => {
    const before = k > 0 ? (furthest[k - 1] as { end: number; i: number }) : null
    furthest.push(before && before.end >= s.end ? before : s)
  })
  for (const [i, d] of ranges.entries()) {
    // Sources starting before this destination ends: the first `lo` of them.
    let lo = 0
    let hi = src.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if ((src[mid] as { start: number }).start < d.dstOffset + d.length) lo = mid + 1
      else hi = mid
    }
    const f = lo > 0 ? furthest[lo - 1] : undefined
    if (f && f.end > d.dstOffset) return { dest: i, src: f.i }
  }
  return null
}

/** Splits ranges into pieces of at most chunkBytes, cut on absolute multiples of it in the source. */
function piecesOf(ranges: ReplicateRange[], chunkBytes: number): Piece[] {
  const out: Piece[] = []
  for (const [i, r] of ranges.entries()) {
    for (let done = 0; done < r.length; ) {
      const so = r.srcOffset + done
      const len = Math.min(r.length - done, chunkBytes - (so % chunkBytes))
      out.push({ so, dof: r.dstOffset + done, len, r: i })
      done += len
    }
  }
  return out.sort((a, b) => a.so - b.so)
}

/**
 * Cuts the ranges into tasks of at most chunkBytes, each fitting one worker
 * buffer with every piece at its own page phase. On the same file, where
 * destinations overlap sources, tasks go in ascending or descending source
 * order, whichever makes every source byte be read by the same or an
 * earlier task than any that overwrites it (the worker then holds each task's
 * writes until all earlier tasks have read): the result equals a memmove.
 * Null when neither order works (a cycle, such as a swap): the caller stages.
 */
export function planRanges(ranges: ReplicateRange[], sameFile: boolean, chunkBytes: number, bufferBytes: number, pageBytes: number): RangesPlan | null {
  const pieces = piecesOf(ranges, chunkBytes)
  return orderedPlan(ranges, pieces, sameFile, chunkBytes, bufferBytes, pageBytes)
}

/**
 * A clone moves no bytes through a buffer: each range is one FICLONERANGE,
 * whatever its length, and tasks carry up to 1,024 of them. (A clone never
 * overlaps its source within one file: the kernel refuses that.)
 */
export function planClones(ranges: ReplicateRange[]): RangesPlan {
  const sorted = ranges.map((r, i) => ({ r, i })).sort((a, b) => a.r.srcOffset - b.r.srcOffset)
  const tasks: number[][] = []
  const rangeOf: number[][] = []
  const taskBytes: number[] = []
  for (let i = 0; i < sorted.length; i += 1024) {
    const group = sorted.slice(i, i + 1024)
    tasks.push(group.flatMap(({ r }) => [r.srcOffset, r.dstOffset, r.length]))
    rangeOf.push(group.map(({ i: index }) => index))
    taskBytes.push(group.reduce((n, { r }) => n + r.length, 0))
  }
  return { tasks, rangeOf, taskBytes, order: 'any', totalBytes: taskBytes.reduce((n, b) => n + b, 0) }
}

/**
 * The check of clones (verify): the ranges cut and batched exactly as a
 * copy of them between two files would be (planRanges), so their digests
 * are the ones such a copy gives.
 */
export function planCloneChecks(ranges: ReplicateRange[], chunkBytes: number, bufferBytes: number, pageBytes: number): RangesPlan {
  const pieces = piecesOf(ranges, chunkBytes)
  return { ...batch(pieces, chunkBytes, bufferBytes, pageBytes), order: 'any', totalBytes: ranges.reduce((n, r) => n + r.length, 0) }
}

function orderedPlan(ranges: ReplicateRange[], pieces: Piece[], sameFile: boolean, chunkBytes: number, bufferBytes: number, pageBytes: number): RangesPlan | null {
  const totalBytes = ranges.reduce((n, r) => n + r.length, 0)
  if (!sameFile || !overlapsItself(ranges)) return { ...batch(pieces, chunkBytes, bufferBytes, pageBytes), order: 'any', totalBytes }
  for (const order of ['ascending', 'descending'] as const) {
    const ordered = order === 'ascending' ? pieces : [...pieces].reverse()
    const plan = batch(ordered, chunkBytes, bufferBytes, pageBytes)
    if (readsComeFirst(ordered, plan.taskOf)) return { ...plan, order, totalBytes }
  }
  // Neither order works (a cycle, such as a swap): the caller stages.
  return null
}

function batch(pieces: Piece[], chunkBytes: number, bufferBytes: number, pageBytes: number) {
  const tasks: number[][] = []
  const rangeOf: number[][] = []
  const taskBytes: number[] = []
  const taskOf: number[] = []
  let current: number[] = []
  let ranges: number[] = []
  let bytes = 0
  let end = 0
  for (const p of pieces) {
    const at = alignUp(end, pageBytes) + (p.so % pageBytes)
    if (current.length > 0 && (bytes + p.len > chunkBytes || at + p.len > bufferBytes)) {
      tasks.push(current)
      rangeOf.push(ranges)
      taskBytes.push(bytes)
      current = []
      ranges = []
      bytes = 0
      end = 0
    }
    const start = current.length === 0 ? p.so % pageBytes : at
    current.push(p.so, p.dof, p.len)
    ranges.push(p.r)
    bytes += p.len
    end = start + p.len
    taskOf.push(tasks.length)
  }
  if (current.length > 0) {
    tasks.push(current)
    rangeOf.push(ranges)
    taskBytes.push(bytes)
  }
  return { tasks, rangeOf, taskBytes, taskOf }
}

// Every piece whose source a destination overwrites must be in the same or
// an earlier task. `ordered` is sorted by source offset, one way or the other.
function readsComeFirst(ordered: Piece[], taskOf: number[]): boolean {
  const bySource = ordered.map((p, i) => ({ p, task: taskOf[i] as number })).sort((a, b) => a.p.so - b.p.so)
  const maxLen = ordered.reduce((m, p) => Math.max(m, p.len), 0)
  const firstAtOrAfter = (x: number): number => {
    let lo = 0
    let hi = bySource.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if ((bySource[mid] as { p: Piece }).p.so < x) lo = mid + 1
      else hi = mid
    }
    return lo
  }
  return ordered.every((q, qi) => {
    const qTask = taskOf[qi] as number
    for (let k = firstAtOrAfter(q.dof - maxLen + 1); k < bySource.length; k++) {
      const s = bySource[k] as { p: Piece; task: number }
      if (s.p.so >= q.dof + q.len) break
      if (s.p.so + s.p.len > q.dof && s.task > qTask) return false
    }
    return true
  })
}
