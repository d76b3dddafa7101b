import type { Extent } from '../job.js'
import type { BaselineInfo } from './baseline.js'
import type { Since } from './since.js'

/**
 * What an incremental copy wrote, what it found unchanged, and how much of
 * that it saw on the destination: chunks written are verified as `verify`
 * says ('hash': hashed as read from the source, the bytes written being
 * those; 'readback': also read back from the destination and compared),
 * and the skipped ones it never read there were trusted to the manifest.
 */
export interface IncrementalResult {
  /** Bytes of completed chunks that changed since the manifest (or had to be written), and were. */
  writtenBytes: number
  /** Bytes of chunks whose digest equals the manifest's: not written. */
  skippedBytes: number
  /** The chunks of writtenBytes. */
  writtenChunks: number
  /** The chunks of skippedBytes. */
  skippedChunks: number
  /** The destination was not in the manifest's state and `force` was given: every chunk was written. */
  writeAll: boolean
  /** Why writeAll (or, checked whole and forced, which chunks differed), or null. */
  reason: string | null
  /**
   * The check of the destination before anything was written: 'sample'
   * (the first, the last and random chunks, 16 at most), 'whole' (`checkDest`:
   * every chunk hashed), 'none' (every chunk was written anyway). `chunks`
   * and `bytes`: those read and found as the manifest records (or as the
   * source holds, written by an earlier run). `differing`: checked whole,
   * the byte ranges not as the manifest records (unreadable ones included).
   */
  check: { mode: 'sample' | 'whole' | 'none'; chunks: number; bytes: number; differing: Extent[] }
  /**
   * Skipped chunks whose bytes on the destination this run never read: the
   * manifest's word was trusted for them. 0 when checked whole.
   */
  trustedChunks: number
  trustedBytes: number
  /** With a reflink baseline: whether the last one was used, why not, and the bytes it spared reading (the key keeps the option's old name: --json and results do not change). */
  checkpoint?: BaselineInfo
}

/** The per-chunk outcomes of a job that result.incremental is made of (task i is manifest chunk i). */
export interface ChunkOutcome {
  count: number
  /** 1 where the chunk reached the destination (written, or skipped as unchanged). */
  ok: Uint8Array
  /** Chunks not written because their digest matched: their bytes. */
  skipped: ReadonlyMap<number, number>
  lengthOf: (index: number) => number
}

/**
 * result.incremental: what was written and skipped, what the check before
 * the copy read of the destination, and which skipped chunks no read of
 * this run ever saw on the destination (trusted on the manifest's word).
 */
export function incrementalResult(s: Since, o: ChunkOutcome, completedBytes: number, skippedBytes: number): IncrementalResult {
  let writtenChunks = 0
  let skippedChunks = 0
  let trustedChunks = 0
  let trustedBytes = 0
  for (let i = 0; i < o.count; i++) {
    if (!o.ok[i]) continue
    if (!o.skipped.has(i)) {
      writtenChunks++
    } else {
      skippedChunks++
      if (s.checked.found[i] !== 1) {
        trustedChunks++
        trustedBytes += o.lengthOf(i)
      }
    }
  }
  const m = s.manifest
  let checkedChunks = 0
  let checkedBytes = 0
  for (let i = 0; i < s.checked.found.length; i++) {
    if (s.checked.found[i] !== 1) continue
    checkedChunks++
    checkedBytes += Math.min(m.chunkBytes, m.sizeBytes - i * m.chunkBytes)
  }
  return {
    writtenBytes: completedBytes - skippedBytes, skippedBytes, writtenChunks, skippedChunks, writeAll: s.writeAll, reason: s.reason,
    check: { mode: s.checked.mode, chunks: checkedChunks, bytes: checkedBytes, differing: s.checked.differing },
    trustedChunks, trustedBytes,
    ...(s.reflinkBaseline ? { checkpoint: s.reflinkBaseline.report(s.writeAll) } : {}),
  }
}
