// replicate/: the replicate job: ranges cloned by reflink where the file system allows, else copied; its rules, chunk work and scratch files.
import os from 'node:os'
import path from 'node:path'
import { BlockcopyError } from '../errors.js'
import type { IoBackend } from '../io/types.js'
import type { JobSpec, NotifyFn, VerifyMode, WorkPlan } from '../job.js'
import { checkChunkBytes, checkDirectMode, type ClientSettings } from '../options.js'
import { callerHooks } from '../job-options.js'
import { markDone, newBarrier, poison } from '../protocol/order.js'
import type { FileRef, TaskOrder, VerifyLevel } from '../protocol/protocol.js'
import { closeFile, fileRef, inspectPath, openForJob, PAGE_BYTES, probeDirect, type DirectMode, type OpenFile, type PathFacts } from '../files/regions.js'
import { clonePairRefusal, cloneSupport } from '../caps/caps.js'
import { cloneRangesRefusal } from './clone-rules.js'
import { cloneWork } from './clone-work.js'
import { checkRanges, overlapPair, overlapsItself, planRanges, type RangesPlan, type ReplicateRange } from './ranges.js'
import { Scratch } from './scratch.js'

/** Options of replicate (lsm_volume_replicate_range). */
export interface ReplicateOptions {
  /** 'clone' shares extents (reflink); 'copy' moves the bytes. */
  type: 'clone' | 'copy'
  /** With 'copy', a clone the file systems cannot do is copied instead of refused. */
  fallback?: 'copy'
  /**
   * Default 'none'. For copies (and clones that fell back), as for copy. A
   * clone is checked once every range is cloned: both read the cloned
   * ranges of the source (hashed: the digests a copy of them gives) and of
   * the destination; 'hash' compares the two digests of each piece,
   * 'readback' the bytes (VERIFY_MISMATCH for the blocks that differ).
   */
  verify?: VerifyMode
  ignoreErrors?: boolean
  chunkBytes?: number
  direct?: DirectMode
  signal?: AbortSignal
  notify?: NotifyFn
  context?: unknown
}

/** Why the clone cannot be done, or null when it can. */
function cloneRefusal(io: IoBackend, src: PathFacts, dest: PathFacts, ranges: ReplicateRange[]): string | null {
  if (src.isBlockDevice || dest.isBlockDevice) return 'block devices have no reflink'
  // Probed beside the destination, which is written anyway: the source's mount may be read-only.
  const caps = cloneSupport(io, dest.path, 'dest')
  if (!caps.supported) return `the file system of ${dest.path} cannot clone (${caps.reason})`
  const block = caps.blockBytes
  const sameFile = src.identity === dest.identity
  const rules = cloneRangesRefusal(ranges, block, src.sizeBytes, dest.exists ? dest.sizeBytes : 0, sameFile)
  if (rules !== null) return rules
  if (sameFile && overlapsItself(ranges)) return 'a clone within one file cannot overlap its own source'
  // Then the pair itself, not its st_dev: btrfs subvolumes differ there and
  // still share extents. One block, or the source's partial last one.
  const first = ranges.find((r) => r.length > 0)
  const why = first ? clonePairRefusal(io, src.path, first.srcOffset, Math.min(block, src.sizeBytes - first.srcOffset), dest) : null
  return why === null ? null : `${src.path} cannot be cloned into ${dest.path} (${why})`
}

/**
 * SRC and DST by two names of one storage (a loop device over SRC, a
 * partition of it: src/files/storage.ts) whose ranges overlap there: refused.
 * The memmove order that makes a move within one file exact holds for reads
 * and writes through one name; through two, each has its own page cache,
 * and what one reads of bytes the other wrote is what those caches make of it.
 */
function refuseSharedStorage(src: PathFacts, dest: PathFacts, ranges: ReplicateRange[]): void {
  if (src.storage.identity !== dest.storage.identity) return
  const so = src.storage.offsetBytes
  const dof = dest.storage.offsetBytes
  const pair = overlapPair(ranges.map((r) => ({ srcOffset: r.srcOffset + so, dstOffset: r.dstOffset + dof, length: r.length })))
  if (!pair) return
  const d = ranges[pair.dest] as ReplicateRange
  const r = ranges[pair.src] as ReplicateRange
  const via = [...new Set([...src.storage.via, ...dest.storage.via])].join('; ')
  throw new BlockcopyError(
    'INVALID_ARGUMENT',
    `ranges[${pair.dest}]: destination bytes ${d.dstOffset}..${d.dstOffset + d.length} of ${dest.path} overlap the source bytes ${r.srcOffset}..${r.srcOffset + r.length} of ${src.path} that ranges[${pair.src}] reads: they are the same storage (${via}). Ranges that overlap are moved within one storage only through one name (the same path as source and destination, in memmove order), never through two, which have separate page caches`,
    `ranges[${pair.dest}]`,
  )
}

