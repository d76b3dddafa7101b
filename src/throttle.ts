import { BlockcopyError } from './errors.js'

/**
 * dm_kcopyd_throttle: one bytes-per-second limit shared by every job of a
 * client. Each chunk takes its length from a shared schedule before it
 * starts: the chunk may start once the bytes before it have had their time
 * at the rate, so over any stretch longer than a few chunks the bytes
 * started stay within the limit (the first chunk after an idle spell goes
 * at once). The rate can change at any moment; it applies to the next
 * chunk to start.
 */
/** How far behind its schedule the throttle may catch up. */
const CATCH_UP_MS = 50

export class Throttle {
  private bytesPerSec: number | null
  /** The clock reading (ms) at which the next chunk may start. */
  private nextStartMs = 0
  private readonly waiters = new Set<() => void>()

  /** `now` is the clock the schedule runs on, in milliseconds (tests give their own). */
  constructor(bytesPerSec: number | null = null, private readonly now: () => number = () => performance.now()) {
    this.bytesPerSec = checkRate(bytesPerSec, 'rateBytesPerSec')
  }

  get rate(): number | null {
    return this.bytesPerSec
  }

  set(bytesPerSec: number | null): void {
    this.bytesPerSec = checkRate(bytesPerSec, 'rate')
    // A new rate starts now, not after the old rate's queue; a job waiting for its slot looks again.
    this.nextStartMs = Math.min(this.nextStartMs, this.now())
    for (const wake of this.waiters) wake()
  }

  /** Calls `wake` whenever the rate changes (a waiting scheduler re-checks); returns the unsubscribe. */
  onChange(wake: () => void): () => void {
    this.waiters.add(wake)
    return () => this.waiters.delete(wake)
  }

  /** Milliseconds until a chunk may start; 0 means now. */
  waitMs(): number {
    if (this.bytesPerSec === null) return 0
    return Math.max(0, this.nextStartMs - this.now())
  }

  /** A chunk of `bytes` starts now: the next one waits for its share of time. */
  take(bytes: number): void {
    if (this.bytesPerSec === null) return
    const now = this.now()
    // A chunk that starts a little late (a timer fires late, a worker was
    // busy) keeps its slot, so the late time is made up: the long-run rate
    // is the limit, not the limit less every delay. After an idle spell of
    // more than CATCH_UP_MS, the schedule restarts from now (no burst).
    const from = this.nextStartMs >= now - CATCH_UP_MS ? this.nextStartMs : now
    this.nextStartMs = from + (bytes / this.bytesPerSec) * 1000
  }
}

/** null (no limit), or a whole number of bytes per second, at least 4 KiB/s. */
export function checkRate(value: unknown, argument: string): number | null {
  if (value === null || value === undefined) return null
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw new BlockcopyError('INVALID_ARGUMENT', `${argument}: must be null (no limit) or a whole number of bytes per second, at least 4096, got ${String(value)}`, argument)
  }
  // A number the command line can give too: the rule alone, without the library's null.
  if (value < 4096) throw new BlockcopyError('INVALID_ARGUMENT', `${argument}: must be at least 4096 bytes (4 KiB) per second, got ${value}`, argument)
  return value
}
