import { alignUp } from '../io/align.js'
import { toSystemError } from '../errors.js'
import type { RangesChunkResult, FileRef, RangesTask } from '../protocol.js'
import type { Xxh3 } from '../verify/xxh3.js'
import type { WorkerContext } from './context.js'
import { readBack } from './copy.js'
import { markDone, waitForDone } from './order.js'
import { readRange } from './ranged-io.js'
import { systemCode } from '../error-classes.js'

/**
 * Checks clones made by the job's clone tasks (RangesTask 'check'), once
 * all of them have ended and the destination is synced: verify 1 reads each
 * cloned piece back from the destination and hashes it; verify 2 reads the
 * source's piece, hashes it and compares the destination's with it
 * (VERIFY_MISMATCH for the blocks that differ), as a copy reads back. The
 * pieces sit in `main` as a copy's would, so the digest is a copy's. Pieces
 * whose clone failed are not read: their failure is reported already, and
 * this task fails with them. Failures are data.
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
      const [so, dof, len] = [t.pieces[i] as number, t.pieces[i + 1] as number, t.pieces[i + 2] as number]
      const at = alignUp(end, ctx.pageBytes) + (so % ctx.pageBytes)
      end = at + len
      if (failed && Atomics.load(failed, t.cloneRanges?.ofPiece[k] ?? 0) === 1) {
        res.writeErr |= 1
        placed.push(-1, len)
        continue
      }
      const ok = t.verify === 2 ? readInto(ctx, t.src, so, len, at, -1, res) : readInto(ctx, samePhase(t.dest, dof - so), dof, len, at, 0, res)
      placed.push(ok ? at : -1, len)
    }
    if (hash && placed.every((v, j) => j % 2 === 1 || v >= 0)) res.digest = hash.digestParts(ctx.main, placed)
    if (t.verify === 2) {
      for (let i = 0, k = 0; i < t.pieces.length; i += 3, k += 2) {
        const at = placed[k] as number
        if (at >= 0) readBack(ctx, { ...t.dest, offsetBytes: t.pieces[i + 1] as number }, 0, placed[k + 1] as number, ctx.main, at, res)
      }
    }
    return res
  } finally {
    if (barrier) markDone(barrier, t.chunkIndex)
  }
}

/**
 * Reads a piece into main[at, +len); a failure is file `dest`'s (-1 the
 * source: readErr; 0 the destination, whose clone then cannot be trusted).
 */
function readInto(ctx: WorkerContext, f: FileRef, offset: number, len: number, at: number, dest: -1 | 0, res: RangesChunkResult): boolean {
  const r = readRange(ctx.io, f, offset, len, ctx.main, at, res)
  if (typeof r === 'number') {
    res.directBytes += r
    return true
  }
  if (dest < 0) res.readErr = true
  else res.writeErr |= 1
  res.errors.push({ dest, ...r })
  return false
}

/**
 * The destination as read at the source's page phase: direct where the
 * two phases agree (clones are block-aligned, so almost always), else
 * through the page cache, as O_DIRECT needs the buffer aligned as the file.
 */
function samePhase(dest: FileRef, shift: number): FileRef {
  return dest.directFd < 0 || shift % dest.alignBytes === 0 ? dest : { ...dest, directFd: -1 }
}

/** The destination could not be synced: no piece of this task is checked, each is reported. */
function unsynced(t: RangesTask, res: RangesChunkResult, err: unknown): RangesChunkResult {
  const e = toSystemError(err, 'fdatasync', t.dest.path)
  res.writeErr |= 1
  for (let i = 0; i < t.pieces.length; i += 3) {
    res.errors.push({ dest: 0, offset: t.pieces[i + 1] as number, length: t.pieces[i + 2] as number, code: systemCode(e), errno: e.errno, syscall: e.syscall, message: e.message })
  }
  return res
}
