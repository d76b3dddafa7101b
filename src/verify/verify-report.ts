import type { CopyResult } from '../job.js'
import type { ChunkResult, HashAlgo, RangeFailure } from '../protocol.js'
import type { VerifyPlan, VerifyRange } from './verify-plan.js'

/** Where one replica differs: bytes [offset, offset + length) of the replica and the source. */
export interface Difference {
  offset: number
  length: number
}

export interface ReplicaReport {
  path: string
  /** Every compared byte matched, nothing failed to read, and (comparing whole files) the sizes are equal. */
  identical: boolean
  sizeBytes: number
  /** Its size is not the source's (or the manifest's); only bytes both have were compared. */
  sizeDiffers: boolean
  /**
   * Runs of differing chunks, coalesced, each narrowed to its exact first and
   * last differing byte (against a manifest: whole chunks, the manifest has
   * no bytes to narrow with). Sorted by offset.
   */
  differences: Difference[]
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

/** One differing chunk of one replica. */
interface Hit {
  first: number
  last: number
  chunkStart: number
  chunkEnd: number
}

/** Collects differences chunk by chunk while a verify job runs; only differing chunks are kept. */
export class DifferenceCollector {
  private readonly hits: Hit[][]
  private readonly compared: number[]

  constructor(private readonly plan: VerifyPlan) {
    this.hits = plan.replicas.map(() => [])
    this.compared = plan.replicas.map(() => 0)
  }

  add(r: ChunkResult): void {
    const diffs = r.diffs
    if (!diffs) return
    const failed = new Set(r.errors.map((e) => e.dest))
    if (failed.has(-1)) return
    this.plan.replicas.forEach((replica, i) => {
      if (failed.has(i)) return
      const first = diffs[2 * i] ?? -1
      const last = diffs[2 * i + 1] ?? -1
      const chunkStart = this.plan.fileOffset(r.chunkIndex)
      this.compared[i] = (this.compared[i] ?? 0) + Math.max(0, Math.min(r.lengthBytes, replica.sizeBytes - chunkStart))
      if (first >= 0) this.hits[i]?.push({ first, last, chunkStart, chunkEnd: chunkStart + r.lengthBytes })
    })
  }

  report(id: string, result: CopyResult): VerifyReport {
    const p = this.plan
    const errorsOf = (dest: number) => result.errors.filter((e) => e.dest === dest)
    const sourceErrors = errorsOf(-1)
    // Errors never stop a verify, so only a cancel or an unreadable source leaves chunks uncompared.
    const complete = !result.cancelled && sourceErrors.length === 0
    const replicas = p.replicas.map((f, i): ReplicaReport => {
      const differences = coalesce(this.hits[i] ?? [])
      const errors = errorsOf(i)
      const sizeDiffers = f.sizeBytes !== p.referenceBytes
      return {
        path: f.path,
        identical: complete && differences.length === 0 && errors.length === 0 && (p.explicitRanges || !sizeDiffers),
        sizeBytes: f.sizeBytes,
        sizeDiffers,
        differences,
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

/**
 * Differing chunks that touch one another become one run, from the first
 * differing byte of its first chunk to the last differing byte of its last.
 */
function coalesce(hits: Hit[]): Difference[] {
  const sorted = [...hits].sort((a, b) => a.chunkStart - b.chunkStart)
  const out: Difference[] = []
  let run: Hit | null = null
  for (const h of sorted) {
    if (run && run.chunkEnd === h.chunkStart) {
      run.last = h.last
      run.chunkEnd = h.chunkEnd
      continue
    }
    if (run) out.push({ offset: run.first, length: run.last - run.first + 1 })
    run = { ...h }
  }
  if (run) out.push({ offset: run.first, length: run.last - run.first + 1 })
  return out
}
