import { toSystemError } from '../errors.js'
import { classify, pause, RETRY_FIRST_MS, RETRY_LIMIT, systemCode } from '../error-kinds.js'
import type { IoBackend } from '../io/types.js'
import type { ChunkEnd, RangeFailure } from '../protocol/protocol.js'

/**
 * Bad blocks, the way ddrescue scrapes: after a chunk's read failed, the
 * rest of it, from the failing segment on, is read again one logical block
 * at a time (O_DIRECT where the block is aligned, so the page cache does not
 * widen a bad sector to a page), each block up to `tries` times. Readable
 * blocks land in the chunk buffer; unreadable ones are zero-filled there and
 * returned, coalesced, with the error the first of them gave.
 */
export interface Scraped {
  /** Absolute source ranges that could not be read, coalesced, in order: flat offset, length pairs. */
  bad: number[]
  /** One failure per bad range (dest -1), in source offsets. */
  errors: RangeFailure[]
  directBytes: number
}

export interface ScrapeArgs {
  io: IoBackend
  src: ChunkEnd
  /** Absolute source offsets to scrape: [from, end). */
  from: number
  end: number
  /** The chunk buffer and where the chunk's first byte (src.offsetBytes) sits in it. */
  buf: Buffer
  base: number
  /** The source's logical block size. */
  blockBytes: number
  tries: number
}

export function scrape(a: ScrapeArgs): Scraped {
  const out: Scraped = { bad: [], errors: [], directBytes: 0 }
  const B = a.blockBytes
  const align = a.src.directFd >= 0 ? a.src.alignBytes : 0
  for (let pos = a.from; pos < a.end;) {
    const next = Math.min(a.end, (Math.floor(pos / B) + 1) * B)
    const len = next - pos
    const at = a.base + (pos - a.src.offsetBytes)
    const direct = align > 0 && pos % align === 0 && len % align === 0
    let failure: RangeFailure | null = null
    // `tries` reads for a media error; a transient one (EAGAIN...) is retried with backoff on top.
    for (let attempt = 0, transient = 0; attempt < a.tries;) {
      failure = readBlock(a, direct, at, pos, len)
      if (!failure) break
      if (classify(failure.code) === 'transient' && transient < RETRY_LIMIT) {
        pause(RETRY_FIRST_MS << transient++)
        continue
      }
      attempt++
    }
    if (failure) {
      a.buf.fill(0, at, at + len)
      const last = out.bad.length - 2
      if (last >= 0 && (out.bad[last] as number) + (out.bad[last + 1] as number) === pos) {
        out.bad[last + 1] = (out.bad[last + 1] as number) + len
        const e = out.errors[out.errors.length - 1] as RangeFailure
        e.length += len
      } else {
        out.bad.push(pos, len)
        out.errors.push(failure)
      }
    } else if (direct) {
      out.directBytes += len
    }
    pos = next
  }
  for (const e of out.errors) e.message = `${e.code}: ${a.src.path} bytes ${e.offset}..${e.offset + e.length} are unreadable (bad blocks of ${B} bytes)`
  return out
}

function readBlock(a: ScrapeArgs, direct: boolean, at: number, pos: number, len: number): RangeFailure | null {
  try {
    const n = a.io.pread(direct ? a.src.directFd : a.src.fd, a.buf, at, len, pos)
    if (n === len) return null
    return { dest: -1, offset: pos, length: len, code: 'SHORT_READ', errno: 0, syscall: 'pread', message: '' }
  } catch (err) {
    const e = toSystemError(err, 'pread', a.src.path)
    return { dest: -1, offset: pos, length: len, code: systemCode(e), errno: e.errno, syscall: e.syscall, message: '' }
  }
}

/** The parts of [offset, offset + length) outside the bad ranges (absolute, flat pairs), as flat pairs. */
export function goodParts(offset: number, length: number, bad: readonly number[]): number[] {
  const out: number[] = []
  let at = offset
  for (let i = 0; i < bad.length; i += 2) {
    const b = bad[i] as number
    const e = b + (bad[i + 1] as number)
    if (b > at) out.push(at, b - at)
    at = Math.max(at, e)
  }
  if (at < offset + length) out.push(at, offset + length - at)
  return out
}