/**
 * Checks a replication against the files as they are and opens them
 * (creating a missing destination). Every check, including whether a clone
 * is possible, runs before anything is created or written.
 */
export function openReplicate(
  io: IoBackend, source: string, dest: string, ranges: unknown, o: ReplicateOptions, s: ClientSettings,
): JobSpec {
  if (typeof o !== 'object' || o === null || (o.type !== 'clone' && o.type !== 'copy')) {
    throw new BlockcopyError('INVALID_ARGUMENT', `type: must be 'clone' or 'copy', got ${String((o as { type?: unknown } | null)?.type)}`, 'type')
  }
  if (o.fallback !== undefined && o.fallback !== 'copy') {
    throw new BlockcopyError('INVALID_ARGUMENT', `fallback: the only fallback is 'copy', got ${String(o.fallback)}`, 'fallback')
  }
  const hooks = callerHooks(o)
  const verify = o.verify ?? 'none'
  if (verify !== 'none' && verify !== 'hash' && verify !== 'readback') {
    throw new BlockcopyError('INVALID_ARGUMENT', `verify: must be 'none', 'hash' or 'readback', got ${String(verify)}`, 'verify')
  }
  const chunkBytes = checkChunkBytes(o.chunkBytes ?? s.chunkBytes, 'chunkBytes', s.bufferBytes)
  const direct = checkDirectMode(o.direct ?? s.direct, 'direct')
  const srcFacts = inspectPath(io, source, 'source', false)
  const destFacts = inspectPath(io, dest, 'dest', true)
  const checked = checkRanges(ranges, srcFacts.sizeBytes, source, destFacts.isBlockDevice ? destFacts.sizeBytes : null)
  const sameFile = srcFacts.identity === destFacts.identity
  if (!sameFile) refuseSharedStorage(srcFacts, destFacts, checked)

  let method: 'clone' | 'copy' = 'copy'
  if (o.type === 'clone') {
    const refusal = cloneRefusal(io, srcFacts, destFacts, checked)
    if (refusal === null) method = 'clone'
    else if (o.fallback !== 'copy') throw new BlockcopyError('NO_SUPPORT', `type: cannot clone: ${refusal}; give \`fallback: 'copy'\` to copy instead`, 'type')
  }
  // Bytes move through the workers for a copy, and for the check of a clone (verify).
  const moves = method === 'copy' || verify !== 'none'
  const srcAlign = moves ? probeDirect(io, srcFacts, direct, 'source') : 0
  const destAlign = moves ? probeDirect(io, destFacts, direct, 'dest') : 0
  // Clones are planned by cloneWork; a clone never overlaps its own source (cloneRefusal).
  const inPlace = method === 'clone' ? null : planRanges(checked, sameFile, chunkBytes, s.bufferBytes, PAGE_BYTES)
  // A cycle (a swap) cannot be ordered: its sources go to a scratch file first.
  const scratch = method === 'clone' || inPlace ? null : new Scratch(stagingDir(srcFacts))
  let stagingFd = -1
  if (scratch) {
    try {
      stagingFd = scratch.create()
    } catch (err) {
      throw new BlockcopyError('NO_SUPPORT', `ranges: they overwrite each other's sources in a cycle, and no scratch file for staging could be made in ${scratch.dir}: ${(err as Error).message}`, 'ranges')
    }
  }

  const src = openForJob(io, srcFacts, false, srcAlign, moves ? direct : 'never')
  let out: OpenFile
  try {
    out = openForJob(io, destFacts, true, destAlign, moves ? direct : 'never')
  } catch (err) {
    closeFile(io, src)
    scratch?.close()
    throw err
  }
  const staging: FileRef = { path: `a scratch file in ${scratch?.dir ?? ''}`, fd: stagingFd, directFd: -1, alignBytes: 0, uncachedEdges: false }
  let work: (level: VerifyLevel) => WorkPlan
  let totalBytes: number
  if (method === 'clone') {
    work = cloneWork(checked, fileRef(src), fileRef(out), { chunkBytes, bufferBytes: s.bufferBytes, pageBytes: PAGE_BYTES })
    totalBytes = checked.reduce((n, r) => n + r.length, 0)
  } else {
    const phases = inPlace ? [{ plan: inPlace, from: fileRef(src), to: fileRef(out) }] : stagedPhases(checked, chunkBytes, s.bufferBytes, fileRef(src), staging, fileRef(out))
    work = (level) => workOf(phases, level)
    totalBytes = phases[phases.length - 1]?.plan.totalBytes ?? 0
  }
  return {
    kind: 'replicate', source: src, srcOffset: 0, dests: [out], destOffsets: [0], totalBytes,
    chunkBytes, verify, ignoreErrors: o.ignoreErrors === true, sequentialWrites: false, work, method,
    destSpans: checked.map((r) => ({ offset: r.dstOffset, length: r.length })),
    ...(scratch ? { scratch } : {}),
    ...hooks,
  }
}

