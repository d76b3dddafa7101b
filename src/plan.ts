import { BlockcopyError } from './errors.js'
import type { IoBackend } from './io/types.js'
import type { JobSpec, NotifyFn, VerifyMode } from './job.js'
import { checkChunkCount } from './scheduler.js'
import type { Manifest } from './verify/manifest.js'
import { checkChunkBytes, checkDirectMode, MAX_DESTINATIONS, type ClientSettings } from './options.js'
import {
  checkByteCount, checkNoOverlap, checkWritable, closeFile, inspectPath, openForJob, probeDirect, removeCreated,
  type DirectMode, type OpenFile, type PathFacts, type Region,
} from './regions.js'

/** Options of one copy job. */
export interface CopyOptions {
  /** Default 'none'. */
  verify?: VerifyMode
  /** Go on past errors and list every failed range. Default false: the first error stops new chunks. */
  ignoreErrors?: boolean
  /** Write chunks strictly in order. Default false. */
  sequentialWrites?: boolean
  /**
   * Holes in the destinations (`holeBytes` in the result says how many bytes
   * were not written); every destination reads back byte for byte as the
   * source whatever the mode.
   * - 'auto' (the default; as cp --sparse=auto): the source's holes
   *   (SEEK_HOLE) are not written where a destination file is a hole
   *   already: a file the job creates, or the part past an existing file's
   *   end, which the job extends with ftruncate. Elsewhere (an existing
   *   file's bytes, a device) they are written as zeros. Only the source's
   *   data is preallocated there.
   * - 'always' (or true): every all-zero run of at least 64 KiB, source
   *   holes included, is left as a hole on every destination: punched out
   *   of files, unmapped on devices that guarantee zeros, else zeroed out
   *   (BLKZEROOUT); nothing is preallocated.
   * - 'never' (or false): every byte is written and file destinations are
   *   preallocated.
   */
  sparse?: SparseMode | boolean
  /**
   * Incremental copy: the manifest of the destination's last known state
   * (readManifest, or a previous copy's job.manifest). The whole source is
   * hashed in the manifest's chunks and only chunks whose digest differs are
   * written; the job's `manifest` is the new one. The destination is first
   * checked against it (size, a sample of chunks): MANIFEST_MISMATCH if it
   * is in another state, and nothing is written.
   */
  since?: Manifest
  /**
   * With `since`: a destination not in the manifest's state gets every chunk
   * written instead of refused (with `checkDest`: the chunks where the source
   * differs from what the destination holds). With `map`: a map made for another source
   * (MAP_MISMATCH, src/journal/source-check.ts) is resumed as it is.
   */
  force?: boolean
  /**
   * With `since`, for a manifest that cannot be trusted: hash the whole
   * destination against it (through the workers, O_DIRECT where possible)
   * before writing, instead of a sample. A chunk not as the manifest records
   * is MANIFEST_MISMATCH naming the ranges, nothing written; with `force`,
   * the chunks are compared with what the destination really holds, so
   * exactly those where the source differs are written.
   */
  checkDest?: boolean
  /**
   * With `since`, on a file system that clones (XFS with reflink, btrfs):
   * a file beside the source kept between runs (src/verify/checkpoint.ts).
   * Each run clones the source and copies from the clone; chunks whose
   * extents the last run's clone shares are not read at all. PATH.json binds
   * it to the manifest. NO_SUPPORT where the source cannot be cloned.
   */
  checkpoint?: string
  /**
   * Awaited once the checks before writing have passed (with `since`, the
   * destination's sample), before the first chunk is written; a throw fails
   * the job with nothing written. The place to record, durably, that a copy
   * is under way: the CLI stores `allUnknown(manifest)` here, so a run that
   * is killed leaves a manifest the next run trusts for no chunk.
   */
  beforeWrite?: () => Promise<void> | void
  /**
   * Resume map, GNU ddrescue's mapfile format (docs/resume.md): a path. A
   * missing file is started; an existing one is resumed, copying only what
   * it does not have as '+'. Saved atomically every `mapIntervalMs` while
   * the copy runs (a chunk is '+' only once every destination was synced
   * after it), and at the end. A map of another range is INVALID_ARGUMENT;
   * one of another source (its size, or the blocks it sampled of it) is
   * MAP_MISMATCH unless `force`. Locked (MAP.lock) for the job: a map
   * another job holds is INVALID_ARGUMENT. Not with `since`.
   */
  map?: string
  /** How often the map is synced and saved while the copy runs: 50 to 60000 ms. Default 1000. */
  mapIntervalMs?: number
  /**
   * With `map`: copy only the map's bad blocks ('-'), each read up to this
   * many times (1 to 100); blocks that read become '+', the rest stay '-'.
   */
  retryBad?: number
  /**
   * With `ignoreErrors` (or `retryBad`), a chunk whose read fails is read
   * again a logical block at a time: every readable block is copied and each
   * unreadable one reported (and '-' in the map) at its exact offset. Its
   * bytes on the destinations are left as they were ('keep', the default) or
   * zero-filled ('zero').
   */
  fillBad?: 'keep' | 'zero'
  /**
   * Time every chunk's read, hash, write and read-back, and the final sync:
   * `result.timing` has the busy time, throughput per worker and fio's
   * latency percentiles for each (what `blockcopy bench` reports).
   */
  timing?: boolean
  /** Default: the client's. */
  chunkBytes?: number
  /** Default: the client's. */
  direct?: DirectMode
  /** Aborting starts no new chunks; running ones finish and destinations are synced. */
  signal?: AbortSignal
  /** Called exactly once at completion, like kcopyd's notify function. */
  notify?: NotifyFn
  /** Handed back to `notify`. */
  context?: unknown
}

