import { alignDown, alignUp } from '../io/align.js'
import type { IoBackend } from '../io/types.js'
import { toSystemError } from '../errors.js'
import type { ChunkEnd, ChunkResult } from '../protocol/protocol.js'
import { writeRange, type Failure } from './ranged-io.js'
import { systemCode } from '../error-kinds.js'

/**
 * Leaves a range of a destination reading as zeros without writing data: a
 * hole punched in a file or unmapped on a device (punchHole), else the file
 * system's or device's own zero-out (zeroRange: FALLOC_FL_ZERO_RANGE,
 * BLKZEROOUT). False when neither works here (ramfs, the fs backend): the
 * caller writes the zeros.
 */
function clearRange(io: IoBackend, d: ChunkEnd, offsetBytes: number, lengthBytes: number): boolean | Failure {
  try {
    return io.punchHole(d.fd, offsetBytes, lengthBytes) || io.zeroRange(d.fd, offsetBytes, lengthBytes)
  } catch (err) {
    const e = toSystemError(err, 'fallocate', d.path)
    return { offset: offsetBytes, length: lengthBytes, code: systemCode(e), errno: e.errno, syscall: e.syscall, message: e.message }
  }
}

/**
 * Writes one destination's copy of a chunk, leaving its zero runs unwritten:
 * where the destination is known to be a hole already (at or past
 * `holeFromBytes`, -1 for none) nothing is done; elsewhere, with `punch`,
 * the run's whole pages are cleared (clearRange) and its partial pages
 * written as zeros, so no page is touched by both a fallocate and a
 * neighbouring chunk's writes; without `punch` ('auto'), the run is written
 * there like any bytes. `runs` are flat (start, end) pairs relative to the
 * chunk; the chunk's bytes are buf[at, at + length) (zeros in the runs).
 * Returns the bytes left unwritten. A failure is recorded as destination
 * i's, and ends its chunk.
 */
export function writeSparse(
  io: IoBackend, pageBytes: number, d: ChunkEnd, i: number, holeFromBytes: number, punch: boolean,
  runs: readonly number[], length: number, buf: Buffer, at: number, res: ChunkResult,
): number {
  const P = pageBytes
  const start = d.offsetBytes
  const fresh = holeFromBytes < 0 ? length : Math.max(0, holeFromBytes - start)
  // Parts of the chunk left unwritten, relative to it: ascending, disjoint.
  const skip: number[] = []
  // Nothing after a failure is written: it ends at the end of the chunk.
  const fail = (f: Failure) => {
    res.writeErr |= 1 << i
    res.errors.push({ dest: i, ...f, length: start + length - f.offset })
  }
  for (let k = 0; k + 1 < runs.length; k += 2) {
    const a = runs[k] as number
    const b = runs[k + 1] as number
    const f = Math.min(Math.max(a, fresh), b)
    const pa = alignUp(start + a, P) - start
    const pb = alignDown(start + f, P) - start
    if (punch && pb > pa) {
      const cleared = clearRange(io, d, start + pa, pb - pa)
      if (typeof cleared === 'object') {
        // Clearing comes before any write: none of the chunk is on this destination.
        fail({ ...cleared, offset: start })
        return 0
      }
      if (cleared) skip.push(pa, pb)
    }
    if (f < b) skip.push(f, b)
  }
  // A file ends where its last write does if extending it up front failed:
  // the zeros at the end of the range are then written, which extends it
  // (or reports why not).
  const last = skip.length - 1
  if (last > 0 && skip[last] === length && start + length > holeFromBytes && holeFromBytes >= 0) {
    let size = 0
    try {
      size = io.blockInfo(d.fd).sizeBytes
    } catch {
      // Unknown: write the tail to be sure.
    }
    if (size < start + length) skip[last] = Math.max(skip[last - 1] as number, alignDown(start + length - 1, P) - start)
  }
  let holes = 0
  let from = 0
  for (let k = 0; k <= skip.length; k += 2) {
    const to = k < skip.length ? (skip[k] as number) : length
    if (to > from) {
      const w = writeRange(io, d, start + from, to - from, buf, at + from, res)
      if (typeof w !== 'number') {
        fail(w)
        return 0
      }
      res.directBytes += w
    }
    if (k < skip.length) {
      holes += (skip[k + 1] as number) - to
      from = skip[k + 1] as number
    }
  }
  return holes
}
