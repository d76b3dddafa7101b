import { BlockcopyError } from '../errors.js'
import type { IoBackend } from '../io/types.js'
import type { JobSpec } from '../job.js'
import { checkChunkCount } from '../scheduler.js'
import { MAX_DESTINATIONS } from '../options.js'
import type { CheckedOptions } from '../job-options.js'
import {
  checkByteCount, checkNoOverlap, checkWritable, closeFile, inspectPath, openForJob, probeDirect, removeCreated,
  type DirectMode, type OpenFile, type PathFacts, type Region,
} from './regions.js'

function checkDestCount(to: unknown): asserts to is Region[] {
  if (!Array.isArray(to) || to.length < 1 || to.length > MAX_DESTINATIONS) {
    const n = Array.isArray(to) ? to.length : 'none'
    throw new BlockcopyError('INVALID_ARGUMENT', `to: between 1 and ${MAX_DESTINATIONS} destinations, got ${n}`, 'to')
  }
}

interface Checked {
  facts: PathFacts
  offset: number
  length: number
  argument: string
}

function checkDevice(c: Checked): void {
  if (c.offset + c.length > Number.MAX_SAFE_INTEGER) {
    throw new BlockcopyError('INVALID_ARGUMENT', `${c.argument}: bytes ${c.offset}.. plus ${c.length} pass 2^53, the largest offset blockcopy handles exactly`, c.argument)
  }
  if (c.facts.isBlockDevice && c.offset + c.length > c.facts.sizeBytes) {
    throw new BlockcopyError(
      'INVALID_ARGUMENT',
      `${c.argument}: bytes ${c.offset}..${c.offset + c.length} pass the end of device ${c.facts.path} (${c.facts.sizeBytes} bytes)`,
      c.argument,
    )
  }
}

/**
 * Opens everything, or nothing: on failure, what was opened is closed again
 * and the files this call created are removed, so rejected input leaves none behind.
 */
function openAll(io: IoBackend, items: Array<{ facts: PathFacts; write: boolean; align: number }>, mode: DirectMode): OpenFile[] {
  const opened: OpenFile[] = []
  try {
    const claimed = new Set<string>()
    for (const it of items) {
      // One exclusive claim per device: a second O_EXCL open would be EBUSY.
      const claim = it.write && !claimed.has(it.facts.identity)
      if (claim) claimed.add(it.facts.identity)
      opened.push(openForJob(io, it.facts, it.write, it.align, mode, claim))
    }
    return opened
  } catch (err) {
    for (const f of opened) {
      closeFile(io, f)
      if (f.created) removeCreated(f.path)
    }
    throw err
  }
}

/**
 * Checks a copy's regions against the files as they are, then opens them
 * (creating missing destinations). Every check runs before the first
 * file is created.
 */
/** What openCopy has checked, for a caller's own checks before anything is opened or created. */
export interface CopyFacts {
  source: PathFacts
  srcOffset: number
  length: number
  dests: Array<{ facts: PathFacts; offset: number }>
}

export function openCopy(io: IoBackend, from: Region, to: Region[], o: CheckedOptions, check?: (c: CopyFacts) => PathFacts | void): JobSpec {
  if (typeof from !== 'object' || from === null) throw new BlockcopyError('INVALID_ARGUMENT', 'from: a region { path, offset, length } is required', 'from')
  checkDestCount(to)
  const srcOffset = checkByteCount(from.offset ?? 0, 'from.offset')
  const srcFacts = inspectPath(io, from.path, 'from.path', false)
  if (srcOffset > srcFacts.sizeBytes) {
    throw new BlockcopyError('INVALID_ARGUMENT', `from.offset: ${srcOffset} is past the end of ${from.path} (${srcFacts.sizeBytes} bytes)`, 'from.offset')
  }
  const length = from.length === undefined ? srcFacts.sizeBytes - srcOffset : checkByteCount(from.length, 'from.length')
  if (srcOffset + length > srcFacts.sizeBytes) {
    throw new BlockcopyError(
      'INVALID_ARGUMENT',
      `from.length: bytes ${srcOffset}..${srcOffset + length} pass the end of ${from.path} (${srcFacts.sizeBytes} bytes)`,
      'from.length',
    )
  }
  checkChunkCount(length, o.chunkBytes, 'from.length')
  const source: Checked = { facts: srcFacts, offset: srcOffset, length, argument: 'from' }
  const dests = to.map((r, i): Checked => {
    if (typeof r !== 'object' || r === null) throw new BlockcopyError('INVALID_ARGUMENT', `to[${i}]: a region { path, offset } is required`, `to[${i}]`)
    const offset = checkByteCount(r.offset ?? 0, `to[${i}].offset`)
    if (r.length !== undefined && r.length !== length) {
      throw new BlockcopyError('INVALID_ARGUMENT', `to[${i}].length: must equal the source length ${length}, got ${String(r.length)}`, `to[${i}].length`)
    }
    const c = { facts: inspectPath(io, r.path, `to[${i}].path`, true), offset, length, argument: `to[${i}]` }
    checkDevice(c)
    return c
  })
  dests.forEach((d, i) => {
    checkWritable(d.facts, `${d.argument}.path`)
    checkNoOverlap(source, d, 'a destination may not overlap its source')
    for (const e of dests.slice(0, i)) checkNoOverlap(e, d, 'destinations may not overlap each other')
  })
  // `check` may name another file to read in the source's place: a reflink baseline's clone of it.
  const read = check?.({ source: srcFacts, srcOffset, length, dests: dests.map((d) => ({ facts: d.facts, offset: d.offset })) }) ?? srcFacts
  const srcAlign = probeDirect(io, read, o.direct, 'from.path')
  const aligns = dests.map((d) => probeDirect(io, d.facts, o.direct, `${d.argument}.path`))
  const [src, ...outs] = openAll(io, [
    { facts: read, write: false, align: srcAlign },
    ...dests.map((d, i) => ({ facts: d.facts, write: true, align: aligns[i] ?? 0 })),
  ], o.direct)
  return {
    kind: 'copy', source: src ?? null, srcOffset, dests: outs, destOffsets: dests.map((d) => d.offset), totalBytes: length, ...jobFlags(o),
    // Holes are asked for with SEEK_DATA, which a device answers with "all data".
    srcHoles: !srcFacts.isBlockDevice,
    // A device source has no holes for 'auto' to keep: it is a plain copy.
    sparse: o.sparse === 'always' || (o.sparse === 'auto' && !srcFacts.isBlockDevice)
      ? { mode: o.sparse, holeFromBytes: outs.map((d, i) => holeFrom(d, dests[i]?.offset ?? 0)) } : null,
  }
}

