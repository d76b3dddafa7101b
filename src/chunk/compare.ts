import type { ChunkResult, CompareTask, FileRef } from '../protocol.js'
import type { Xxh3 } from '../verify/xxh3.js'
import type { WorkerContext } from './context.js'
import { readRange } from './ranged-io.js'

/**
 * Verifies one chunk: reads the source's bytes once (or, with a manifest,
 * takes the chunk's expected digest), then each replica's same bytes, and
 * records where each replica differs: the exact first and last differing
 * byte against a source, the whole chunk against a manifest. Runs in a
 * worker; writes nothing; read failures are data (dest -1 is the source,
 * dest i replica i), never thrown.
 */
export function compareChunk(ctx: WorkerContext, hash: Xxh3 | null, t: CompareTask): ChunkResult {
  const res: ChunkResult = {
    chunkIndex: t.chunkIndex, lengthBytes: t.lengthBytes, digest: '', readErr: false, writeErr: 0, errors: [], directBytes: 0,
    diffs: t.replicas.flatMap(() => [-1, -1]),
  }
  // Source and replicas share offsets, so one page phase serves them all
  // and every aligned middle lands on an aligned address.
  const base = t.offsetBytes % ctx.pageBytes
  if (t.src) {
    const read = readRange(ctx.io, t.src, t.offsetBytes, t.lengthBytes, ctx.main, base, res)
    if (typeof read !== 'number') {
      // Nothing of this chunk can be compared with any replica.
      res.readErr = true
      res.errors.push({ dest: -1, ...read, offset: t.offsetBytes, length: t.lengthBytes })
      return res
    }
    res.directBytes += read
  }
  t.replicas.forEach((r, i) => {
    const length = t.replicaLengths[i] ?? 0
    if (length === 0) return
    // Against a manifest there is no source in `main`: the replica goes there.
    const into = t.src ? ctx.stage : ctx.main
    const read = readReplica(ctx, r, t.offsetBytes, length, into, base, res, i)
    if (read === false) return
    let first = -1
    let last = -1
    if (t.expect && hash) {
      if (hash.digest(into, base, length) !== t.expect.digest) {
        first = t.offsetBytes
        last = t.offsetBytes + length - 1
      }
    } else {
      const at = firstDiff(ctx.main, into, base, length)
      if (at >= 0) {
        first = t.offsetBytes + at
        last = t.offsetBytes + lastDiff(ctx.main, into, base, length)
      }
    }
    const diffs = res.diffs as number[]
    diffs[2 * i] = first
    diffs[2 * i + 1] = last
  })
  return res
}

function readReplica(
  ctx: WorkerContext, r: FileRef, offsetBytes: number, length: number, into: Buffer, base: number, res: ChunkResult, i: number,
): boolean {
  const read = readRange(ctx.io, r, offsetBytes, length, into, base)
  if (typeof read === 'number') {
    res.directBytes += read
    return true
  }
  res.readErr = true
  res.errors.push({ dest: i, ...read, offset: offsetBytes, length })
  return false
}

const BLOCK = 4096

/** Index (from `at`) of the first byte where a and b differ within `length`, or -1. */
export function firstDiff(a: Buffer, b: Buffer, at: number, length: number): number {
  for (let off = 0; off < length; off += BLOCK) {
    const n = Math.min(BLOCK, length - off)
    if (a.subarray(at + off, at + off + n).equals(b.subarray(at + off, at + off + n))) continue
    for (let k = 0; k < n; k++) if (a[at + off + k] !== b[at + off + k]) return off + k
  }
  return -1
}

/** Index (from `at`) of the last byte where a and b differ within `length`; the caller knows one does. */
export function lastDiff(a: Buffer, b: Buffer, at: number, length: number): number {
  for (let end = length; end > 0; end -= BLOCK) {
    const start = Math.max(0, end - BLOCK)
    if (a.subarray(at + start, at + end).equals(b.subarray(at + start, at + end))) continue
    for (let k = end - 1; k >= start; k--) if (a[at + k] !== b[at + k]) return k
  }
  return -1
}
