import { BlockcopyError } from './errors.js'
import type { NotifyFn, VerifyMode } from './job.js'
import type { Manifest } from './hash/manifest.js'
import { checkChunkBytes, checkDirectMode, type ClientSettings } from './options.js'
import { checkByteCount, type DirectMode } from './files/regions.js'

/*
 * The options of a copy or zero job as the caller gives them, and the one
 * place that checks them and applies their defaults (the client's settings
 * for chunk size and direct mode).
 */

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
   * a file beside the source kept between runs (src/incremental/baseline.ts).
   * Each run clones the source and copies from the clone; chunks whose
   * extents the last run's clone shares are not read at all. PATH.json binds
   * it to the manifest. NO_SUPPORT where the source cannot be cloned.
   */
  baseline?: string
  /**
   * @deprecated The old name of `baseline`, kept for this release: it warns
   * once (DeprecationWarning BLOCKCOPY_DEP_CHECKPOINT); giving both is
   * INVALID_ARGUMENT.
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

/** What every job kind takes from its caller besides its data: an AbortSignal, a kcopyd notify, its context. */
export interface CallerHooks {
  signal?: AbortSignal
  notify?: NotifyFn
  context?: unknown
}

/**
 * The caller's hooks, checked and copied without the absent ones: one
 * check for every job kind, so none forgets one (replicate once took any
 * `signal` and failed later, when it was used).
 */
export function callerHooks(o: CallerHooks): CallerHooks {
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) {
    throw new BlockcopyError('INVALID_ARGUMENT', 'signal: must be an AbortSignal', 'signal')
  }
  if (o.notify !== undefined && typeof o.notify !== 'function') {
    throw new BlockcopyError('INVALID_ARGUMENT', 'notify: must be a function (readErr, writeErr, context)', 'notify')
  }
  return {
    ...(o.signal ? { signal: o.signal } : {}),
    ...(o.notify ? { notify: o.notify } : {}),
    ...('context' in o ? { context: o.context } : {}),
  }
}

function common(o: CopyOptions, s: ClientSettings, verify: VerifyMode): CheckedOptions {
  const hooks = callerHooks(o)
  return {
    verify,
    ignoreErrors: flag(o.ignoreErrors, 'ignoreErrors'),
    sequentialWrites: flag(o.sequentialWrites, 'sequentialWrites'),
    sparse: sparseMode(o.sparse),
    chunkBytes: checkChunkBytes(o.chunkBytes ?? s.chunkBytes, 'chunkBytes', s.bufferBytes),
    direct: checkDirectMode(o.direct ?? s.direct, 'direct'),
    ...hooks,
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
  for (const copyOnly of ['sequentialWrites', 'sparse', 'since', 'force', 'checkDest', 'baseline', 'checkpoint', 'beforeWrite', 'map', 'mapIntervalMs', 'retryBad', 'fillBad', 'timing']) {
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
