import type { ChunkDigest, Extent, JobSpec } from '../job.js'
import type { RangeFailure } from '../protocol.js'
import { DIGEST_BYTES } from '../verify/xxh3.js'

/** Failures for the destinations a chunk skipped because they had failed before: each the chunk's whole range there. */
export function notWritten(spec: JobSpec, mask: number, c: Extent): RangeFailure[] {
  const out: RangeFailure[] = []
  spec.dests.forEach((d, i) => {
    if ((mask & (1 << i)) === 0) return
    const offset = (spec.destOffsets[i] ?? 0) + c.offset
    out.push({
      dest: i, offset, length: c.length, code: 'DEST_STOPPED', errno: 0, syscall: 'pwrite',
      message: `DEST_STOPPED: ${d.path} bytes ${offset}..${offset + c.length} were not written: this destination had failed earlier (full or a media error), so it got no more writes`,
    })
  })
  return out
}

/**
 * A task's digests as chunk entries: one, or (hash tasks, which cover
 * several manifest chunks) one per chunk of spec.chunkBytes, its digests
 * being theirs end to end.
 */
export function chunkDigests(extent: Extent, digest: string, spec: JobSpec): ChunkDigest[] {
  const width = 2 * DIGEST_BYTES[spec.hashAlgo ?? 'xxh3']
  if (spec.kind !== 'hash' || digest.length <= width) return [{ ...extent, digest }]
  const out: ChunkDigest[] = []
  for (let k = 0; k * width < digest.length; k++) {
    const offset = extent.offset + k * spec.chunkBytes
    out.push({ offset, length: Math.min(spec.chunkBytes, extent.offset + extent.length - offset), digest: digest.slice(k * width, (k + 1) * width) })
  }
  return out
}
