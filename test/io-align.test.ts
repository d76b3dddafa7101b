import { test } from 'uvu'
import * as assert from 'uvu/assert'

import { alignDown, alignUp, isAligned, isPowerOfTwo, splitAligned } from '../src/io/align.js'

test('alignUp and alignDown round to multiples and stay exact near 2^53', () => {
  assert.is(alignUp(0, 4096), 0)
  assert.is(alignUp(1, 4096), 4096)
  assert.is(alignUp(4096, 4096), 4096)
  assert.is(alignDown(4095, 4096), 0)
  assert.is(alignDown(2 ** 40 + 5, 512), 2 ** 40)
  assert.is(alignUp(2 ** 40 + 5, 512), 2 ** 40 + 512)
  const big = 2 ** 53 - 4097
  assert.is(alignDown(big, 4096), 2 ** 53 - 8192)
  assert.is(alignUp(big, 4096), 2 ** 53 - 4096)
  assert.is(alignUp(7, 0), 7)
  assert.is(alignDown(7, 1), 7)
})

test('isAligned and isPowerOfTwo answer for offsets past 2^32', () => {
  assert.ok(isAligned(2 ** 33, 4096))
  assert.not.ok(isAligned(2 ** 33 + 512, 4096))
  assert.ok(isAligned(3, 0))
  for (const n of [1, 2, 512, 4096, 2 ** 40]) assert.ok(isPowerOfTwo(n), String(n))
  for (const n of [0, -4, 3, 4095, 1.5, 2 ** 40 + 1]) assert.not.ok(isPowerOfTwo(n), String(n))
})

test('splitAligned gives head, aligned middle and tail in order, none empty, covering the range exactly', () => {
  assert.equal(splitAligned(100, 10_000, 4096), [
    { positionBytes: 100, lengthBytes: 3996, direct: false },
    { positionBytes: 4096, lengthBytes: 4096, direct: true },
    { positionBytes: 8192, lengthBytes: 1908, direct: false },
  ])
  assert.equal(splitAligned(4096, 8192, 4096), [{ positionBytes: 4096, lengthBytes: 8192, direct: true }])
  assert.equal(splitAligned(0, 5000, 4096), [
    { positionBytes: 0, lengthBytes: 4096, direct: true },
    { positionBytes: 4096, lengthBytes: 904, direct: false },
  ])
})

test('splitAligned keeps a range without a whole aligned block, or without alignment, as one buffered piece', () => {
  assert.equal(splitAligned(100, 5000, 4096), [{ positionBytes: 100, lengthBytes: 5000, direct: false }])
  assert.equal(splitAligned(0, 1 << 20, 0), [{ positionBytes: 0, lengthBytes: 1 << 20, direct: false }])
  assert.equal(splitAligned(10, 0, 4096), [])
})

test.run()
