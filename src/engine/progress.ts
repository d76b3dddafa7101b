import type { Extent } from '../job.js'

/**
 * Emitted once per finished chunk: every chunk is reported once, and extents
 * never overlap. doneBytes + failedBytes is what has finished so far.
 */
export interface Progress {
  /**
   * Bytes done: of the finished chunks, those that reached every destination
   * (and were verified, if asked; for verify, compared with every replica);
   * of a chunk with bad blocks, its readable parts that did. A resumed copy
   * starts from what earlier runs did.
   */
  doneBytes: number
  /** Bytes of the finished chunks that are not done: not read, not written to every destination, or not verified. */
  failedBytes: number
  totalBytes: number
  /** The chunk just finished, relative to the start of the range. */
  extent: Extent
  /** The chunk reached every destination (and verified, if asked). */
  ok: boolean
}
