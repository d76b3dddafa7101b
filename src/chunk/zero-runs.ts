import type { IoBackend } from '../io/types.js'
import type { ChunkEnd, DigestBytes } from '../protocol/protocol.js'
import type { Xxh3 } from '../hash/xxh3.js'

/**
 * Zero runs shorter than this are written as data, not left as holes. Each
 * hole costs a fallocate that waits for the file's in-flight direct writes,
 * and splits an extent, so a chunk of alternating 4 KiB blocks would cost 256
 * system calls and leave the file in 4 KiB fragments. Measured on ext4, 256
 * MiB with 4 KiB of data every 8 KiB onto an existing file: 4.8 s with 4 KiB
 * holes, 0.47 s with this minimum (every 32 KiB: 2.2 s against 0.39 s). At
 * 64 KiB a chunk makes at most 16 holes, and a sparse image keeps at most
 * 64 KiB of written zeros beside each piece of data.
 */
export const MIN_HOLE_BYTES = 64 * 1024

// Chunks are compared with this in pieces by memcmp (Buffer.compare):
// measured on 1 MiB at 10 µs (100 GB/s), 2x faster than comparing a buffer
// with itself shifted by 64 bytes and 17x faster than a BigUint64Array loop;
// 4 KiB blocks one by one cost 30 µs per MiB at worst. Per thread: a worker's
// module instance is its own.
const ZEROS = Buffer.alloc(MIN_HOLE_BYTES)

/** Whether buf[at, at + length) is all zero bytes (true for length 0). */
export function isZero(buf: Buffer, at: number, length: number): boolean {
  for (let done = 0; done < length; done += ZEROS.length) {
    const n = Math.min(ZEROS.length, length - done)
    // Data almost always has a non-zero first byte: no call needed to say so.
    if (buf[at + done] !== 0) return false
    if (buf.compare(ZEROS, 0, n, at + done, at + done + n) !== 0) return false
  }
  return true
}

/**
 * The zero runs of a chunk read into buf[at, at + length) from absolute
 * source offset `srcOffsetBytes`, as flat (start, end) pairs relative to the
 * chunk, ascending. Runs are made of whole blocks of `blockBytes` on absolute
 * offsets (the chunk's first and last blocks may be partial), and kept when
 * at least MIN_HOLE_BYTES long or the whole chunk, or, with `edges`, when
 * they touch the chunk's start or end (where a run may go on past it).
 */
export function zeroRuns(buf: Buffer, at: number, length: number, srcOffsetBytes: number, blockBytes: number, edges = false): number[] {
  if (isZero(buf, at, length)) return length > 0 ? [0, length] : []
  const runs: number[] = []
  let start = -1
  const close = (end: number) => {
    if (start >= 0 && (end - start >= MIN_HOLE_BYTES || (edges && (start === 0 || end === length)))) runs.push(start, end)
    start = -1
  }
  for (let rel = 0; rel < length; ) {
    const next = Math.min(length, rel + blockBytes - ((srcOffsetBytes + rel) % blockBytes))
    if (isZero(buf, at + rel, next - rel)) {
      if (start < 0) start = rel
    } else {
      close(rel)
    }
    rel = next
  }
  close(length)
  return runs
}

/**
 * Whether the source's chunk is all hole, from SEEK_DATA on its buffered
 * descriptor: the next data starts at or past the chunk's end, or there is
 * none before the end of the file (and the file still reaches the chunk's
 * end: a source cut short must fail its read, not turn into zeros). Where
 * holes cannot be asked for (EINVAL, ENOTSUP, any error), the chunk is read.
 */
export function sourceIsHole(io: IoBackend, src: ChunkEnd, lengthBytes: number): boolean {
  const end = src.offsetBytes + lengthBytes
  try {
    const data = io.seekData(src.fd, src.offsetBytes)
    if (data >= end) return true
    return data < 0 && io.blockInfo(src.fd).sizeBytes >= end
  } catch {
    return false
  }
}

