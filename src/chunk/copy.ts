import type { ChunkEnd, ChunkResult, CopyTask } from '../protocol.js'
import type { Xxh3 } from '../verify/xxh3.js'
import type { WorkerContext } from './context.js'
import { passTurn, waitForTurn } from './order.js'
import { differingRanges, readRange, writeRange } from './ranged-io.js'

/**
 * Copies one chunk: one read of the source, one write per destination, then
 * (verify 2) one read-back per destination compared with what was read.
 * Runs in a worker; every failure is returned as data, never thrown.
 */
export function copyChunk(ctx: WorkerContext, hash: Xxh3 | null, t: CopyTask): ChunkResult {
  const res: ChunkResult = {
    chunkIndex: t.chunkIndex, lengthBytes: t.lengthBytes, digest: '', readErr: false, writeErr: 0, errors: [], directBytes: 0,
  }
  const length = t.lengthBytes
  const P = ctx.pageBytes
  // The chunk sits in `main` at the source's page phase, so the source's
  // aligned middle is read to an aligned address.
  const base = t.src.offsetBytes % P
  const turn = t.writeTurn ? new Int32Array(t.writeTurn) : null
  let readOk = false
  try {
    const read = readRange(ctx.io, t.src, t.src.offsetBytes, length, ctx.main, base)
    if (typeof read === 'number') {
      res.directBytes += read
      if (hash) res.digest = hash.digest(ctx.main, base, length)
      readOk = true
    } else {
      res.readErr = true
      // Nothing of this chunk reaches any destination: the whole chunk failed.
      res.errors.push({ dest: -1, ...read, offset: t.src.offsetBytes, length })
    }
  } finally {
    // The turn is taken and passed whatever happened above: a chunk that
    // never passed it would hold every later chunk's writes forever.
    if (turn) waitForTurn(turn, t.chunkIndex)
    try {
      if (readOk) t.dests.forEach((d, i) => writeDest(ctx, t, d, i, base, res))
    } finally {
      if (turn) passTurn(turn, t.chunkIndex)
    }
  }

  if (readOk && t.verify === 2) {
    t.dests.forEach((d, i) => {
      if ((res.writeErr & (1 << i)) === 0) readBack(ctx, d, i, length, ctx.main, base, res)
    })
  }
  return res
}

function writeDest(ctx: WorkerContext, t: CopyTask, d: ChunkEnd, i: number, base: number, res: ChunkResult): void {
  const P = ctx.pageBytes
  let buf = ctx.main
  let at = base
  // A destination of another page phase gets its own aligned copy of the
  // chunk, so that its middle can still go out with O_DIRECT.
  if (d.directFd >= 0 && (d.offsetBytes - t.src.offsetBytes) % d.alignBytes !== 0) {
    at = d.offsetBytes % P
    ctx.main.copy(ctx.stage, at, base, base + t.lengthBytes)
    buf = ctx.stage
  }
  const w = writeRange(ctx.io, d, d.offsetBytes, t.lengthBytes, buf, at)
  if (typeof w === 'number') {
    res.directBytes += w
  } else {
    res.writeErr |= 1 << i
    res.errors.push({ dest: i, ...w })
  }
}

/**
 * Reads destination i's copy of the chunk into `stage` (O_DIRECT for the
 * middle, so the page cache does not answer) and compares it with
 * expected[expectedOffset, +length). A difference is that destination's
 * write error, code VERIFY_MISMATCH, for exactly the blocks that differ.
 */
export function readBack(
  ctx: WorkerContext, d: ChunkEnd, i: number, length: number, expected: Buffer, expectedOffset: number, res: ChunkResult,
): void {
  const at = d.offsetBytes % ctx.pageBytes
  const r = readRange(ctx.io, d, d.offsetBytes, length, ctx.stage, at)
  if (typeof r !== 'number') {
    res.writeErr |= 1 << i
    res.errors.push({ dest: i, ...r })
    return
  }
  res.directBytes += r
  if (ctx.stage.subarray(at, at + length).equals(expected.subarray(expectedOffset, expectedOffset + length))) return
  res.writeErr |= 1 << i
  for (const diff of differingRanges(expected, expectedOffset, ctx.stage, at, length)) {
    res.errors.push({
      dest: i, offset: d.offsetBytes + diff.offset, length: diff.length, code: 'VERIFY_MISMATCH', errno: 0, syscall: 'readback',
      message: `VERIFY_MISMATCH: ${d.path} bytes ${d.offsetBytes + diff.offset}..${d.offsetBytes + diff.offset + diff.length} differ from what was written`,
    })
  }
}
