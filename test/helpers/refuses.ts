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

/** Asserts that `p` rejects with an error with this `code` (any, when null) whose message matches `message`. */
export async function refusesAsync(p: Promise<unknown>, code: string | null, message: RegExp): Promise<void> {
  let caught: unknown
  try {
    await p
  } catch (err) {
    caught = err
  }
  assert.ok(caught instanceof Error, 'it rejects')
  const e = caught as Error & { code?: string }
  if (code !== null) assert.is(e.code, code, e.message)
  assert.match(e.message, message)
}
