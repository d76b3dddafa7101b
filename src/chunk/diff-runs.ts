/**
 * Where two buffers differ, as runs of bytes, for verify's workers. A run
 * goes from a differing byte to a differing byte; differing bytes with fewer
 * than MERGE_GAP_BYTES equal bytes between them are in one run. Equal data is
 * compared in 4 KiB steps with memcmp (Buffer.compare), and only a 4 KiB
 * block that differs is scanned, a 32-bit word at a time, down to the byte
 * inside each differing word: nothing is allocated per byte, and at most
 * MAX_RUNS_PER_CHUNK runs are returned, whatever the data.
 */

/** Differing bytes closer than this (fewer equal bytes between them) are one run. */
export const MERGE_GAP_BYTES = 64

/** Runs returned per chunk and replica: the first MAX - 1 and the last; the counts cover all. */
export const MAX_RUNS_PER_CHUNK = 256

const BLOCK = 4096
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1

/** Runs as they are found, in order; closes each when the next differing byte is MERGE_GAP_BYTES or more past its end. */
class RunSink {
  runs = 0
  spanBytes = 0
  differingBytes = 0
  /** The open run, [start, end) relative to the chunk; start -1 when none. */
  private start = -1
  private end = 0
  private readonly pairs: number[] = []
  private lastOffset = -1
  private lastLength = 0

  constructor(private readonly fileOffset: number) {}

  /** Differing bytes from `first` to `last` (inclusive, relative to the chunk), `count` of them, none between them MERGE_GAP_BYTES apart. */
  add(first: number, last: number, count: number): void {
    if (this.start < 0 || first - this.end >= MERGE_GAP_BYTES) {
      this.close()
      this.start = first
    }
    this.end = last + 1
    this.differingBytes += count
  }

  /** Where the open run ends (relative to the chunk), or -Infinity when there is none: a differing byte before end + MERGE_GAP_BYTES extends it. */
  get openEnd(): number {
    return this.start < 0 ? -Infinity : this.end
  }

  /** Extends the open run to `last` (the caller checked it is within reach), with `count` more differing bytes. */
  extend(last: number, count: number): void {
    this.end = last + 1
    this.differingBytes += count
  }

  private close(): void {
    if (this.start < 0) return
    const length = this.end - this.start
    this.runs++
    this.spanBytes += length
    if (this.runs < MAX_RUNS_PER_CHUNK) this.pairs.push(this.fileOffset + this.start, length)
    else {
      this.lastOffset = this.fileOffset + this.start
      this.lastLength = length
    }
  }

  /** [] when nothing differs, else [runs, spanBytes, differingBytes, offset, length, ...]: see ChunkResult.diffs. */
  result(): number[] {
    this.close()
    this.start = -1
    if (this.runs === 0) return []
    const out = [this.runs, this.spanBytes, this.differingBytes, ...this.pairs]
    if (this.lastOffset >= 0) out.push(this.lastOffset, this.lastLength)
    return out
  }
}

/** Bytes of a 32-bit word that are not zero (each byte folded into its lowest bit, then summed by the multiply). */
function nonZeroBytes(x: number): number {
  let y = x | (x >>> 4)
  y |= y >>> 2
  y |= y >>> 1
  return Math.imul(y & 0x01010101, 0x01010101) >>> 24
}

/**
 * Compares a[at, at + length) with b[at, at + length), the bytes of a chunk
 * that starts at `fileOffset` in its files, and returns where they differ:
 * [] when they are equal, else [runs, spanBytes, differingBytes, offset,
 * length, ...] with absolute offsets (ChunkResult.diffs).
 */
export function diffRuns(a: Buffer, b: Buffer, at: number, length: number, fileOffset: number): number[] {
  const sink = new RunSink(fileOffset)
  // 32-bit words where a and b share their alignment (always, for the workers' page-aligned buffers).
  const head = (4 - ((a.byteOffset + at) & 3)) & 3
  const words = LITTLE_ENDIAN && ((a.byteOffset + at) & 3) === ((b.byteOffset + at) & 3) && length > head
  let wa: Uint32Array | null = null
  let wb: Uint32Array | null = null
  const bytes = (from: number, to: number) => {
    for (let k = from; k < to; k++) if (a[at + k] !== b[at + k]) sink.add(k, k, 1)
  }
  for (let off = 0; off < length; off += BLOCK) {
    const end = Math.min(length, off + BLOCK)
    if (a.compare(b, at + off, at + end, at + off, at + end) === 0) continue
    if (!words) {
      bytes(off, end)
      continue
    }
    // Word k covers chunk bytes [head + 4k, head + 4k + 4).
    wa ??= new Uint32Array(a.buffer, a.byteOffset + at + head, (length - head) >>> 2)
    wb ??= new Uint32Array(b.buffer, b.byteOffset + at + head, (length - head) >>> 2)
    const firstWord = off <= head ? 0 : Math.ceil((off - head) / 4)
    const endWord = Math.max(firstWord, Math.floor((end - head) / 4))
    bytes(off, Math.min(end, head + 4 * firstWord))
    // Within a run (a stretch that differs throughout, say) a word only moves its end: no call, no branch on its first byte.
    let reach = sink.openEnd + MERGE_GAP_BYTES - 3
    let last = -1
    let count = 0
    for (let w = firstWord; w < endWord; w++) {
      const x = (wa[w] as number) ^ (wb[w] as number)
      if (x === 0) continue
      // Little-endian: the word's first byte in memory is its lowest.
      const base = head + 4 * w
      if (base < reach) {
        last = base + ((31 - Math.clz32(x)) >>> 3)
        count += nonZeroBytes(x)
        reach = last + 1 + MERGE_GAP_BYTES - 3
        continue
      }
      if (last >= 0) sink.extend(last, count)
      last = -1
      count = 0
      sink.add(base + ((31 - Math.clz32(x & -x)) >>> 3), base + ((31 - Math.clz32(x)) >>> 3), nonZeroBytes(x))
      reach = sink.openEnd + MERGE_GAP_BYTES - 3
    }
    if (last >= 0) sink.extend(last, count)
    bytes(Math.max(off, head + 4 * endWord), end)
  }
  return sink.result()
}

/** A chunk whose digest is not the manifest's: one run over all of it (nothing narrower can be known). */
export function wholeChunkRun(fileOffset: number, length: number): number[] {
  return [1, length, length, fileOffset, length]
}
