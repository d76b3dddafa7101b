import { alignUp } from '../io/align.js'
import { toSystemError } from '../errors.js'
import type { RangesChunkResult, FileRef, RangesTask } from '../protocol/protocol.js'
import type { Xxh3 } from '../hash/xxh3.js'
import type { WorkerContext } from './context.js'
import { readBack } from './copy.js'
import { addSpan, checkClones } from './clone-check.js'
import { isPoisoned, markDone, poison, waitForDone } from '../protocol/order.js'
import { readRange, writeRange } from './ranged-io.js'
import { systemCode } from '../error-kinds.js'

/**
 * Runs a batch of replication pieces: reads every piece into `main` (each at
 * its own page phase), hashes them end to end, waits until every earlier
 * task has read (when ordering matters), writes each, and reads each back
 * for verify 2. Failures are data; a failed piece does not stop the others.
 */
export function rangesChunk(ctx: WorkerContext, hash: Xxh3 | null, t: RangesTask): RangesChunkResult {
  const res: RangesChunkResult = {
    kind: 'ranges', chunkIndex: t.chunkIndex, lengthBytes: t.lengthBytes, digest: null, readErr: false, writeErr: 0, errors: [], directBytes: 0,
  }
  if (t.method === 'clone') return cloneAll(ctx, t, res)
  if (t.method === 'check') return checkClones(ctx, hash, t, res)
  const order = t.order
  const barrier = order ? new Int32Array(order.barrier) : null
  try {
    if (order && barrier && order.waitBefore === 'read') {
      waitForDone(barrier, order.waitFor)
      if (isPoisoned(barrier)) return notStaged(t, res)
    }
    const placed = readPieces(ctx, hash, t, res)
    if (order?.markAfter === 'read' && barrier) markDone(barrier, t.chunkIndex)
    if (order?.waitBefore === 'write' && barrier) waitForDone(barrier, order.waitFor)
    for (let i = 0, k = 0; i < t.pieces.length; i += 3, k += 2) {
      const at = placed[k] as number
      if (at < 0) continue
      const [so, dof, len] = piece(t, i)
      if (!writePiece(ctx, t.dest, so, dof, len, at, res)) placed[k] = -1
    }
    if (t.verify === 2) {
      for (let i = 0, k = 0; i < t.pieces.length; i += 3, k += 2) {
        const at = placed[k] as number
        if (at >= 0) readBack(ctx, { ...t.dest, offsetBytes: piece(t, i)[1] }, 0, placed[k + 1] as number, ctx.main, at, res)
      }
    }
    if (t.staging) inDestTerms(t, t.staging, res)
  } finally {
    if (order && barrier) {
      if (order.markAfter === 'write' && (res.readErr || res.writeErr !== 0)) poison(barrier)
      // Marked whatever happened: a task that never marks would hold the others forever.
      markDone(barrier, t.chunkIndex)
    }
  }
  return res
}

/** Reads every piece into `main`, each at its own page phase; returns flat (buffer offset or -1, length). */
function readPieces(ctx: WorkerContext, hash: Xxh3 | null, t: RangesTask, res: RangesChunkResult): number[] {
  const placed: number[] = []
  let end = 0
  for (let i = 0; i < t.pieces.length; i += 3) {
    const [so, , len] = piece(t, i)
    const at = alignUp(end, ctx.pageBytes) + (so % ctx.pageBytes)
    end = at + len
    const r = readRange(ctx.io, t.src, so, len, ctx.main, at, res)
    if (typeof r === 'number') {
      res.directBytes += r
      placed.push(at, len)
    } else {
      res.readErr = true
      res.errors.push({ dest: -1, ...r, offset: so, length: len })
      placed.push(-1, len)
    }
  }
  if (hash && !res.readErr) res.digest = hash.digestParts(ctx.main, placed)
  return placed
}

/**
 * A staging task's failures in the scratch file (dest 0, scratch offsets)
 * become the destination bytes they were for: STAGING_FAILED there.
 */
