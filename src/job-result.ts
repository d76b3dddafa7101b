/**
 * What a job is and what it returns: the public result types of every job
 * kind, apart from the engine that runs them (src/job.ts).
 */
import type { RangeFailure, VerifyLevel } from './protocol/protocol.js'
import type { IncrementalResult } from './incremental/since-result.js'
import type { MapSummary } from './journal/journal.js'
import type { JobTiming } from './engine/timing.js'

/** Verification of each chunk: none, xxh3 of what was read, or also a read-back compare of every destination. */
export type VerifyMode = 'none' | 'hash' | 'readback'
export const VERIFY_LEVELS: Record<VerifyMode, VerifyLevel> = { none: 0, hash: 1, readback: 2 }

/** kcopyd's completion: readErr, a writeErr bitmask (bit i = destination i), the caller's context. */
export type NotifyFn = (readErr: boolean, writeErr: number, context: unknown) => void

/** What a job does. */
export type JobKind = 'copy' | 'zero' | 'replicate' | 'hash' | 'verify'

/** A byte range relative to the start of the job's range. */
export interface Extent {
  offset: number
  length: number
}

export interface ChunkDigest {
  /** Relative to the start of the range. */
  offset: number
  length: number
  /** xxh3-64, 16 hex digits (a hash job with xxh128: 32). */
  digest: string
}

export interface CopyResult {
  id: string
  kind: JobKind
  /** No read error, no write error, not cancelled. */
  ok: boolean
  readErr: boolean
  writeErr: number
  /** Every failed range, in the coordinates of the file it names (dest -1 is the source). */
  errors: RangeFailure[]
  cancelled: boolean
  /** Set when an error stopped the job before it started every chunk (errors not ignored): the rest was never tried. */
  stopped?: true
  totalBytes: number
  /**
   * Bytes that reached every destination in this run, as `completed`
   * extents add up. A copy resumed from a map counts only what this run
   * copied: what earlier runs did is `map.resumedBytes` (progress
   * `doneBytes` counts both).
   */
  completedBytes: number
  completed: Extent[]
  chunkBytes: number
  verify: VerifyMode
  /** xxh3-64 over the chunk digests (a hash job: its algo; src/hash/xxh3.ts); null unless hashed and every chunk was read. */
  digest: string | null
  chunks: ChunkDigest[]
  /** Which files used O_DIRECT for their aligned middles. */
  direct: { source: boolean; dests: boolean[] }
  directBytes: number
  /** Retries of transient errors (EINTR, EAGAIN, ETIMEDOUT); one still failing after the last is also in errors. */
  retries: number
  /**
   * Sparse copies: bytes of `completed` that every destination holds as a
   * hole (or, on a device, zeroed out) instead of written zeros. 0 otherwise.
   */
  holeBytes: number
  elapsedMs: number
  /** Replicate only: 'clone' (extents shared) or 'copy' (bytes moved, also after a clone fell back). */
  method?: 'clone' | 'copy'
  /** Incremental copies (`since`) only. */
  incremental?: IncrementalResult
  /** Copies with a resume map (`map`) only: the map as saved at the end. */
  map?: MapSummary
  /** Copies with `timing: true`: time per phase and per-chunk latency percentiles (blockcopy bench). */
  timing?: JobTiming
}
