// incremental/: copy --since: which chunks changed (since.ts), the result's incremental part, the destination check, and the reflink baseline (baseline.ts, extent-compare.ts).
import fs from 'node:fs'
import { randomInt } from 'node:crypto'
import { promisify } from 'node:util'
import { BlockcopyError, toSystemError } from '../errors.js'
import type { CopyResult, Extent, VerifyMode } from '../job.js'
import { alignUp } from '../io/align.js'
import type { IoBackend } from '../io/types.js'
import type { DigestBytes, FileRef } from '../protocol/protocol.js'
import { PAGE_BYTES, type Region } from '../files/regions.js'
import type { Baseline, BaselineName } from './baseline.js'
import { buildManifest, chunkDigest, chunkDigestBytes, isManifest, isUnknown, type Manifest } from '../hash/manifest.js'
import { createHasher } from '../hash/xxh3.js'

/**
 * Incremental copies (`copy --since MANIFEST`): the manifest is the
 * destination's last known state; the source is hashed chunk by chunk and
 * only chunks whose digest differs from the manifest's are written. Before
 * anything is written, the destination is checked against the manifest: its
 * size, and a sample of its chunks. A destination in another state than the
 * manifest describes is refused (MANIFEST_MISMATCH), unless forced, and
 * then every chunk is written: never a wrong incremental.
 *
 * Chunks the manifest marks unknown are always written and never sampled.
 * A run that does not fully succeed still yields a manifest of what the
 * destination now holds (manifestAfter): new digests where chunks reached
 * it, the old ones where nothing was written, and unknown where a write
 * may have been cut short, so the next run never skips a chunk wrongly.
 */

/** Chunks of the destination read and hashed before an incremental copy writes anything. */
export const SAMPLED_CHUNKS = 16

/** The incremental part of a copy job. */
export interface Since {
  manifest: Manifest
  /** The destination is not in the manifest's state and `force` was given: write every chunk. */
  writeAll: boolean
  /** Why writeAll was set (or, checked whole and forced, which chunks differed), for the result. */
  reason: string | null
  /** With a reflink baseline (`baseline`): the one this run copies from. */
  reflinkBaseline?: Baseline
  /** What the check before the copy read of the destination. */
  checked: DestChecked
  /**
   * Checked whole (checkDest): what the destination really holds, per
   * manifest chunk (unknown where it could not be read). Chunks are then
   * compared with this instead of the manifest, so exactly those where the
   * source differs from the destination are written.
   */
  baseline?: Manifest
}

/** The check of the destination before an incremental copy writes anything. */
export interface DestChecked {
  /** 'sample': a few chunks (SAMPLED_CHUNKS); 'whole': every chunk (checkDest); 'none': not checked, every chunk is written. */
  mode: 'sample' | 'whole' | 'none'
  /** Per manifest chunk, 1 where the check read the destination and found what the manifest records (or what the source holds). */
  found: Uint8Array
  /** Checked whole: the byte ranges of chunks not as the manifest records, unreadable ones included. */
  differing: Extent[]
}

/** What `since` changes in a copy's options, after checks. */
export interface SinceOptions {
  since: Since
  force: boolean
  /** Hash the whole destination against the manifest before writing, instead of a sample. */
  checkDest: boolean
  chunkBytes: number
  verify: VerifyMode
  /** The reflink baseline's path as given, and the option that gave it; checked when it is taken. */
  baseline: { path: unknown; name: BaselineName } | null
}

function bad(argument: string, message: string): BlockcopyError {
  return new BlockcopyError('INVALID_ARGUMENT', `${argument}: ${message}`, argument)
}

/** Checks `since` and `force` against the copy's other arguments; nothing is opened. */
export function sinceOptions(
  o: { since?: unknown; force?: unknown; checkDest?: unknown; baseline?: unknown; checkpoint?: unknown; chunkBytes?: unknown; verify?: unknown; map?: unknown }, from: Region, to: Region[],
): SinceOptions | null {
  const baseline = baselineOption(o)
  if (o.force !== undefined && typeof o.force !== 'boolean') throw bad('force', 'must be true or false')
  if (o.checkDest !== undefined && typeof o.checkDest !== 'boolean') throw bad('checkDest', 'must be true or false')
  if (o.since === undefined) {
    // With a map, force resumes one whose source does not match it (src/journal/source-check.ts).
    if (o.force && o.map === undefined) throw bad('force', 'only applies with `since` (an incremental copy) or `map` (a resume map)')
    if (o.checkDest) throw bad('checkDest', 'only applies with `since` (an incremental copy)')
    if (baseline) throw bad(baseline.name, 'only applies with `since` (an incremental copy)')
    return null
  }
  if (!isManifest(o.since)) throw bad('since', 'must be a manifest as readManifest() or a hash job returns it')
  const manifest = o.since
  if (!Array.isArray(to) || to.length !== 1) throw bad('since', 'an incremental copy has exactly one destination, the one the manifest describes')
  const whole = (from?.offset ?? 0) === 0 && (to[0]?.offset ?? 0) === 0 && from?.length === undefined && to[0]?.length === undefined
  if (!whole) throw bad('since', 'an incremental copy is of the whole source to offset 0 of the destination, as its manifest describes; give no offsets or length')
  if (o.chunkBytes !== undefined && o.chunkBytes !== manifest.chunkBytes) {
    throw bad('chunkBytes', `${String(o.chunkBytes)} differs from the manifest's chunk size, ${manifest.chunkBytes}; an incremental copy uses the manifest's chunks`)
  }
  // Digests are needed to know what changed; read-back stays if asked for.
  const verify: VerifyMode = o.verify === 'readback' ? 'readback' : 'hash'
  return {
    since: { manifest, writeAll: false, reason: null, checked: { mode: 'none', found: new Uint8Array(manifest.chunkCount), differing: [] } },
    force: o.force === true, checkDest: o.checkDest === true, chunkBytes: manifest.chunkBytes, verify, baseline,
  }
}

