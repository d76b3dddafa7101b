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

/** Slots before the per-task flags of a barrier: [0] tasks done in index order, [1] poisoned. */
export const BARRIER_HEADER = 2

/** A barrier for `tasks` tasks, in shared memory. */
export function newBarrier(tasks: number): SharedArrayBuffer {
  return new SharedArrayBuffer(4 * (BARRIER_HEADER + tasks))
}

/**
 * Task `index` is done with what others wait on (its reads, or its writes
 * when it stages), or will never do anything: sets its flag, then moves the
 * count of tasks done in index order over every flag that is set.
 */
export function markDone(barrier: Int32Array, index: number): void {
  Atomics.store(barrier, BARRIER_HEADER + index, 1)
  for (;;) {
    const done = Atomics.load(barrier, 0)
    if (BARRIER_HEADER + done >= barrier.length || Atomics.load(barrier, BARRIER_HEADER + done) !== 1) break
    Atomics.compareExchange(barrier, 0, done, done + 1)
  }
  Atomics.notify(barrier, 0)
}

/** Blocks until the first `count` tasks are done. */
export function waitForDone(barrier: Int32Array, count: number): void {
  for (let done = Atomics.load(barrier, 0); done < count; done = Atomics.load(barrier, 0)) {
    Atomics.wait(barrier, 0, done, 1000)
  }
}

/** A staging task failed: what it staged must not be written on. */
export function poison(barrier: Int32Array): void {
  Atomics.store(barrier, 1, 1)
}

export function isPoisoned(barrier: Int32Array): boolean {
  return Atomics.load(barrier, 1) === 1
}