/** Options of one zero job. */
export interface ZeroOptions extends Omit<CopyOptions, 'verify' | 'sequentialWrites' | 'sparse' | 'since' | 'force' | 'checkDest' | 'beforeWrite' | 'map' | 'mapIntervalMs' | 'retryBad' | 'fillBad' | 'timing'> {
  /**
   * Bytes to zero on every destination; default the regions' lengths, or
   * the rest of an existing file. A block device has no default: zeroing it
   * to its end takes `all`.
   */
  length?: number
  /**
   * Zero every destination from its offset to its end. Required for a block
   * device given no length (its whole contents are at stake, so they are
   * never zeroed by default); for a file it is the default. Not with a length.
   */
  all?: boolean
  /** 'readback' reads every destination back and checks it is zero. Default 'none'. */
  verify?: 'none' | 'readback'
}

/** How a copy makes holes in its destinations (CopyOptions.sparse). */
export type SparseMode = 'auto' | 'always' | 'never'

/** Job options after defaults and checks. */
export interface CheckedOptions {
  verify: VerifyMode
  ignoreErrors: boolean
  sequentialWrites: boolean
  sparse: SparseMode
  chunkBytes: number
  direct: DirectMode
  length?: number
  /** Zero: to the end of every destination (ZeroOptions.all). */
  all?: boolean
  signal?: AbortSignal
  notify?: NotifyFn
  context?: unknown
}

function flag(value: unknown, argument: string): boolean {
  if (value === undefined) return false
  if (typeof value !== 'boolean') throw new BlockcopyError('INVALID_ARGUMENT', `${argument}: must be true or false`, argument)
  return value
}

/** The sparse option as a mode: true is 'always', false 'never', absent 'auto'. */
function sparseMode(value: unknown): SparseMode {
  if (value === undefined || value === 'auto') return 'auto'
  if (value === true || value === 'always') return 'always'
  if (value === false || value === 'never') return 'never'
  throw new BlockcopyError('INVALID_ARGUMENT', `sparse: must be 'auto', 'always' or 'never' (or true for 'always', false for 'never'), got ${String(value)}`, 'sparse')
}

function common(o: CopyOptions, s: ClientSettings, verify: VerifyMode): CheckedOptions {
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) {
    throw new BlockcopyError('INVALID_ARGUMENT', 'signal: must be an AbortSignal', 'signal')
  }
  if (o.notify !== undefined && typeof o.notify !== 'function') {
    throw new BlockcopyError('INVALID_ARGUMENT', 'notify: must be a function (readErr, writeErr, context)', 'notify')
  }
  return {
    verify,
    ignoreErrors: flag(o.ignoreErrors, 'ignoreErrors'),
    sequentialWrites: flag(o.sequentialWrites, 'sequentialWrites'),
    sparse: sparseMode(o.sparse),
    chunkBytes: checkChunkBytes(o.chunkBytes ?? s.chunkBytes, 'chunkBytes', s.bufferBytes),
    direct: checkDirectMode(o.direct ?? s.direct, 'direct'),
    ...(o.signal ? { signal: o.signal } : {}),
    ...(o.notify ? { notify: o.notify } : {}),
    ...('context' in o ? { context: o.context } : {}),
  }
}

export function copyOptions(o: CopyOptions, s: ClientSettings): CheckedOptions {
  const verify = o.verify ?? 'none'
  if (verify !== 'none' && verify !== 'hash' && verify !== 'readback') {
    throw new BlockcopyError('INVALID_ARGUMENT', `verify: must be 'none', 'hash' or 'readback', got ${String(verify)}`, 'verify')
  }
  flag(o.timing, 'timing')
  if (o.beforeWrite !== undefined && typeof o.beforeWrite !== 'function') {
    throw new BlockcopyError('INVALID_ARGUMENT', 'beforeWrite: must be a function', 'beforeWrite')
  }
  return common(o, s, verify)
}

export function zeroOptions(o: ZeroOptions, s: ClientSettings): CheckedOptions {
  const verify = o.verify ?? 'none'
  if (verify !== 'none' && verify !== 'readback') {
    throw new BlockcopyError('INVALID_ARGUMENT', `verify: zero takes 'none' or 'readback', got ${String(verify)}`, 'verify')
  }
  for (const copyOnly of ['sequentialWrites', 'sparse', 'since', 'force', 'checkDest', 'checkpoint', 'beforeWrite', 'map', 'mapIntervalMs', 'retryBad', 'fillBad', 'timing']) {
    if (copyOnly in o) throw new BlockcopyError('INVALID_ARGUMENT', `${copyOnly}: applies to copies only`, copyOnly)
  }
  const checked = common(o, s, verify)
  if (o.length !== undefined) checked.length = checkByteCount(o.length, 'length')
  if (flag(o.all, 'all')) {
    if (checked.length !== undefined) throw new BlockcopyError('INVALID_ARGUMENT', 'all: zeroes each destination to its end; give it or `length`, not both', 'all')
    checked.all = true
  }
  return checked
}

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
  // `check` may name another file to read in the source's place: a checkpoint's clone of it.
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
