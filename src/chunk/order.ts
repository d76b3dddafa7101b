/**
 * Ordering between chunks that run in different workers, in shared memory.
 * Both orders rely on chunks being dispatched in index order with one task
 * per worker, so every lower index is running or done and a wait ends.
 */

/** Sequential writes: blocks until chunk `index` may write (slot 0 holds the next writer). */
export function waitForTurn(turn: Int32Array, index: number): void {
  for (;;) {
    const now = Atomics.load(turn, 0)
    if (now === index) return
    Atomics.wait(turn, 0, now, 1000)
  }
}

export function passTurn(turn: Int32Array, index: number): void {
  Atomics.store(turn, 0, index + 1)
  Atomics.notify(turn, 0)
}

/**
 * For a chunk whose worker died before passing its turn: the main thread
 * waits (without blocking) until the turn reaches it, then passes it on, so
 * later chunks are not held forever.
 */
export async function passTurnWhenDue(turn: Int32Array, index: number): Promise<void> {
  for (;;) {
    const now = Atomics.load(turn, 0)
    if (now > index) return
    if (now === index) return passTurn(turn, index)
    const w = Atomics.waitAsync(turn, 0, now, 1000)
    if (w.async) await w.value
  }
}

/**
 * Read barrier: task `index` has read (or will never write). Sets its flag
 * (slot 1 + index), then moves the count of tasks read in index order
 * (slot 0) over every flag that is set.
 */
export function markRead(barrier: Int32Array, index: number): void {
  Atomics.store(barrier, 1 + index, 1)
  for (;;) {
    const done = Atomics.load(barrier, 0)
    if (1 + done >= barrier.length || Atomics.load(barrier, 1 + done) !== 1) break
    Atomics.compareExchange(barrier, 0, done, done + 1)
  }
  Atomics.notify(barrier, 0)
}

/** Blocks until every task before `index` has read. */
export function waitForEarlierReads(barrier: Int32Array, index: number): void {
  for (let done = Atomics.load(barrier, 0); done < index; done = Atomics.load(barrier, 0)) {
    Atomics.wait(barrier, 0, done, 1000)
  }
}