let warnedCheckpoint = false

/**
 * The reflink baseline's path and the option that gave it, null for none.
 * `checkpoint` is its name before this release, kept for one more: it
 * warns once per process (DeprecationWarning BLOCKCOPY_DEP_CHECKPOINT).
 */
function baselineOption(o: { baseline?: unknown; checkpoint?: unknown }): { path: unknown; name: BaselineName } | null {
  if (o.baseline !== undefined && o.checkpoint !== undefined) {
    throw bad('baseline', 'give `baseline` or `checkpoint` (its old name), not both')
  }
  if (o.baseline !== undefined) return { path: o.baseline, name: 'baseline' }
  if (o.checkpoint === undefined) return null
  if (!warnedCheckpoint) {
    warnedCheckpoint = true
    process.emitWarning('blockcopy: the `checkpoint` option is deprecated, use `baseline`; it will go in the next release', {
      type: 'DeprecationWarning', code: 'BLOCKCOPY_DEP_CHECKPOINT',
    })
  }
  return { path: o.checkpoint, name: 'checkpoint' }
}

/**
 * The destination's size against the manifest's (a file must have exactly
 * that size; a device at least). Refuses unless forced; forced, every chunk
 * will be written.
 */
export function checkDestSize(s: SinceOptions, dest: { path: string; exists: boolean; isBlockDevice: boolean; sizeBytes: number }): void {
  const m = s.since.manifest
  let why: string | null = null
  if (!dest.exists) why = `${dest.path} does not exist, but the manifest describes ${m.sizeBytes} bytes of it`
  else if (dest.isBlockDevice ? dest.sizeBytes < m.sizeBytes : dest.sizeBytes !== m.sizeBytes) {
    why = `${dest.path} has ${dest.sizeBytes} bytes, but the manifest describes ${m.sizeBytes}`
  }
  if (why === null) return
  if (!s.force) throw mismatch(why)
  s.since.writeAll = true
  s.since.reason = why
}

/** The refusal of a destination not in the manifest's state; `forced` says what force would do instead. */
export function mismatch(why: string, forced = '`force` copies every chunk'): BlockcopyError {
  return new BlockcopyError(
    'MANIFEST_MISMATCH',
    `since: ${why}: the destination is not in the state the manifest records, so an incremental copy would be wrong; nothing was written (${forced})`,
    'since',
  )
}

/**
 * Which chunks to sample: of the chunks the manifest knows, the first, the
 * last, and random others, at most SAMPLED_CHUNKS in all, ascending.
 */
export function sampleChunks(m: Manifest): number[] {
  const known: number[] = []
  for (let i = 0; i < m.chunkCount; i++) if (!isUnknown(m, i)) known.push(i)
  const picks = new Set<number>()
  if (known.length > 0) picks.add(0).add(known.length - 1)
  while (picks.size < Math.min(SAMPLED_CHUNKS, known.length)) picks.add(randomInt(known.length))
  return [...picks].sort((a, b) => a - b).map((k) => known[k] as number)
}

const read = promisify(fs.read)

/** A file the sample check reads: a block device with direct I/O on is read with it, never from its page cache. */
type Sampled = Pick<FileRef, 'path' | 'fd' | 'directFd' | 'alignBytes' | 'uncachedEdges'>

/**
 * Reads [offset, +length) of `f` into buf (without blocking the thread). A
 * block device is read with O_DIRECT in whole alignment blocks (its page
 * cache is stale when the device changed beneath this host, as in
 * src/chunk/ranged-io.ts): buf is then aligned and long enough.
 */
async function readChunk(f: Sampled, buf: Buffer, offset: number, length: number): Promise<Buffer> {
  const direct = f.uncachedEdges && f.directFd >= 0
  const fd = direct ? f.directFd : f.fd
  const want = direct ? alignUp(length, f.alignBytes) : length
  let done = 0
  try {
    while (done < want) {
      const { bytesRead } = await read(fd, buf, done, want - done, offset + done)
      if (bytesRead === 0) break
      done += bytesRead
    }
  } catch (err) {
    throw toSystemError(err, 'read', f.path)
  }
  return buf.subarray(0, Math.min(done, length))
}

