/**
 * Alignment arithmetic on byte counts. Offsets pass 2^32, so these use `%`
 * (exact on doubles) rather than bit masks (32-bit in JS) or division
 * (which can round the wrong way near 2^53).
 */

/** True for 1, 2, 4, 8, …; false for 0, negatives and non-integers. */
export function isPowerOfTwo(n: number): boolean {
  return Number.isSafeInteger(n) && n > 0 && 2 ** Math.round(Math.log2(n)) === n
}

/** `valueBytes` rounded down to a multiple of `alignBytes` (values <= 1 mean "no alignment"). */
export function alignDown(valueBytes: number, alignBytes: number): number {
  if (alignBytes <= 1) return valueBytes
  return valueBytes - (valueBytes % alignBytes)
}

/** `valueBytes` rounded up to a multiple of `alignBytes` (values <= 1 mean "no alignment"). */
export function alignUp(valueBytes: number, alignBytes: number): number {
  if (alignBytes <= 1) return valueBytes
  const rest = valueBytes % alignBytes
  return rest === 0 ? valueBytes : valueBytes + (alignBytes - rest)
}

/** Whether `valueBytes` is a multiple of `alignBytes` (always true when alignBytes <= 1). */
export function isAligned(valueBytes: number, alignBytes: number): boolean {
  return alignBytes <= 1 || valueBytes % alignBytes === 0
}

/** One piece of a byte range: the aligned middle goes direct, the rest buffered. */
export interface AlignedSegment {
  positionBytes: number
  lengthBytes: number
  /** True only for a segment whose start and length are multiples of the alignment. */
  direct: boolean
}

/**
 * Splits [positionBytes, positionBytes + lengthBytes) into at most three
 * segments: an unaligned head, the aligned middle (direct: true) and an
 * unaligned tail, in file order, none empty. With alignBytes <= 0 (no direct
 * I/O) or no whole aligned block inside, it is one buffered segment.
 * Callers align to at least the page size, so a page is never touched by
 * both direct and buffered I/O within one range (the page cache and O_DIRECT
 * would otherwise race over it).
 */
export function splitAligned(positionBytes: number, lengthBytes: number, alignBytes: number): AlignedSegment[] {
  if (lengthBytes <= 0) return []
  const end = positionBytes + lengthBytes
  const middleStart = alignUp(positionBytes, alignBytes)
  const middleEnd = alignDown(end, alignBytes)
  if (alignBytes <= 0 || middleEnd <= middleStart) return [{ positionBytes, lengthBytes, direct: false }]
  const out: AlignedSegment[] = []
  if (middleStart > positionBytes) {
    out.push({ positionBytes, lengthBytes: middleStart - positionBytes, direct: false })
  }
  out.push({ positionBytes: middleStart, lengthBytes: middleEnd - middleStart, direct: true })
  if (end > middleEnd) out.push({ positionBytes: middleEnd, lengthBytes: end - middleEnd, direct: false })
  return out
}
