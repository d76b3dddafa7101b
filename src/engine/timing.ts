import type { ChunkResult } from '../protocol/protocol.js'

/** fio's default completion-latency percentiles. */
export const PERCENTILES = [1, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 99, 99.5, 99.9, 99.95, 99.99] as const

export const PHASES = ['read', 'hash', 'write', 'readback'] as const
export type Phase = (typeof PHASES)[number]

/** One phase over all chunks of a job. */
export interface PhaseTiming {
  /** Time the workers spent in it, summed over chunks (two workers busy for 1 s count 2000). */
  busyMs: number
  /** Bytes that went through it (a write counts the chunk once per destination; readback likewise). */
  bytes: number
  /** bytes / busyMs: what one worker does in this phase, in bytes per second. */
  bytesPerSecPerWorker: number
  /** Per-chunk latency in milliseconds at each of PERCENTILES, keyed by the percentile as a string ('99.9'). */
  percentilesMs: Record<string, number>
}

/** `result.timing` of a copy with `timing: true`. */
export interface JobTiming {
  phases: Record<Phase | 'chunk', PhaseTiming>
  /** The final fdatasync of every destination. */
  syncMs: number
}

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number
}

/** Collects each chunk's phase times as results come in. */
export class TimingCollector {
  private readonly samples: number[][] = [[], [], [], [], []]
  private readonly bytes = [0, 0, 0, 0, 0]

  constructor(private readonly dests: number, private readonly readback: boolean) {}

  add(r: ChunkResult): void {
    // Only copy chunks time their phases.
    if (r.kind !== 'copy' || !r.phaseMs) return
    const [read, hash, write, back] = r.phaseMs
    const each = [read, hash, write, back, read + hash + write + back]
    const moved = [r.lengthBytes, hash > 0 ? r.lengthBytes : 0, write > 0 ? r.lengthBytes * this.dests : 0, this.readback ? r.lengthBytes * this.dests : 0, r.lengthBytes]
    each.forEach((ms, i) => {
      if (i === 1 && ms === 0) return
      if (i === 3 && !this.readback) return
      this.samples[i]?.push(ms)
      this.bytes[i] = (this.bytes[i] ?? 0) + (moved[i] ?? 0)
    })
  }

  finish(syncMs: number): JobTiming {
    const names = [...PHASES, 'chunk'] as const
    const phases = {} as Record<Phase | 'chunk', PhaseTiming>
    names.forEach((name, i) => {
      const xs = [...(this.samples[i] ?? [])].sort((a, b) => a - b)
      const busyMs = xs.reduce((n, x) => n + x, 0)
      const bytes = this.bytes[i] ?? 0
      phases[name] = {
        busyMs, bytes, bytesPerSecPerWorker: busyMs > 0 ? Math.round(bytes / (busyMs / 1000)) : 0,
        percentilesMs: Object.fromEntries(PERCENTILES.map((p) => [String(p), +percentile(xs, p).toFixed(4)])),
      }
    })
    return { phases, syncMs }
  }
}
