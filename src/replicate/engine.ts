import fs from 'node:fs'
import path from 'node:path'
import { BlockcopyError } from '../errors.js'
import type { IoBackend } from '../io/types.js'
import type { JobSpec, NotifyFn, VerifyMode, WorkPlan } from '../job.js'
import { checkChunkBytes, checkDirectMode, type ClientSettings } from '../options.js'
import { markRead } from '../chunk/order.js'
import type { FileRef, VerifyLevel } from '../protocol.js'
import { closeFile, inspectPath, openForJob, PAGE_BYTES, probeDirect, type DirectMode, type OpenFile, type PathFacts } from '../regions.js'
import { cloneSupport } from './caps.js'
import { checkRanges, overlapsItself, planClones, planRanges, type ReplicateRange } from './ranges.js'

/** Options of replicate (lsm_volume_replicate_range). */
export interface ReplicateOptions {
  /** 'clone' shares extents (reflink); 'copy' moves the bytes. */
  type: 'clone' | 'copy'
  /** With 'copy', a clone the file systems cannot do is copied instead of refused. */
  fallback?: 'copy'
  /** For copies (and clones that fell back): as for copy. Default 'none'. */
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
  const devOf = (f: PathFacts) => fs.statSync(f.exists ? f.path : path.dirname(path.resolve(f.path))).dev
  if (devOf(src) !== devOf(dest)) return `${src.path} and ${dest.path} are on different file systems (EXDEV)`
  const caps = cloneSupport(io, src.path, 'source')
  if (!caps.supported) return `the file system of ${src.path} cannot clone (${caps.reason})`
  const block = caps.blockBytes
  const bad = ranges.findIndex((r) => r.srcOffset % block !== 0 || r.dstOffset % block !== 0 || r.length % block !== 0)
  if (bad >= 0) return `ranges[${bad}] is not aligned to the clone block size of ${block} bytes`
  if (src.identity === dest.identity && overlapsItself(ranges)) return 'a clone within one file cannot overlap its own source'
  return null
}

function fileRef(f: OpenFile): FileRef {
  return { path: f.path, fd: f.fd, directFd: f.directFd, alignBytes: f.alignBytes }
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

  let method: 'clone' | 'copy' = 'copy'
  if (o.type === 'clone') {
    const refusal = cloneRefusal(io, srcFacts, destFacts, checked)
    if (refusal === null) method = 'clone'
    else if (o.fallback !== 'copy') throw new BlockcopyError('NO_SUPPORT', `type: cannot clone: ${refusal}; pass fallback 'copy' to copy instead`, 'type')
  }
  const plan = method === 'clone' ? planClones(checked) : planRanges(checked, sameFile, chunkBytes, s.bufferBytes, PAGE_BYTES)
  const srcAlign = method === 'copy' ? probeDirect(io, srcFacts, direct, 'source') : 0
  const destAlign = method === 'copy' ? probeDirect(io, destFacts, direct, 'dest') : 0

  const src = openForJob(io, srcFacts, false, srcAlign, method === 'copy' ? direct : 'never')
  let out: OpenFile
  try {
    out = openForJob(io, destFacts, true, destAlign, method === 'copy' ? direct : 'never')
  } catch (err) {
    closeFile(io, src)
    throw err
  }
  const starts: number[] = []
  plan.taskBytes.reduce((at, n) => (starts.push(at), at + n), 0)
  const work = (level: VerifyLevel): WorkPlan => {
    const barrier = plan.order === 'any' ? null : new SharedArrayBuffer(4 * (1 + plan.tasks.length))
    return {
      count: plan.tasks.length,
      extent: (i) => ({ offset: starts[i] ?? 0, length: plan.taskBytes[i] ?? 0 }),
      // A task that never ran will never write: later tasks need not wait for its reads.
      ...(barrier ? { abandon: (i: number) => markRead(new Int32Array(barrier), i) } : {}),
      task: (i) => ({
        kind: 'ranges', chunkIndex: i, lengthBytes: plan.taskBytes[i] ?? 0, src: fileRef(src), dest: fileRef(out),
        pieces: plan.tasks[i] ?? [], method, verify: method === 'clone' ? 0 : level, readBarrier: barrier,
      }),
    }
  }
  return {
    kind: 'replicate', source: src, srcOffset: 0, dests: [out], destOffsets: [0], totalBytes: plan.totalBytes,
    chunkBytes, verify: method === 'clone' ? 'none' : verify, ignoreErrors: o.ignoreErrors === true, sequentialWrites: false, work, method,
    destSpans: method === 'clone' ? [] : checked.map((r) => ({ offset: r.dstOffset, length: r.length })),
    ...(o.signal ? { signal: o.signal } : {}),
    ...(o.notify ? { notify: o.notify } : {}),
    ...('context' in o ? { context: o.context } : {}),
  }
}