/** Where a cycle's sources are staged: beside the source file, or in the temporary directory for a device. */
function stagingDir(src: PathFacts): string {
  return src.isBlockDevice ? os.tmpdir() : path.dirname(path.resolve(src.path))
}

interface Phase {
  plan: RangesPlan
  from: FileRef
  to: FileRef
  /** The staging phase: the destination, and where a scratch offset's bytes finally go. */
  staging?: { destPath: string; destOffsetOf: (scratchOffset: number) => number }
}

/**
 * Staging for ranges that overwrite each other's sources in a cycle: every
 * source range is first copied to the scratch file, end to end; then, once
 * all of that is written, from the scratch file to its destination.
 */
function stagedPhases(ranges: ReplicateRange[], chunkBytes: number, bufferBytes: number, src: FileRef, staging: FileRef, dest: FileRef): Phase[] {
  let at = 0
  const aside = ranges.map((r) => {
    // End to end. A range of two pages or more keeps its page phase, so the
    // second phase can still move its middle direct; a smaller one has no
    // such middle and is packed right after the last (any offset is
    // correct: a piece whose phase differs is restaged in the worker).
    const phase = r.length >= 2 * PAGE_BYTES ? (((r.srcOffset - at) % PAGE_BYTES) + PAGE_BYTES) % PAGE_BYTES : 0
    const stagedAt = at + phase
    at = stagedAt + r.length
    return stagedAt
  })
  // Scratch offset to destination offset: ranges lie end to end in the scratch file, in order.
  const destOffsetOf = (scratch: number): number => {
    let lo = 0
    for (let hi = aside.length - 1; lo < hi;) {
      const mid = (lo + hi + 1) >> 1
      if ((aside[mid] ?? 0) <= scratch) lo = mid
      else hi = mid - 1
    }
    return (ranges[lo]?.dstOffset ?? 0) + (scratch - (aside[lo] ?? 0))
  }
  const first = planRanges(ranges.map((r, i) => ({ srcOffset: r.srcOffset, dstOffset: aside[i] ?? 0, length: r.length })), false, chunkBytes, bufferBytes, PAGE_BYTES)
  const second = planRanges(ranges.map((r, i) => ({ srcOffset: aside[i] ?? 0, dstOffset: r.dstOffset, length: r.length })), false, chunkBytes, bufferBytes, PAGE_BYTES)
  if (!first || !second) throw new Error('staging plans between two files cannot have cycles')
  return [{ plan: first, from: src, to: staging, staging: { destPath: dest.path, destOffsetOf } }, { plan: second, from: staging, to: dest }]
}

/** The second of each (srcOffset, dstOffset, length) triple. */
const piecesAt = (pieces: number[]): number[] => pieces.filter((_, j) => j % 3 === 1)

/** The tasks of a copy in one or two phases, with the order between them. */
function workOf(phases: Phase[], level: VerifyLevel): WorkPlan {
  const tasks = phases.flatMap((p, phase) => p.plan.tasks.map((pieces, i) => ({ phase, pieces, bytes: p.plan.taskBytes[i] ?? 0 })))
  const staged = phases.length > 1
  const firstCount = phases[0]?.plan.tasks.length ?? 0
  const ordered = staged || phases[0]?.plan.order !== 'any'
  const barrier = ordered ? newBarrier(tasks.length) : null
  // Progress counts the bytes that reach the destination: the last phase's.
  const starts: number[] = []
  tasks.reduce((at, t) => (starts.push(at), at + (t.phase === phases.length - 1 ? t.bytes : 0)), 0)
  const orderOf = (i: number, phase: number): TaskOrder | null => {
    if (!barrier) return null
    if (!staged) return { barrier, waitFor: i, waitBefore: 'write', markAfter: 'read' }
    return phase === 0
      ? { barrier, waitFor: 0, waitBefore: 'none', markAfter: 'write' }
      : { barrier, waitFor: firstCount, waitBefore: 'read', markAfter: 'read' }
  }
  return {
    count: tasks.length,
    extent: (i) => {
      const t = tasks[i]
      return { offset: starts[i] ?? 0, length: t && t.phase === phases.length - 1 ? t.bytes : 0 }
    },
    // A task that never ran: later tasks must not wait for it, nor use what it would have staged.
    ...(barrier ? {
      abandon: (i: number) => {
        const b = new Int32Array(barrier)
        if (staged && (tasks[i]?.phase ?? 0) === 0) poison(b)
        markDone(b, i)
      },
    } : {}),
    task: (i) => {
      const t = tasks[i] ?? { phase: 0, pieces: [], bytes: 0 }
      const p = phases[t.phase] as Phase
      const staging = p.staging
      return {
        kind: 'ranges', chunkIndex: i, lengthBytes: t.bytes, src: p.from, dest: p.to, pieces: t.pieces, method: 'copy',
        verify: level, order: orderOf(i, t.phase),
        ...(staging ? { staging: { destPath: staging.destPath, destOffsets: piecesAt(t.pieces).map(staging.destOffsetOf) } } : {}),
      }
    },
  }
}
