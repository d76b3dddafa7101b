import type { ReplicateRange } from './ranges.js'

/**
 * Which ranges FICLONERANGE takes, as the kernel decides for XFS and btrfs
 * alike (fs/remap_range.c: generic_remap_checks and
 * generic_remap_file_range_prep, with the destination file system's block):
 *
 * - both offsets are multiples of the block;
 * - so is the length, except where the range ends at the source's end of
 *   file: its last block may be partial (the kernel rounds it up; this is
 *   how `cp --reflink` clones a file of any size), provided that it does not
 *   land inside the destination: the range must reach or pass the
 *   destination's end of file (a partial block in the middle of a file would
 *   read as the source's bytes followed by the zeros after its end).
 *
 * Ranges are cloned in any order, in parallel, and each clone may move the
 * destination's end. So the range with the partial block must end past
 * every other range in the destination, and in one file (source and
 * destination the same) no other range may move the end before it is cloned,
 * or the source's end would no longer be where its range ends.
 *
 * Returns why the ranges cannot be cloned as given (naming ranges[i]), or
 * null. Main thread.
 */
export function cloneRangesRefusal(
  ranges: readonly ReplicateRange[], blockBytes: number, srcSizeBytes: number, destSizeBytes: number, sameFile: boolean,
): string | null {
  const unaligned = `is not aligned to the clone block size of ${blockBytes} bytes`
  let partial = -1
  for (let i = 0; i < ranges.length; i++) {
    const r = ranges[i] as ReplicateRange
    if (r.srcOffset % blockBytes !== 0 || r.dstOffset % blockBytes !== 0) return `ranges[${i}] ${unaligned}`
    if (r.length % blockBytes === 0) continue
    if (r.srcOffset + r.length !== srcSizeBytes) {
      return `ranges[${i}] ${unaligned}: only a range that ends at the end of the source (${srcSizeBytes} bytes) may end in a partial block`
    }
    partial = i
  }
  if (partial < 0) return null
  const p = ranges[partial] as ReplicateRange
  const end = p.dstOffset + p.length
  const name = `ranges[${partial}] ends in the source's partial last block, which the kernel clones only to the end of the destination`
  if (end < destSizeBytes) return `${name}, and it would end at byte ${end}, inside the destination (${destSizeBytes} bytes)`
  for (let i = 0; i < ranges.length; i++) {
    const r = ranges[i] as ReplicateRange
    if (i === partial) continue
    if (r.dstOffset + r.length > end) return `${name}, and ranges[${i}] ends past it in the destination (at byte ${r.dstOffset + r.length}, after ${end})`
    if (sameFile && r.dstOffset + r.length > srcSizeBytes) {
      return `${name}, and ranges[${i}] would move the end of this one file (to byte ${r.dstOffset + r.length}) if cloned first, so the source would no longer end there`
    }
  }
  return null
}
