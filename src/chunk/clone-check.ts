import { alignUp } from '../io/align.js'
import { toSystemError } from '../errors.js'
import type { RangesChunkResult, FileRef, RangesTask } from '../protocol/protocol.js'
import { hexOf, sameDigest, type Xxh3 } from '../hash/xxh3.js'
import type { WorkerContext } from './context.js'
import { readBack } from './copy.js'
import { markDone, waitForDone } from '../protocol/order.js'
import { differingRanges, readRange } from './ranged-io.js'
import { systemCode } from '../error-kinds.js'

/**
 * Checks clones made by the job's clone tasks (RangesTask 'check'), once
 * all of them have ended and the destination is synced. Both levels read
 * each piece of the source into `main` (as a copy's would sit, so the
 * task's digest is a copy's) and the destination's piece, O_DIRECT where
 * possible: verify 1 hashes the two and compares the digests, piece by
 * piece; verify 2 compares the bytes, as a copy reads back. A difference is
 * a VERIFY_MISMATCH for exactly the 4 KiB blocks that differ. Pieces whose
 * clone failed are not read: their failure is reported already, and this
 * task fails with them. The pieces checked without a fault are the task's
 * doneSpans. Failures are data.
 */
export function checkClones(ctx: WorkerContext, hash: Xxh3 | null, t: RangesTask, res: RangesChunkResult): RangesChunkResult {
  const barrier = t.order ? new Int32Array(t.order.barrier) : null
  try {
    if (barrier && t.order) waitForDone(barrier, t.order.waitFor)
    try {
      ctx.io.fdatasync(t.dest.fd)
    } catch (err) {
      return unsynced(t, res, err)
    }
    const failed = t.cloneRanges ? new Uint8Array(t.cloneRanges.flags) : null
    // Flat (buffer offset or -1, length) per piece.
    const placed: number[] = []
    let end = 0
    for (let i = 0, k = 0; i < t.pieces.length; i += 3, k++) {
      const [so, , len] = piece(t, i)
      const at = alignUp(end, ctx.pageBytes) + (so % ctx.pageBytes)
      end = at + len
      if (failed && Atomics.load(failed, t.cloneRanges?.ofPiece[k] ?? 0) === 1) {
        res.writeErr |= 1
        placed.push(-1, len)
        continue
      }
      placed.push(readInto(ctx, t.src, so, len, at, res) ? at : -1, len)
    }
    if (hash && placed.every((v, j) => j % 2 === 1 || v >= 0)) res.digest = hash.digestParts(ctx.main, placed)
    const done: number[] = []
    for (let i = 0, k = 0; i < t.pieces.length; i += 3, k += 2) {
      const at = placed[k] as number
      if (at < 0) continue
      const [, dof, len] = piece(t, i)
      const before = res.errors.length
      // Read into `stage` at the destination's own page phase: O_DIRECT wherever it has any.
      const dest = { ...t.dest, offsetBytes: dof }
      if (t.verify === 2 || !hash) readBack(ctx, dest, 0, len, ctx.main, at, res)
      else hashBack(ctx, hash, dest, len, at, res)
      if (res.errors.length === before) addSpan(done, dof, len)
    }
    res.doneSpans = done
    return res
  } finally {
    if (barrier) markDone(barrier, t.chunkIndex)
  }
}

/**
 * verify 1: reads the destination's piece into `stage`, hashes it and the
 * source's piece in main[at, +len), and compares the digests; where they
 * differ, the blocks that differ are named (both pieces are in memory), as
 * a read-back names them.
 */
function hashBack(ctx: WorkerContext, hash: Xxh3, d: FileRef & { offsetBytes: number }, len: number, at: number, res: RangesChunkResult): void {
  const from = d.offsetBytes % ctx.pageBytes
  const r = readRange(ctx.io, d, d.offsetBytes, len, ctx.stage, from, res)
  if (typeof r !== 'number') {
    res.writeErr |= 1
    res.errors.push({ dest: 0, ...r })
    return
  }
  res.directBytes += r
  const expected = hash.digest(ctx.main, at, len)
  const found = hash.digest(ctx.stage, from, len)
  if (sameDigest(found, expected)) return
  res.writeErr |= 1
  const diffs = differingRanges(ctx.main, at, ctx.stage, from, len)
  // Equal bytes cannot hash apart; should they, the whole piece is named.
  for (const diff of diffs.length > 0 ? diffs : [{ offset: 0, length: len }]) {
    const offset = d.offsetBytes + diff.offset
    res.errors.push({
      dest: 0, offset, length: diff.length, code: 'VERIFY_MISMATCH', errno: 0, syscall: 'hash',
      message: `VERIFY_MISMATCH: ${d.path} bytes ${offset}..${offset + diff.length} differ from the source (xxh3 ${hexOf(found)} of the clone's piece, ${hexOf(expected)} of the source's)`,
    })
  }
}

/** Appends (offset, length) to flat pairs, merged with the last pair where they touch. */
export function addSpan(spans: number[], offset: number, length: number): void {
  const n = spans.length
  if (n >= 2 && (spans[n - 2] as number) + (spans[n - 1] as number) === offset) spans[n - 1] = (spans[n - 1] as number) + length
  else spans.push(offset, length)
}

function piece(t: RangesTask, i: number): [number, number, number] {
  return [t.pieces[i] as number, t.pieces[i + 1] as number, t.pieces[i + 2] as number]
}

/** Reads a source piece into main[at, +len); a failure is a read error of the source. */
function readInto(ctx: WorkerContext, f: FileRef, offset: number, len: number, at: number, res: RangesChunkResult): boolean {
  const r = readRange(ctx.io, f, offset, len, ctx.main, at, res)
  if (typeof r === 'number') {
    res.directBytes += r
    return true
  }
  res.readErr = true
  res.errors.push({ dest: -1, ...r })
  return false
}

/** The destination could not be synced: no piece of this task is checked, each is reported. */
function unsynced(t: RangesTask, res: RangesChunkResult, err: unknown): RangesChunkResult {
  const e = toSystemError(err, 'fdatasync', t.dest.path)
  res.writeErr |= 1
  for (let i = 0; i < t.pieces.length; i += 3) {
    res.errors.push({ dest: 0, offset: t.pieces[i + 1] as number, length: t.pieces[i + 2] as number, code: systemCode(e), errno: e.errno, syscall: e.syscall, message: e.message })
  }
  res.doneSpans = []
  return res
}