/** A hole of a file: [start, end), its end where the next data begins (or the end of the file). */
export interface Hole {
  start: number
  end: number
  /** At least MIN_HOLE_BYTES long, counting what of it lies before the offset it was looked for from. */
  kept: boolean
}

/**
 * The first hole of a file at or after `pos` that starts before `limit`
 * (SEEK_HOLE, then SEEK_DATA), or null. Whether it is worth keeping is
 * judged on the whole hole: where it starts at `pos` itself, it may begin
 * before, so whether data lies in the MIN_HOLE_BYTES before its end is
 * asked too (one more lseek, only for a short one). Throws what lseek throws.
 */
export function nextHole(io: IoBackend, fd: number, pos: number, limit: number, sizeOf: () => number): Hole | null {
  const start = io.seekHole(fd, pos)
  if (start < 0 || start >= limit) return null
  const data = io.seekData(fd, start)
  const end = data < 0 ? sizeOf() : data
  // The file changed between the two calls.
  if (end <= start) return null
  let kept = end - start >= MIN_HOLE_BYTES
  if (!kept && start === pos && end >= MIN_HOLE_BYTES) {
    const next = io.seekData(fd, end - MIN_HOLE_BYTES)
    kept = next < 0 || next >= end
  }
  return { start, end, kept }
}

/**
 * The source's holes in its chunk worth keeping, as flat (start, end) pairs
 * relative to the chunk, ascending: those of MIN_HOLE_BYTES or more in the
 * file (measured whole, past the chunk's edges too; nextHole), the part of
 * each in the chunk. A smaller hole is written as zeros with the data
 * around it, so writes stay large: 4 KiB holes every 8 KiB, kept, cut a
 * chunk into 128 writes and left nothing to preallocate. Holes are asked
 * for only where the chunk as read into buf[at, at + length) is zero, in
 * runs of MIN_HOLE_BYTES or more or at its edges (a hole may go on past
 * them): what the file system says is trusted no further than the bytes
 * read, and a fragmented chunk costs a few lseeks, not two per hole. Where
 * holes cannot be asked for (any error), none.
 */
export function sourceHoles(io: IoBackend, src: ChunkEnd, lengthBytes: number, buf: Buffer, at: number, blockBytes: number): number[] {
  const start = src.offsetBytes
  const candidates = zeroRuns(buf, at, lengthBytes, start, blockBytes, true)
  const runs: number[] = []
  let size = -1
  const sizeOf = () => (size < 0 ? (size = io.blockInfo(src.fd).sizeBytes) : size)
  try {
    for (let k = 0; k + 1 < candidates.length; k += 2) {
      const to = start + (candidates[k + 1] as number)
      for (let pos = start + (candidates[k] as number); pos < to;) {
        const hole = nextHole(io, src.fd, pos, to, sizeOf)
        if (!hole) break
        if (hole.kept) runs.push(hole.start - start, Math.min(hole.end, to) - start)
        pos = hole.end
      }
    }
  } catch {
    return []
  }
  return runs
}

// Digests of all-zero chunks, by length, per hasher: a chunk is mostly the
// job's chunk size, so a few entries serve every hole. Bounded all the same,
// since first and last chunks have any length.
const zeroDigests = new WeakMap<Xxh3, Map<number, DigestBytes>>()
const MAX_CACHED_LENGTHS = 64

/**
 * The digest of `lengthBytes` zero bytes, computed once per length and
 * hasher. `zeros[at, at + lengthBytes)` must be zero: it is hashed on a miss.
 */
export function zeroDigest(hash: Xxh3, zeros: Buffer, at: number, lengthBytes: number): DigestBytes {
  let cache = zeroDigests.get(hash)
  if (!cache) zeroDigests.set(hash, (cache = new Map()))
  let digest = cache.get(lengthBytes)
  if (digest === undefined) {
    if (cache.size >= MAX_CACHED_LENGTHS) cache.clear()
    digest = hash.digest(zeros, at, lengthBytes)
    cache.set(lengthBytes, digest)
  }
  return digest
}
