import { alignDown, alignUp, splitAligned, type AlignedSegment } from '../io/align.js'
import type { IoBackend } from '../io/types.js'
import { toSystemError } from '../errors.js'
import { classify, pause, RETRY_FIRST_MS, RETRY_LIMIT, systemCode } from '../error-kinds.js'
import type { FileRef, RangeFailure } from '../protocol/protocol.js'

/** A failure before the caller knows which file index it belongs to. */
export type Failure = Omit<RangeFailure, 'dest'>

function failure(err: unknown, syscall: string, f: FileRef, positionBytes: number, lengthBytes: number): Failure {
  const e = toSystemError(err, syscall, f.path)
  return { offset: positionBytes, length: lengthBytes, code: systemCode(e), errno: e.errno, syscall: e.syscall, message: e.message }
}

// A failed segment ends the range: everything from it to the end of the
// range is reported, since none of it was done.

/**
 * An aligned area for the edges of ranges read with O_DIRECT (uncachedEdges):
 * two alignment blocks, the most an unaligned head or tail spans. One per
 * thread and backend, allocated on first use and kept.
 */
let edgeArea: { io: IoBackend; buf: Buffer } | null = null

function edgeBuffer(io: IoBackend, alignBytes: number): Buffer {
  if (edgeArea?.io !== io || edgeArea.buf.length < 2 * alignBytes) edgeArea = { io, buf: io.allocAligned(2 * alignBytes, alignBytes) }
  return edgeArea.buf
}

/**
 * One segment of a range into buf at `at`: the aligned middle directly, an
 * unaligned edge through the page cache, or, with uncachedEdges, directly as
 * the aligned blocks around it, of which only the segment's bytes are kept.
 * Returns the segment's bytes read (fewer at the end of the file).
 */
function readSegment(io: IoBackend, f: FileRef, s: AlignedSegment, buf: Buffer, at: number): number {
  if (s.direct) return io.pread(f.directFd, buf, at, s.lengthBytes, s.positionBytes)
  if (!f.uncachedEdges || f.directFd < 0) return io.pread(f.fd, buf, at, s.lengthBytes, s.positionBytes)
  const start = alignDown(s.positionBytes, f.alignBytes)
  const area = edgeBuffer(io, f.alignBytes)
  const n = io.pread(f.directFd, area, 0, alignUp(s.positionBytes + s.lengthBytes, f.alignBytes) - start, start)
  const skip = s.positionBytes - start
  const got = Math.max(0, Math.min(s.lengthBytes, n - skip))
  area.copy(buf, at, skip, skip + got)
  return got
}

/**
 * Reads file bytes [position, position + length) into buf at bufOffset.
 * The caller guarantees bufOffset ≡ position (mod f.alignBytes) when direct
 * I/O is on, so the aligned middle lands on an aligned address.
 * Returns the bytes moved with O_DIRECT, or the failing segment.
 */
export function readRange(
  io: IoBackend, f: FileRef, positionBytes: number, lengthBytes: number, buf: Buffer, bufOffset: number, stats?: RetryStats,
): number | Failure {
  let direct = 0
  for (const s of splitAligned(positionBytes, lengthBytes, f.directFd >= 0 ? f.alignBytes : 0)) {
    const at = bufOffset + (s.positionBytes - positionBytes)
    let n = 0
    // Transient errors are retried with backoff (src/error-kinds.ts); a
    // short read is continued by io.pread itself, so one here is the end of the file.
    for (let attempt = 0; ; attempt++) {
      try {
        n = readSegment(io, f, s, buf, at)
        break
      } catch (err) {
        const fail = failure(err, 'pread', f, s.positionBytes, positionBytes + lengthBytes - s.positionBytes)
        if (classify(fail.code) !== 'transient' || attempt >= RETRY_LIMIT) return fail
        if (stats) stats.retries = (stats.retries ?? 0) + 1
        pause(RETRY_FIRST_MS << attempt)
      }
    }
    if (n < s.lengthBytes) {
      return {
        offset: s.positionBytes + n, length: positionBytes + lengthBytes - s.positionBytes - n, code: 'SHORT_READ', errno: 0, syscall: 'pread',
        message: `SHORT_READ: ${f.path} ended at byte ${s.positionBytes + n}, before the end of the range`,
      }
    }
    if (s.direct || (f.uncachedEdges && f.directFd >= 0)) direct += n
  }
  return direct
}

/** Where a task counts the retries of its transient errors. */
export interface RetryStats {
  retries?: number
}

/** Writes buf[bufOffset, +length) to file bytes [position, +length); same alignment contract as readRange. */
export function writeRange(
  io: IoBackend, f: FileRef, positionBytes: number, lengthBytes: number, buf: Buffer, bufOffset: number, stats?: RetryStats,
): number | Failure {
  let direct = 0
  for (const s of splitAligned(positionBytes, lengthBytes, f.directFd >= 0 ? f.alignBytes : 0)) {
    for (let attempt = 0; ; attempt++) {
      try {
        // pwrite continues short writes itself; a whole segment is written again after a transient error.
        io.pwrite(s.direct ? f.directFd : f.fd, buf, bufOffset + (s.positionBytes - positionBytes), s.lengthBytes, s.positionBytes)
        break
      } catch (err) {
        const fail = failure(err, 'pwrite', f, s.positionBytes, positionBytes + lengthBytes - s.positionBytes)
        if (classify(fail.code) !== 'transient' || attempt >= RETRY_LIMIT) return fail
        if (stats) stats.retries = (stats.retries ?? 0) + 1
        pause(RETRY_FIRST_MS << attempt)
      }
    }
    if (s.direct) direct += s.lengthBytes
  }
  return direct
}

/**
 * Compares `expected` with `actual` in 4 KiB blocks and returns the ranges
 * (relative to the start, coalesced) where they differ.
 */
export function differingRanges(
  expected: Buffer, expectedOffset: number, actual: Buffer, actualOffset: number, lengthBytes: number,
): Array<{ offset: number; length: number }> {
  const out: Array<{ offset: number; length: number }> = []
  const block = 4096
  for (let at = 0; at < lengthBytes; at += block) {
    const n = Math.min(block, lengthBytes - at)
    const same = expected.subarray(expectedOffset + at, expectedOffset + at + n)
      .equals(actual.subarray(actualOffset + at, actualOffset + at + n))
    if (same) continue
    const last = out[out.length - 1]
    if (last && last.offset + last.length === at) last.length += n
    else out.push({ offset: at, length: n })
  }
  return out
}
