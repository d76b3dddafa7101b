/*
 * Which chunks two files' extent maps prove unchanged (FIEMAP): a
 * baseline's clone against the last run's (src/incremental/baseline.ts).
 * Pure functions over flat lists, no I/O.
 */

/** FIEMAP extent flags (linux/fiemap.h). */
const EXTENT_LAST = 0x1
const EXTENT_MERGED = 0x1000
const EXTENT_SHARED = 0x2000
/**
 * Flags under which an extent's address proves nothing about its bytes:
 * UNKNOWN, DELALLOC, ENCODED, DATA_ENCRYPTED, NOT_ALIGNED, DATA_INLINE,
 * DATA_TAIL. Such a chunk is read.
 */
const UNTRUSTED = 0x2 | 0x4 | 0x8 | 0x80 | 0x100 | 0x200 | 0x400
/** Flags that may differ between two files sharing a block. */
const IGNORED = EXTENT_LAST | EXTENT_MERGED | EXTENT_SHARED

/** statfs f_type of the file systems whose extent maps give real device addresses. */
const XFS_MAGIC = 0x58465342
export const BTRFS_MAGIC = 0x9123683e

/** The extent (logical start, physical start, flags) covering `pos` in a flat FIEMAP list, from index `k` on. */
interface Cursor {
  map: Float64Array
  k: number
}

/** Index of the extent holding `pos` (moving k forward), or -1 in a hole; `next` is where that state ends. */
function stateAt(c: Cursor, pos: number, end: number): { k: number; next: number } {
  const m = c.map
  while (c.k * 4 < m.length && (m[c.k * 4] as number) + (m[c.k * 4 + 2] as number) <= pos) c.k++
  if (c.k * 4 >= m.length) return { k: -1, next: end }
  const start = m[c.k * 4] as number
  if (start > pos) return { k: -1, next: Math.min(end, start) }
  return { k: c.k, next: Math.min(end, start + (m[c.k * 4 + 2] as number)) }
}

/**
 * Per chunk of [0, sizeBytes): 1 where the two files map every byte of it
 * to the same device blocks with the same flags (or both leave it a hole),
 * 0 where anything differs or cannot be trusted. `a` and `b` are flat
 * FIEMAP lists (IoBackend.fiemap).
 */
export function sameExtents(a: Float64Array, b: Float64Array, sizeBytes: number, chunkBytes: number): Uint8Array {
  const chunks = Math.ceil(sizeBytes / chunkBytes)
  const same = new Uint8Array(chunks).fill(1)
  const ca: Cursor = { map: a, k: 0 }
  const cb: Cursor = { map: b, k: 0 }
  for (let pos = 0; pos < sizeBytes;) {
    const x = stateAt(ca, pos, sizeBytes)
    const y = stateAt(cb, pos, sizeBytes)
    const next = Math.min(x.next, y.next)
    let equal = x.k < 0 && y.k < 0
    if (x.k >= 0 && y.k >= 0) {
      const fx = a[x.k * 4 + 3] as number
      const fy = b[y.k * 4 + 3] as number
      const px = (a[x.k * 4 + 1] as number) + pos - (a[x.k * 4] as number)
      const py = (b[y.k * 4 + 1] as number) + pos - (b[y.k * 4] as number)
      equal = px === py && (fx & ~IGNORED) === (fy & ~IGNORED) && (fx & UNTRUSTED) === 0
    }
    if (!equal) same.fill(0, Math.floor(pos / chunkBytes), Math.ceil(next / chunkBytes))
    pos = next
  }
  return same
}

/** Whether a file system of this statfs type gives extent maps that prove a chunk unchanged (XFS, btrfs). */
export function extentMapsProve(fsType: number): boolean {
  return fsType === XFS_MAGIC || fsType === BTRFS_MAGIC
}
