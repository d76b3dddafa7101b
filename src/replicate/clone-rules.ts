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
 * destination's end. So every range with the partial block must end past
 * every other range in the destination, and in one file (source and
 * destination the same) no other range may move the end before it is
 * cloned, or the source's end would no longer be where its range ends.
 * Every such range is checked (two of them can never both pass: one ends
 * past the other), in O(n) whatever their number.
 *
 * Returns why the ranges cannot be cloned as given (naming ranges[i]), or
 * null. Main thread.
 */
export function cloneRangesRefusal(
  ranges: readonly ReplicateRange[], blockBytes: number, srcSizeBytes: number, destSizeBytes: number, sameFile: boolean,
): string | null {
  const unaligned = `is not aligned to the clone block size of ${blockBytes} bytes`
  const partials: number[] = []
  // The two ranges that end furthest in the destination, and the first two
  // that end past the source's end (which in one file move its end).
  const furthest = new Furthest()
  const pastSource: number[] = []
  for (let i = 0; i < ranges.length; i++) {
    const r = ranges[i] as ReplicateRange
    if (r.srcOffset % blockBytes !== 0 || r.dstOffset % blockBytes !== 0) return `ranges[${i}] ${unaligned}`
    const end = r.dstOffset + r.length
    furthest.add(i, end)
    if (end > srcSizeBytes && pastSource.length < 2) pastSource.push(i)
    if (r.length % blockBytes === 0) continue
    if (r.srcOffset + r.length !== srcSizeBytes) {
      return `ranges[${i}] ${unaligned}: only a range that ends at the end of the source (${srcSizeBytes} bytes) may end in a partial block`
    }
    partials.push(i)
  }
  for (const p of partials) {
    const end = (ranges[p] as ReplicateRange).dstOffset + (ranges[p] as ReplicateRange).length
    const name = `ranges[${p}] ends in the source's partial last block, which the kernel clones only to the end of the destination`
    if (end < destSizeBytes) return `${name}, and it would end at byte ${end}, inside the destination (${destSizeBytes} bytes)`
    const other = furthest.besides(p)
    if (other && other.end > end) return `${name}, and ranges[${other.index}] ends past it in the destination (at byte ${other.end}, after ${end})`
    const mover = sameFile ? pastSource.find((i) => i !== p) : undefined
    if (mover !== undefined) {
      const r = ranges[mover] as ReplicateRange
      return `${name}, and ranges[${mover}] would move the end of this one file (to byte ${r.dstOffset + r.length}) if cloned first, so the source would no longer end there`
    }
  }
  return null
}

/** The two ranges that end furthest, by end then index: what is furthest besides any one range, in O(1). */
class Furthest {
  private first: { index: number; end: number } | null = null
  private second: { index: number; end: number } | null = null

  add(index: number, end: number): void {
    if (!this.first || end > this.first.end) {
      this.second = this.first
      this.first = { index, end }
    } else if (!this.second || end > this.second.end) {
      this.second = { index, end }
    }
  }

  besides(index: number): { index: number; end: number } | null {
    return this.first?.index === index ? this.second : this.first
  }
}
