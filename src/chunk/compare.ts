import type { CompareChunkResult, CompareTask, FileRef } from '../protocol/protocol.js'
import { sameDigest, type Xxh3 } from '../hash/xxh3.js'
import type { WorkerContext } from './context.js'
import { diffRuns, wholeChunkRun } from './diff-runs.js'
import { readRange } from './ranged-io.js'

/**
 * Verifies one chunk: reads the source's bytes once (or, with a manifest,
 * takes the chunk's expected digest), then each replica's same bytes, and
 * records where each replica differs: the exact runs of differing bytes
 * against a source (src/chunk/diff-runs.ts), the whole chunk against a
 * manifest. Runs in a worker; writes nothing; read failures are data (dest
 * -1 is the source, dest i replica i), never thrown.
 */
export function compareChunk(ctx: WorkerContext, hash: Xxh3 | null, t: CompareTask): CompareChunkResult {
  const diffs: number[][] = t.replicas.map(() => [])
  const res: CompareChunkResult = {
    kind: 'compare', chunkIndex: t.chunkIndex, lengthBytes: t.lengthBytes, digest: null, readErr: false, writeErr: 0, errors: [], directBytes: 0,
    diffs,
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
    if (t.expect && hash) {
      if (!sameDigest(hash.digest(into, base, length), t.expect.digest)) diffs[i] = wholeChunkRun(t.offsetBytes, length)
    } else {
      diffs[i] = diffRuns(ctx.main, into, base, length, t.offsetBytes)
    }
  })
  return res
}

function readReplica(
  ctx: WorkerContext, r: FileRef, offsetBytes: number, length: number, into: Buffer, base: number, res: CompareChunkResult, i: number,
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
