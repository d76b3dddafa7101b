import { closeSync, ftruncateSync, openSync, readFileSync, statSync, writeSync } from 'node:fs'

/** One piece of a sparse file: pseudo-random bytes, or written (allocated) zeros. */
export interface Piece {
  offset: number
  length: number
  /** Written zeros instead of data: allocated, not a hole. */
  zeros?: boolean
}

/** xorshift32 bytes for one piece, so every piece differs and any misplaced byte shows. */
function pieceBytes(length: number, seed: number): Buffer {
  const buf = Buffer.alloc(length)
  let x = (seed * 0x9e3779b1) >>> 0 || 1
  for (let i = 0; i < length; i++) {
    x ^= x << 13
    x >>>= 0
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    buf[i] = x & 0xff
  }
  return buf
}

/**
 * Creates (or truncates) path as a file of sizeBytes that is a hole
 * everywhere but the pieces. Returns the bytes of data (not zeros) written.
 */
export function writeSparseFile(path: string, sizeBytes: number, pieces: Piece[]): number {
  const fd = openSync(path, 'w')
  let data = 0
  try {
    ftruncateSync(fd, sizeBytes)
    pieces.forEach((p, i) => {
      const buf = p.zeros ? Buffer.alloc(p.length) : pieceBytes(p.length, i + 1)
      for (let done = 0; done < p.length; ) done += writeSync(fd, buf, done, p.length - done, p.offset + done)
      if (!p.zeros) data += p.length
    })
  } finally {
    closeSync(fd)
  }
  return data
}

/** Bytes the file system has allocated to path (st_blocks × 512, what `du` counts). */
export function allocatedBytes(path: string): number {
  return statSync(path).blocks * 512
}

/** This process's `rchar` from /proc/self/io: bytes asked of read system calls by all its threads. */
export function bytesReadByProcess(): number {
  const line = readFileSync('/proc/self/io', 'utf8').split('\n').find((l) => l.startsWith('rchar:'))
  if (!line) throw new Error('/proc/self/io has no rchar line')
  return Number(line.split(/\s+/)[1])
}
