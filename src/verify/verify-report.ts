import { MERGE_GAP_BYTES } from '../chunk/diff-runs.js'
import type { CopyResult } from '../job.js'
import type { ChunkResult, HashAlgo, RangeFailure } from '../protocol/protocol.js'
import { RunCollector, type Difference } from './runs.js'
import type { VerifyPlan, VerifyRange } from './verify-plan.js'

export type { Difference } from './runs.js'

export interface ReplicaReport {
  path: string
  /** Every compared byte matched, nothing failed to read, and (comparing whole files) the sizes are equal. */
  identical: boolean
  sizeBytes: number
  /** Its size is not the source's (or the manifest's); only bytes both have were compared. */
  sizeDiffers: boolean
  /**
   * The first runs of differing bytes, in offset order, at most the report's
   * `maxDifferences`: each from a differing byte to a differing byte, runs
   * fewer than `mergeGapBytes` apart joined (also across chunks). Against a
   * manifest: runs of whole differing chunks, the manifest has no bytes to
   * narrow with. Fewer than `differenceCount` when more were found.
   */
  differences: Difference[]
  /** Runs in all, listed or not. */
  differenceCount: number
  /** Bytes all the runs span (from the first to the last differing byte of each). */
  differenceBytes: number
  /** Bytes that differ, exactly (against a manifest: the bytes of the chunks whose digest differs). */
  differingBytes: number
  /** Bytes of this replica that were read and compared. */
  comparedBytes: number
  /** Ranges of this replica that could not be read (nothing is known of them). */
  errors: RangeFailure[]
  direct: boolean
}

export interface VerifyReport {
  id: string
  /** Every range was compared on every replica: no read error, not cancelled. */
  ok: boolean
  /** ok, and every replica identical. */
  identical: boolean
  /** 'byte' against a source; 'chunk' against a manifest. */
  granularity: 'byte' | 'chunk'
  /** Differing bytes with fewer equal bytes than this between them are in one run. */
  mergeGapBytes: number
  /** Runs listed per replica at most (`differences`); the totals count every one. */
  maxDifferences: number
  source: { path: string; sizeBytes: number; direct: boolean } | null
  manifest: { algo: HashAlgo; chunkBytes: number; sizeBytes: number; root: string } | null
  /** What was compared, in the source's (or manifest's) offsets. */
  ranges: VerifyRange[]
  totalBytes: number
  chunkBytes: number
  replicas: ReplicaReport[]
  /** Ranges of the source that could not be read: no replica was compared there. */
  sourceErrors: RangeFailure[]
  cancelled: boolean
  elapsedMs: number
}

/** Collects differences chunk by chunk while a verify job runs; only differing chunks are kept. */
export class DifferenceCollector {
  private readonly runs: RunCollector[]
  private readonly compared: number[]

  constructor(private readonly plan: VerifyPlan) {
    this.runs = plan.replicas.map(() => new RunCollector(plan.maxDifferences))
    this.compared = plan.replicas.map(() => 0)
  }

  add(r: ChunkResult): void {
    const diffs = r.kind === 'compare' ? r.diffs : undefined
    if (!diffs) return
    const failed = new Set(r.errors.map((e) => e.dest))
    if (failed.has(-1)) return
    const chunkStart = this.plan.fileOffset(r.chunkIndex)
    this.plan.replicas.forEach((replica, i) => {
      if (failed.has(i)) return
      const compared = Math.max(0, Math.min(r.lengthBytes, replica.sizeBytes - chunkStart))
      this.compared[i] = (this.compared[i] ?? 0) + compared
      this.runs[i]?.add(chunkStart, chunkStart + compared, diffs[i] ?? [])
    })
  }

  report(id: string, result: CopyResult): VerifyReport {
    const p = this.plan
    const errorsOf = (dest: number) => result.errors.filter((e) => e.dest === dest)
    const sourceErrors = errorsOf(-1)
    // Errors never stop a verify, so only a cancel or an unreadable source leaves chunks uncompared.
    const complete = !result.cancelled && sourceErrors.length === 0
    const replicas = p.replicas.map((f, i): ReplicaReport => {
      const runs = (this.runs[i] as RunCollector).finish()
      const errors = errorsOf(i)
      const sizeDiffers = f.sizeBytes !== p.referenceBytes
      return {
        path: f.path,
        identical: complete && runs.count === 0 && errors.length === 0 && (p.explicitRanges || !sizeDiffers),
        sizeBytes: f.sizeBytes,
        sizeDiffers,
        differences: runs.listed,
        differenceCount: runs.count,
        differenceBytes: runs.spanBytes,
        differingBytes: runs.differingBytes,
        comparedBytes: this.compared[i] ?? 0,
        errors,
        direct: f.directFd >= 0,
      }
    })
    const m = p.manifest
    return {
      id,
      ok: complete && replicas.every((r) => r.errors.length === 0),
      identical: replicas.every((r) => r.identical),
      granularity: m ? 'chunk' : 'byte',
      mergeGapBytes: MERGE_GAP_BYTES,
      maxDifferences: p.maxDifferences,
      source: p.source ? { path: p.source.path, sizeBytes: p.source.sizeBytes, direct: p.source.directFd >= 0 } : null,
      manifest: m ? { algo: m.algo, chunkBytes: m.chunkBytes, sizeBytes: m.sizeBytes, root: m.root } : null,
      ranges: p.ranges,
      totalBytes: result.totalBytes,
      chunkBytes: result.chunkBytes,
      replicas,
      sourceErrors,
      cancelled: result.cancelled,
      elapsedMs: result.elapsedMs,
    }
  }
}
