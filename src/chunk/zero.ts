import { alignDown, alignUp } from '../io/align.js'
import type { ChunkEnd, ZeroChunkResult, ZeroTask } from '../protocol/protocol.js'
import { toSystemError } from '../errors.js'
import type { WorkerContext } from './context.js'
import { readBack } from './copy.js'
import { writeRange } from './ranged-io.js'
import { systemCode } from '../error-kinds.js'

/**
 * Zeroes one chunk on every destination: the page-aligned middle with the
 * device's or file system's zero-out where it has one, everything else by
 * writing zeros. Failures are returned as data.
 */
export function zeroChunk(ctx: WorkerContext, t: ZeroTask): ZeroChunkResult {
  const res: ZeroChunkResult = {
    kind: 'zero', chunkIndex: t.chunkIndex, lengthBytes: t.lengthBytes, digest: null, readErr: false, writeErr: 0, errors: [], directBytes: 0,
  }
  // Zeros to write from, and (for read-back) to compare with. Filled per
  // task because the same buffers carry data for copy tasks.
  const span = Math.min(ctx.main.length, t.lengthBytes + ctx.pageBytes)
  ctx.main.fill(0, 0, span)
  t.dests.forEach((d, i) => {
    const failed = zeroDest(ctx, d, t.lengthBytes, res)
    if (failed) {
      res.writeErr |= 1 << i
      res.errors.push({ dest: i, ...failed })
    }
  })
  if (t.verify === 2) {
    t.dests.forEach((d, i) => {
      if ((res.writeErr & (1 << i)) === 0) readBack(ctx, d, i, t.lengthBytes, ctx.main, d.offsetBytes % ctx.pageBytes, res)
    })
  }
  return res
}

function zeroDest(ctx: WorkerContext, d: ChunkEnd, length: number, res: ZeroChunkResult) {
  const P = ctx.pageBytes
  const start = d.offsetBytes
  const end = start + length
  const a = Math.min(alignUp(start, P), end)
  const b = Math.max(alignDown(end, P), a)
  const writeZeros = (from: number, to: number) => {
    if (to <= from) return null
    const w = writeRange(ctx.io, d, from, to - from, ctx.main, from % P, res)
    if (typeof w === 'number') {
      res.directBytes += w
      return null
    }
    return w
  }
  // The edges share pages with neighbouring data: write them through the
  // page cache, never with a zero-out that works on whole blocks.
  const head = writeZeros(start, a)
  if (head) return head
  if (b > a) {
    let offloaded = false
    try {
      offloaded = ctx.io.zeroRange(d.fd, a, b - a)
    } catch (err) {
      const e = toSystemError(err, 'zeroRange', d.path)
      return { offset: a, length: b - a, code: systemCode(e), errno: e.errno, syscall: e.syscall, message: e.message }
    }
    if (!offloaded) {
      const mid = writeZeros(a, b)
      if (mid) return mid
    }
  }
  return writeZeros(b, end)
}
