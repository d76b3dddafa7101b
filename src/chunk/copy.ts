import type { ChunkEnd, ChunkResult, CopyChunkResult, CopyTask } from '../protocol/protocol.js'
import { sameDigest, type Xxh3 } from '../hash/xxh3.js'
import type { WorkerContext } from './context.js'
import { writeSparse } from './holes.js'
import { passTurn, waitForTurn } from '../protocol/order.js'
import { differingRanges, readRange, writeRange } from './ranged-io.js'
import { isZero, sourceHoles, sourceIsHole, zeroDigest, zeroRuns } from './zero-runs.js'
import { goodParts, scrape } from './scrape.js'

/**
 * Copies one chunk: one read of the source (none where it is a hole), one
 * write per destination (sparse: zero runs left as holes), then (verify 2)
 * one read-back per destination compared with the chunk's bytes.
 * Runs in a worker; every failure is returned as data, never thrown.
 */
export function copyChunk(ctx: WorkerContext, hash: Xxh3 | null, t: CopyTask): CopyChunkResult {
  const res: CopyChunkResult = {
    kind: 'copy', chunkIndex: t.chunkIndex, lengthBytes: t.lengthBytes, digest: null, readErr: false, writeErr: 0, errors: [], directBytes: 0,
  }
  const length = t.lengthBytes
  const P = ctx.pageBytes
  // The chunk sits in `main` at the source's page phase, so the source's
  // aligned middle is read to an aligned address.
  const base = t.src.offsetBytes % P
  const turn = t.writeTurn ? new Int32Array(t.writeTurn) : null
  let readOk = false
  let runs: number[] | null = null
  const t0 = performance.now()
  let t1 = t0
  let t2 = t0
  try {
    runs = readSource(ctx, hash, t, base, res)
    t1 = performance.now()
    // Unchanged since the destination's manifest: nothing to write or read back.
    if (!res.readErr && t.since?.digest && res.digest && sameDigest(res.digest, t.since.digest)) res.skippedBytes = length
    // With bad blocks, the readable rest of the chunk is still written.
    else readOk = !res.readErr || res.badRanges !== undefined
  } finally {
    // The turn is taken and passed whatever happened above: a chunk that
    // never passed it would hold every later chunk's writes forever.
    if (turn) waitForTurn(turn, t.chunkIndex)
    try {
      if (readOk) {
        const live = t.dests.map((d, i) => [d, i] as const).filter(([, i]) => ((t.skipDests ?? 0) & (1 << i)) === 0)
        const holes = live.map(([d, i]) => writeDest(ctx, t, d, i, base, runs, res))
        // Holes on every destination: the least any of them got.
        if (t.sparse) res.holeBytes = holes.length > 0 ? Math.min(...holes) : 0
      }
    } finally {
      if (turn) passTurn(turn, t.chunkIndex)
      t2 = performance.now()
    }
  }

  if (readOk && t.verify === 2) {
    t.dests.forEach((d, i) => {
      if (((res.writeErr | (t.skipDests ?? 0)) & (1 << i)) !== 0) return
      // Bad blocks not filled were not written: only the rest is read back.
      for (const [rel, len] of writtenParts(t, res)) readBack(ctx, { ...d, offsetBytes: d.offsetBytes + rel }, i, len, ctx.main, base + rel, res)
    })
  }
  // Phases of this chunk for `timing` (blockcopy bench): the hash is timed inside the read.
  const hashMs = res.phaseMs?.[1] ?? 0
  res.phaseMs = [t1 - t0 - hashMs, hashMs, t2 - t1, performance.now() - t2]
  return res
}

/**
 * Puts the source's chunk in main[base, base + length), hashed: zeros
 * without a read where the source has a hole there, else what was read.
 * Returns a sparse copy's runs to leave unwritten (flat pairs relative to
 * the chunk): 'always', its zero runs; 'auto', the source's holes of 64
 * KiB or more (sourceHoles), asked for only where some destination is a
 * hole already. Null for a plain
 * copy; a failed read is recorded in `res`.
 */
function readSource(ctx: WorkerContext, hash: Xxh3 | null, t: CopyTask, base: number, res: CopyChunkResult): number[] | null {
  const length = t.lengthBytes
  if (t.srcHoles && sourceIsHole(ctx.io, t.src, length)) {
    // Zeros to write from (plain copies, destinations without holes) and to
    // compare read-backs with.
    ctx.main.fill(0, base, base + length)
    if (hash) res.digest = zeroDigest(hash, ctx.main, base, length)
    return t.sparse ? [0, length] : null
  }
  const read = readRange(ctx.io, t.src, t.src.offsetBytes, length, ctx.main, base, res)
  if (typeof read !== 'number' && t.badBlocks) {
    const s = scrape({
      io: ctx.io, src: t.src, from: read.offset, end: t.src.offsetBytes + length, buf: ctx.main, base,
      blockBytes: t.badBlocks.blockBytes, tries: t.badBlocks.tries,
    })
    res.directBytes += s.directBytes
    if (s.bad.length > 0) {
      res.readErr = true
      res.badRanges = s.bad
      res.errors.push(...s.errors)
      // No digest: the chunk is not the source's.
      return null
    }
    // Every block read on its own: the failure did not last, and the chunk is whole.
  } else if (typeof read !== 'number') {
    res.readErr = true
    // Nothing of this chunk reaches any destination: the whole chunk failed.
    res.errors.push({ dest: -1, ...read, offset: t.src.offsetBytes, length })
    return null
  }
  if (typeof read === 'number') res.directBytes += read
  const runs = t.sparse?.mode === 'always' ? zeroRuns(ctx.main, base, length, t.src.offsetBytes, ctx.pageBytes)
    : t.srcHoles && t.sparse && reachesHole(t, t.sparse.holeFromBytes) ? sourceHoles(ctx.io, t.src, length, ctx.main, base, ctx.pageBytes) : null
  if (hash) {
    const zero = runs ? runs[0] === 0 && runs[1] === length : isZero(ctx.main, base, length)
    const h0 = performance.now()
    res.digest = zero ? zeroDigest(hash, ctx.main, base, length) : hash.digest(ctx.main, base, length)
    res.phaseMs = [0, performance.now() - h0, 0, 0]
  }
  return runs
}

