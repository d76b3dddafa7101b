import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { BARRIER_HEADER, isPoisoned, markDone, newBarrier, passTurnWhenDue, poison, waitForDone } from '../src/protocol/order.js'

const test = suite('ordering between workers in shared memory')

test('a turn abandoned by a dead worker is passed on when it comes due, not before', async () => {
  const turn = new Int32Array(new SharedArrayBuffer(4))
  const passed = passTurnWhenDue(turn, 2)
  await new Promise((r) => setTimeout(r, 20))
  assert.is(Atomics.load(turn, 0), 0, 'chunks 0 and 1 still have to write')
  Atomics.store(turn, 0, 1)
  Atomics.notify(turn, 0)
  Atomics.store(turn, 0, 2)
  Atomics.notify(turn, 0)
  await passed
  assert.is(Atomics.load(turn, 0), 3, 'chunk 3 may write')
})

test('the barrier counts tasks done in index order, whatever order they finish in', () => {
  const barrier = new Int32Array(newBarrier(4))
  assert.is(barrier.length, BARRIER_HEADER + 4)
  markDone(barrier, 2)
  assert.is(barrier[0], 0)
  markDone(barrier, 0)
  assert.is(barrier[0], 1)
  markDone(barrier, 1)
  assert.is(barrier[0], 3, 'tasks 0, 1 and 2 are done')
  waitForDone(barrier, 3)
  markDone(barrier, 3)
  assert.is(barrier[0], 4)
  assert.not.ok(isPoisoned(barrier))
  poison(barrier)
  assert.ok(isPoisoned(barrier))
})

test.run()
