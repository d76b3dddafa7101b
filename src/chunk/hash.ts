import type { ChunkResult, HashTask } from '../protocol.js'
import type { Xxh3 } from '../verify/xxh3.js'
import type { WorkerContext } from './context.js'
import { readRange } from './ranged-io.js'

/**
 * Reads one chunk of a file or device (O_DIRECT for its aligned middle) and
 * hashes it with the task's algorithm. Runs in a worker; writes nothing; a
 * read failure is returned as data (readErr, the failed range), never thrown.
 */
export function hashChunk(ctx: WorkerContext, hash: Xxh3, t: HashTask): ChunkResult {
  const res: ChunkResult = {
    chunkIndex: t.chunkIndex, lengthBytes: t.lengthBytes, digest: '', readErr: false, writeErr: 0, errors: [], directBytes: 0,
  }
  // At the source's page phase, so the aligned middle lands on an aligned address.
  const base = t.src.offsetBytes % ctx.pageBytes
  const read = readRange(ctx.io, t.src, t.src.offsetBytes, t.lengthBytes, ctx.main, base)
  if (typeof read === 'number') {
    res.directBytes = read
    res.digest = hash.digest(ctx.main, base, t.lengthBytes)
  } else {
    res.readErr = true
    res.errors.push({ dest: -1, ...read, offset: t.src.offsetBytes, length: t.lengthBytes })
  }
  return res
}