/** Whether the chunk reaches, on some destination, the part that is a hole already (holeFromBytes, -1 for none). */
function reachesHole(t: CopyTask, holeFromBytes: readonly number[]): boolean {
  return t.dests.some((d, i) => {
    const from = holeFromBytes[i] ?? -1
    return from >= 0 && from < d.offsetBytes + t.lengthBytes
  })
}

/** Writes the chunk to destination i; returns the bytes it left as holes (sparse copies). */
function writeDest(ctx: WorkerContext, t: CopyTask, d: ChunkEnd, i: number, base: number, runs: number[] | null, res: CopyChunkResult): number {
  const P = ctx.pageBytes
  let buf = ctx.main
  let at = base
  // A destination of another page phase gets its own aligned copy of the
  // chunk, so that its middle can still go out with O_DIRECT.
  if (d.directFd >= 0 && (d.offsetBytes - t.src.offsetBytes) % d.alignBytes !== 0) {
    at = d.offsetBytes % P
    ctx.main.copy(ctx.stage, at, base, base + t.lengthBytes)
    buf = ctx.stage
  }
  if (runs && t.sparse) {
    return writeSparse(ctx.io, P, d, i, t.sparse.holeFromBytes[i] ?? -1, t.sparse.mode === 'always', runs, t.lengthBytes, buf, at, res)
  }
  const parts = writtenParts(t, res)
  for (let k = 0; k < parts.length; k++) {
    const [rel, len] = parts[k] as [number, number]
    const w = writeRange(ctx.io, d, d.offsetBytes + rel, len, buf, at + rel, res)
    if (typeof w === 'number') {
      res.directBytes += w
      continue
    }
    res.writeErr |= 1 << i
    res.errors.push({ dest: i, ...w })
    // The chunk's later parts (between bad blocks) are not tried on this
    // destination: each is named, so no byte of it goes unaccounted for.
    for (const [r, n] of parts.slice(k + 1)) {
      const offset = d.offsetBytes + r
      res.errors.push({
        dest: i, offset, length: n, code: 'DEST_STOPPED', errno: 0, syscall: 'pwrite',
        message: `DEST_STOPPED: ${d.path} bytes ${offset}..${offset + n} were not written: a write to it earlier in this chunk failed (${w.code})`,
      })
    }
    break
  }
  return 0
}

/** The parts of the chunk that are written, relative to it: all of it, or with bad blocks not filled, the readable rest. */
function writtenParts(t: CopyTask, res: CopyChunkResult): Array<[number, number]> {
  if (!res.badRanges || t.badBlocks?.fill) return [[0, t.lengthBytes]]
  const parts = goodParts(t.src.offsetBytes, t.lengthBytes, res.badRanges)
  const out: Array<[number, number]> = []
  for (let k = 0; k < parts.length; k += 2) out.push([(parts[k] as number) - t.src.offsetBytes, parts[k + 1] as number])
  return out
}

/**
 * Reads destination i's copy of the chunk into `stage` (O_DIRECT for the
 * middle, so the page cache does not answer) and compares it with
 * expected[expectedOffset, +length). A difference is that destination's
 * write error, code VERIFY_MISMATCH, for exactly the blocks that differ.
 */
export function readBack(
  ctx: WorkerContext, d: ChunkEnd, i: number, length: number, expected: Buffer, expectedOffset: number, res: ChunkResult,
): void {
  const at = d.offsetBytes % ctx.pageBytes
  const r = readRange(ctx.io, d, d.offsetBytes, length, ctx.stage, at, res)
  if (typeof r !== 'number') {
    res.writeErr |= 1 << i
    res.errors.push({ dest: i, ...r })
    return
  }
  res.directBytes += r
  if (ctx.stage.subarray(at, at + length).equals(expected.subarray(expectedOffset, expectedOffset + length))) return
  res.writeErr |= 1 << i
  for (const diff of differingRanges(expected, expectedOffset, ctx.stage, at, length)) {
    res.errors.push({
      dest: i, offset: d.offsetBytes + diff.offset, length: diff.length, code: 'VERIFY_MISMATCH', errno: 0, syscall: 'readback',
      message: `VERIFY_MISMATCH: ${d.path} bytes ${d.offsetBytes + diff.offset}..${d.offsetBytes + diff.offset + diff.length} differ from what was written`,
    })
  }
}
