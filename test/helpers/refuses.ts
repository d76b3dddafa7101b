import * as assert from 'uvu/assert'

/** Asserts that `fn` throws an error with this `code` whose message matches `message`. */
export function refuses(fn: () => unknown, code: string, message: RegExp): void {
  let caught: unknown
  try {
    fn()
  } catch (err) {
    caught = err
  }
  assert.ok(caught instanceof Error, 'it throws')
  const e = caught as Error & { code?: string }
  assert.is(e.code, code, e.message)
  assert.match(e.message, message)
}
