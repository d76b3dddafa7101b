/**
 * Every error blockcopy meets, classified in one place: what the engine
 * does about it, and how a person is told.
 *
 *   transient  retried with backoff, a bounded number of times; the caller
 *              sees only a counter (`retries` in the result)
 *   media      the device could not read or write those bytes: on the
 *              source, the bad-block path (ignoreErrors); on a destination,
 *              its writeErr bit, and no more writes to it
 *   full       a destination out of space or quota: as media, a destination
 *              that is full takes no more writes
 *   fatal      anything else (bad descriptor, read-only, permissions, a
 *              dead worker, a read that ends early): the range fails as it is
 *
 * Short reads and writes are not errors: the I/O backend continues them
 * where they stopped (src/io/types.ts), so a read that still comes back
 * short has met the end of the file.
 */
import type { SystemErrorCode } from './protocol/protocol.js'

export type ErrorClass = 'transient' | 'media' | 'full' | 'fatal'

const CLASSES: Record<string, ErrorClass> = {
  EINTR: 'transient',
  EAGAIN: 'transient',
  EWOULDBLOCK: 'transient',
  ETIMEDOUT: 'transient',
  EIO: 'media',
  EILSEQ: 'media',
  EBADMSG: 'media',
  EREMOTEIO: 'media',
  ENOSPC: 'full',
  EDQUOT: 'full',
  EFBIG: 'full',
}

export function classify(code: string): ErrorClass {
  return CLASSES[code] ?? 'fatal'
}

/** A destination that failed with this takes no more writes (it is full, or its device is failing). */
export function stopsDestination(code: string): boolean {
  const c = classify(code)
  return c === 'media' || c === 'full'
}

/**
 * A system error's code as a failed range carries it. SystemError codes are
 * errno names or Node's ERR_* codes, all beginning with E; one that did not
 * would be named by its errno number, as errnoName names an unknown one.
 */
export function systemCode(e: { code: string; errno: number }): SystemErrorCode {
  return isSystemCode(e.code) ? e.code : `E${e.errno}`
}

function isSystemCode(code: string): code is SystemErrorCode {
  return code.startsWith('E')
}

/** How many times a transient error is retried, and the first wait; each wait doubles. */
export const RETRY_LIMIT = 5
export const RETRY_FIRST_MS = 2

/** Blocks the calling worker for `ms` (backoff between retries; a worker has nothing else to do meanwhile). */
export function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)
}

const WORDS: Record<string, string> = {
  ENOSPC: 'is full (no space left on the device)',
  EDQUOT: 'is over its disk quota',
  EFBIG: 'cannot grow that large (file too big for its file system)',
  EIO: 'had an I/O error (the device may be failing)',
  EROFS: 'is read-only',
  EACCES: 'may not be written (permission denied)',
  EPERM: 'may not be written (operation not permitted)',
  ETIMEDOUT: 'timed out',
  EAGAIN: 'stayed busy after every retry',
  SHORT_READ: 'ended before the range did',
  VERIFY_MISMATCH: 'read back other bytes than were written',
  DEST_STOPPED: 'was not written here: it had failed earlier, so it got no more writes',
  BAD_BLOCK: 'has unreadable blocks recorded by an earlier run',
  WORKER_FAILED: 'was not copied: a worker thread failed',
}

/** What an error code means for the file it happened on, in words. */
export function describe(code: string): string {
  return WORDS[code] ?? `failed (${code})`
}