/**
 * The first byte of a destination's range that is a hole before the job
 * writes anything: where a file ends now, since the job extends it with
 * ftruncate (src/job.ts); -1 for a device, which has no holes to rely on.
 */
function holeFrom(d: OpenFile, offset: number): number {
  return d.isBlockDevice ? -1 : Math.max(offset, d.sizeBytes)
}

/** Checks a zero job's regions, then opens them (creating missing destinations). */
export function openZero(io: IoBackend, to: Region[], o: CheckedOptions): JobSpec {
  checkDestCount(to)
  const dests = to.map((r, i): Checked => {
    if (typeof r !== 'object' || r === null) throw new BlockcopyError('INVALID_ARGUMENT', `to[${i}]: a region { path, offset, length } is required`, `to[${i}]`)
    const offset = checkByteCount(r.offset ?? 0, `to[${i}].offset`)
    const facts = inspectPath(io, r.path, `to[${i}].path`, true)
    if (o.length !== undefined && r.length !== undefined && r.length !== o.length) {
      throw new BlockcopyError('INVALID_ARGUMENT', `to[${i}].length: ${String(r.length)} differs from the length option ${o.length}`, `to[${i}].length`)
    }
    if (o.all && r.length !== undefined) {
      throw new BlockcopyError('INVALID_ARGUMENT', `to[${i}].length: ${String(r.length)} given with \`all\`, which zeroes to the end; give one or the other`, `to[${i}].length`)
    }
    let length = o.length ?? (r.length === undefined ? undefined : checkByteCount(r.length, `to[${i}].length`))
    if (length === undefined) {
      if (!facts.exists) throw new BlockcopyError('INVALID_ARGUMENT', `to[${i}].length: required, since ${r.path} does not exist yet`, `to[${i}].length`)
      if (offset > facts.sizeBytes) throw new BlockcopyError('INVALID_ARGUMENT', `to[${i}].offset: ${offset} is past the end of ${r.path} (${facts.sizeBytes} bytes)`, `to[${i}].offset`)
      // A whole device is never zeroed by default: a forgotten length would wipe it.
      if (facts.isBlockDevice && !o.all) {
        throw new BlockcopyError(
          'INVALID_ARGUMENT',
          `to[${i}]: ${r.path} is a block device; zeroing it to its end (${facts.sizeBytes - offset} bytes from offset ${offset}) takes \`all: true\`, or give a \`length\``,
          `to[${i}]`,
        )
      }
      length = facts.sizeBytes - offset
    }
    const c = { facts, offset, length, argument: `to[${i}]` }
    checkDevice(c)
    return c
  })
  const first = dests[0] as Checked
  checkChunkCount(first.length, o.chunkBytes, 'length')
  dests.forEach((d, i) => {
    checkWritable(d.facts, `${d.argument}.path`)
    if (d.length !== first.length) {
      throw new BlockcopyError('INVALID_ARGUMENT', `to[${i}].length: every destination zeroes the same length (${first.length}), got ${d.length}`, `to[${i}].length`)
    }
    for (const e of dests.slice(0, i)) checkNoOverlap(e, d, 'destinations may not overlap each other')
  })
  const aligns = dests.map((d) => probeDirect(io, d.facts, o.direct, `${d.argument}.path`))
  const outs = openAll(io, dests.map((d, i) => ({ facts: d.facts, write: true, align: aligns[i] ?? 0 })), o.direct)
  return {
    kind: 'zero', source: null, srcOffset: 0, dests: outs, destOffsets: dests.map((d) => d.offset), totalBytes: first.length, ...jobFlags(o),
  }
}

function jobFlags(o: CheckedOptions) {
  return {
    chunkBytes: o.chunkBytes,
    verify: o.verify,
    ignoreErrors: o.ignoreErrors,
    sequentialWrites: o.sequentialWrites,
    ...(o.signal ? { signal: o.signal } : {}),
    ...(o.notify ? { notify: o.notify } : {}),
    ...('context' in o ? { context: o.context } : {}),
  }
}
