import { test } from 'uvu'
import * as assert from 'uvu/assert'

import { BlockcopyError } from '../src/errors.js'
import { parseSize } from '../src/units.js'

/** The error parseSize throws for text; fails the test when it throws none. */
function rejection(text: string, argument: string): BlockcopyError {
  let bytes: number
  try {
    bytes = parseSize(text, argument)
  } catch (err) {
    assert.instance(err, BlockcopyError)
    return err as BlockcopyError
  }
  assert.unreachable(`parseSize('${text}') accepted it as ${bytes} bytes`)
  throw new Error('unreachable')
}

test('parseSize reads plain bytes, sectors and binary units', () => {
  assert.is(parseSize('512', 'length'), 512)
  assert.is(parseSize('8s', 'length'), 4096)
  assert.is(parseSize('4KiB', 'length'), 4096)
  assert.is(parseSize('1MiB', 'length'), 1024 * 1024)
  assert.is(parseSize('2GiB', 'length'), 2 * 1024 ** 3)
})

test('parseSize reads a single-letter unit as binary and a two-letter one as decimal', () => {
  // Single letters are binary, as in dd and qemu-img (src/units.ts).
  assert.is(parseSize('1G', 'length'), 1024 ** 3)
  assert.is(parseSize('1GB', 'length'), 1e9)
  assert.is(parseSize('4k', 'length'), 4096)
  assert.is(parseSize('4kB', 'length'), 4000)
})

test('parseSize ignores the case of the unit', () => {
  assert.is(parseSize('1mib', 'length'), 1024 * 1024)
  assert.is(parseSize('8S', 'length'), 4096)
})

for (const bad of ['-1', '1.5MiB', '12xyz', '', 'MiB', '0x10']) {
  test(`parseSize rejects '${bad}' with INVALID_ARGUMENT naming the argument`, () => {
    const err = rejection(bad, 'to[3].offset')
    assert.is(err.code, 'INVALID_ARGUMENT')
    assert.is(err.argument, 'to[3].offset')
    assert.ok(err.message.startsWith('to[3].offset: '), err.message)
    // Quoted as file content is (src/quote.ts): a size may come from a ranges file.
    assert.ok(err.message.includes(JSON.stringify(bad)), err.message)
  })
}

test('parseSize rejects a size past 2^53 bytes naming the argument', () => {
  const err = rejection('9999999TiB', 'memoryBytes')
  assert.is(err.code, 'INVALID_ARGUMENT')
  assert.is(err.argument, 'memoryBytes')
  assert.match(err.message, /^memoryBytes: .*2\^53/)
})

test.run()