/**
 * Digests of manifest chunks of a file, read on this thread (without
 * blocking it) through the job's own descriptors: nothing is opened here,
 * so nothing can leak.
 */
export async function chunkHasher(io: IoBackend, m: Manifest, files: Sampled[]): Promise<(f: Sampled, index: number) => Promise<string>> {
  const hasher = await createHasher(m.algo)
  const direct = files.some((f) => f.uncachedEdges && f.directFd >= 0)
  const buf = direct ? io.allocAligned(alignUp(m.chunkBytes, PAGE_BYTES), PAGE_BYTES) : Buffer.alloc(m.chunkBytes)
  return async (f, i) => {
    const offset = i * m.chunkBytes
    const bytes = await readChunk(f, buf, offset, Math.min(m.chunkBytes, m.sizeBytes - offset))
    hasher.init()
    hasher.update(bytes)
    return hasher.digest('hex')
  }
}

/**
 * Reads the sampled chunks of the destination and hashes them. A chunk
 * matches if it has the manifest's digest, or the source's (an earlier run
 * that failed part-way already wrote it). Refuses on the first one that
 * matches neither, unless forced; forced, every chunk will be written.
 */
export async function sampleCheck(s: SinceOptions, io: IoBackend, src: Sampled, dest: Sampled & { path: string }): Promise<void> {
  const m = s.since.manifest
  if (s.since.writeAll) return
  const digestOf = await chunkHasher(io, m, [src, dest])
  s.since.checked.mode = 'sample'
  for (const i of sampleChunks(m)) {
    const offset = i * m.chunkBytes
    const length = Math.min(m.chunkBytes, m.sizeBytes - offset)
    const want = chunkDigest(m, i)
    const now = await digestOf(dest, i)
    if (now === want || now === (await digestOf(src, i))) {
      s.since.checked.found[i] = 1
      continue
    }
    const why = `chunk ${i} of ${dest.path} (bytes ${offset}..${offset + length}) has digest ${now}, the manifest ${want}`
    if (!s.force) throw mismatch(why)
    s.since.writeAll = true
    s.since.reason = why
    return
  }
}

/** The digest a chunk of the destination had, or null when it must be written whatever the source holds. */
export function previousDigest(s: Since, chunkIndex: number, chunkOffset: number, chunkLength: number): DigestBytes | null {
  // Checked whole, what the destination holds; else what the manifest says it holds.
  const m = s.baseline ?? s.manifest
  if (s.writeAll || chunkIndex >= m.chunkCount || isUnknown(m, chunkIndex)) return null
  // A chunk the manifest has in another length (the source grew or shrank) is new.
  if (Math.min(m.chunkBytes, m.sizeBytes - chunkOffset) !== chunkLength) return null
  return chunkDigestBytes(m, chunkIndex)
}

/** Whether the destination's chunk holds what the manifest records, as far as this run knows (checked whole: by what it holds). */
export function holdsAsRecorded(s: { manifest: Manifest; baseline?: Manifest }, index: number): boolean {
  if (!s.baseline) return true
  return !isUnknown(s.baseline, index) && chunkDigest(s.baseline, index) === chunkDigest(s.manifest, index)
}

/**
 * The destination's manifest after an incremental copy that did not fully
 * succeed (cancelled, or failed part-way): chunks that reached it have the
 * source's digest; chunks nothing was written to (never started, or their
 * read failed before any write) keep the old manifest's digest; a chunk a
 * failure touched, or that the old manifest did not have in this length, is
 * unknown. It describes the source's size: the destination was set to it.
 */
export async function manifestAfter(r: CopyResult, old: Manifest): Promise<Manifest> {
  const size = r.totalBytes
  const cb = old.chunkBytes
  const fresh = new Map(r.chunks.map((c) => [c.offset, c.digest]))
  const inside = (off: number, len: number) => r.completed.some((e) => e.offset <= off && off + len <= e.offset + e.length)
  // DEST_STOPPED: the destination was skipped, nothing of the chunk was written.
  const touched = (off: number, len: number) => r.errors.some((e) => e.code !== 'DEST_STOPPED' && e.offset < off + len && off < e.offset + e.length)
  const digests: (string | null)[] = []
  for (let i = 0; i * cb < size; i++) {
    const off = i * cb
    const len = Math.min(cb, size - off)
    const now = fresh.get(off)
    if (now !== undefined && inside(off, len)) digests.push(now)
    else if (touched(off, len) || i >= old.chunkCount || isUnknown(old, i) || Math.min(cb, old.sizeBytes - off) !== len) digests.push(null)
    else digests.push(chunkDigest(old, i))
  }
  return buildManifest(old.algo, cb, size, digests)
}