function inDestTerms(t: RangesTask, staging: { destPath: string; destOffsets: number[] }, res: RangesChunkResult): void {
  res.errors = res.errors.flatMap((e) => {
    if (e.dest !== 0) return [e]
    const out: typeof res.errors = []
    for (let i = 0, k = 0; i < t.pieces.length; i += 3, k++) {
      const [, at, len] = piece(t, i)
      const from = Math.max(at, e.offset)
      const to = Math.min(at + len, e.offset + e.length)
      if (from >= to) continue
      const offset = (staging.destOffsets[k] ?? 0) + (from - at)
      out.push({
        dest: 0, offset, length: to - from, code: 'STAGING_FAILED', errno: e.errno, syscall: e.syscall,
        message: `STAGING_FAILED: ${staging.destPath} bytes ${offset}..${offset + to - from} not written: copying their source aside failed (${e.message})`,
      })
    }
    return out
  })
}

/** A staging task failed: these destination ranges are not written, and say so. */
function notStaged(t: RangesTask, res: RangesChunkResult): RangesChunkResult {
  for (let i = 0; i < t.pieces.length; i += 3) {
    const [, dof, len] = piece(t, i)
    res.writeErr |= 1
    res.errors.push({
      dest: 0, offset: dof, length: len, code: 'STAGING_FAILED', errno: 0, syscall: 'stage',
      message: `STAGING_FAILED: ${t.dest.path} bytes ${dof}..${dof + len} not written: copying their source aside failed`,
    })
  }
  return res
}

function piece(t: RangesTask, i: number): [number, number, number] {
  return [t.pieces[i] as number, t.pieces[i + 1] as number, t.pieces[i + 2] as number]
}

function writePiece(ctx: WorkerContext, dest: FileRef, so: number, dof: number, len: number, at: number, res: RangesChunkResult): boolean {
  let buf = ctx.main
  let from = at
  // Another page phase than the source: restage so the middle still goes direct.
  if (dest.directFd >= 0 && (dof - so) % dest.alignBytes !== 0) {
    from = dof % ctx.pageBytes
    ctx.main.copy(ctx.stage, from, at, at + len)
    buf = ctx.stage
  }
  const w = writeRange(ctx.io, dest, dof, len, buf, from, res)
  if (typeof w === 'number') {
    res.directBytes += w
    return true
  }
  res.writeErr |= 1
  res.errors.push({ dest: 0, ...w })
  return false
}

/**
 * Clones every piece; with checks to follow (cloneRanges), flags the ranges
 * that failed and then marks the task done, else reports the pieces cloned
 * as done (doneSpans): a clone that fails part-way says what it did.
 */
function cloneAll(ctx: WorkerContext, t: RangesTask, res: RangesChunkResult): RangesChunkResult {
  const failed = t.cloneRanges ? new Uint8Array(t.cloneRanges.flags) : null
  // Done only once checked, when checks follow.
  const done: number[] = []
  res.doneSpans = done
  try {
    for (let i = 0, k = 0; i < t.pieces.length; i += 3, k++) {
      const [so, dof, len] = piece(t, i)
      try {
        ctx.io.cloneRange(t.src.fd, so, t.dest.fd, dof, len)
        if (!failed) addSpan(done, dof, len)
      } catch (err) {
        const e = toSystemError(err, 'ioctl', t.dest.path)
        res.writeErr |= 1
        res.errors.push({ dest: 0, offset: dof, length: len, code: systemCode(e), errno: e.errno, syscall: e.syscall, message: e.message })
        if (failed && t.cloneRanges) Atomics.store(failed, t.cloneRanges.ofPiece[k] ?? 0, 1)
      }
    }
  } finally {
    // Whatever happened: the checks wait for every clone task.
    if (t.order) markDone(new Int32Array(t.order.barrier), t.chunkIndex)
  }
  return res
}
