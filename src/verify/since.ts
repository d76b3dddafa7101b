import fs from 'node:fs'
import { randomInt } from 'node:crypto'
import { BlockcopyError } from '../errors.js'
import type { VerifyMode } from '../job.js'
import type { Region } from '../regions.js'
import { chunkDigest, type Manifest } from './manifest.js'
import { createHasher, DIGEST_BYTES } from './xxh3.js'

/**
 * Incremental copies (`copy --since MANIFEST`): the manifest is the
 * destination's last known state; the source is hashed chunk by chunk and
 * only chunks whose digest differs from the manifest's are written. Before
 * anything is written, the destination is checked against the manifest: its
 * size, and a sample of its chunks. A destination in another state than the
 * manifest describes is refused (MANIFEST_MISMATCH), unless forced, and
 * then every chunk is written: never a wrong incremental.
 */

/** Chunks of the destination read and hashed before an incremental copy writes anything. */
export const SAMPLED_CHUNKS = 16

/** The incremental part of a copy job. */
export interface Since {
  manifest: Manifest
  /** The destination is not in the manifest's state and `force` was given: write every chunk. */
  writeAll: boolean
  /** Why writeAll was set, for the result. */
  reason: string | null
}

/** What `since` changes in a copy's options, after checks. */
export interface SinceOptions {
  since: Since
  force: boolean
  chunkBytes: number
  verify: VerifyMode
}

function bad(argument: string, message: string): BlockcopyError {
  return new BlockcopyError('INVALID_ARGUMENT', `${argument}: ${message}`, argument)
}

/** Checks `since` and `force` against the copy's other arguments; nothing is opened. */
export function sinceOptions(
  o: { since?: unknown; force?: unknown; chunkBytes?: unknown; verify?: unknown }, from: Region, to: Region[],
): SinceOptions | null {
  if (o.force !== undefined && typeof o.force !== 'boolean') throw bad('force', 'must be true or false')
  if (o.since === undefined) {
    if (o.force) throw bad('force', 'only applies with since (an incremental copy)')
    return null
  }
  const m = o.since as Partial<Manifest> | null
  const algo = m?.algo
  const shaped = typeof m === 'object' && m !== null && (algo === 'xxh3' || algo === 'xxh128') &&
    Number.isSafeInteger(m.chunkBytes) && Number.isSafeInteger(m.sizeBytes) && Number.isSafeInteger(m.chunkCount) &&
    Buffer.isBuffer(m.digests) && m.digests.length === (m.chunkCount ?? 0) * DIGEST_BYTES[algo] &&
    m.chunkCount === Math.ceil((m.sizeBytes ?? 0) / (m.chunkBytes ?? 1))
  if (!shaped) throw bad('since', 'must be a manifest as readManifest() or a hash job returns it')
  const manifest = m as Manifest
  if (!Array.isArray(to) || to.length !== 1) throw bad('since', 'an incremental copy has exactly one destination, the one the manifest describes')
  const whole = (from?.offset ?? 0) === 0 && (to[0]?.offset ?? 0) === 0 && from?.length === undefined && to[0]?.length === undefined
  if (!whole) throw bad('since', 'an incremental copy is of the whole source to offset 0 of the destination, as its manifest describes; give no offsets or length')
  if (o.chunkBytes !== undefined && o.chunkBytes !== manifest.chunkBytes) {
    throw bad('chunkBytes', `${String(o.chunkBytes)} differs from the manifest's chunk size, ${manifest.chunkBytes}; an incremental copy uses the manifest's chunks`)
  }
  // Digests are needed to know what changed; read-back stays if asked for.
  const verify: VerifyMode = o.verify === 'readback' ? 'readback' : 'hash'
  return { since: { manifest, writeAll: false, reason: null }, force: o.force === true, chunkBytes: manifest.chunkBytes, verify }
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

function mismatch(why: string): BlockcopyError {
  return new BlockcopyError(
    'MANIFEST_MISMATCH',
    `since: ${why}: the destination is not in the state the manifest records, so an incremental copy would be wrong; nothing was written (force copies every chunk)`,
    'since',
  )
}

/** Which chunks to sample: the first, the last, and random others, at most SAMPLED_CHUNKS in all, ascending. */
export function sampleChunks(chunkCount: number): number[] {
  const picks = new Set<number>()
  if (chunkCount > 0) picks.add(0).add(chunkCount - 1)
  while (picks.size < Math.min(SAMPLED_CHUNKS, chunkCount)) picks.add(randomInt(chunkCount))
  return [...picks].sort((a, b) => a - b)
}

async function readChunk(fh: fs.promises.FileHandle, buf: Buffer, offset: number, length: number): Promise<Buffer> {
  let done = 0
  while (done < length) {
    const { bytesRead } = await fh.read(buf, done, length - done, offset + done)
    if (bytesRead === 0) break
    done += bytesRead
  }
  return buf.subarray(0, done)
}

/**
 * Reads the sampled chunks of the destination and hashes them. A chunk
 * matches if it has the manifest's digest, or the source's (an earlier run
 * that failed part-way already wrote it). Refuses on the first one that
 * matches neither, unless forced; forced, every chunk will be written.
 */
export async function sampleCheck(s: SinceOptions, srcPath: string, destPath: string): Promise<void> {
  const m = s.since.manifest
  if (s.since.writeAll) return
  const hasher = await createHasher(m.algo)
  const digest = (b: Buffer) => {
    hasher.init()
    hasher.update(b)
    return hasher.digest('hex')
  }
  const buf = Buffer.alloc(m.chunkBytes)
  const dst = await fs.promises.open(destPath, 'r')
  const src = await fs.promises.open(srcPath, 'r')
  try {
    for (const i of sampleChunks(m.chunkCount)) {
      const offset = i * m.chunkBytes
      const length = Math.min(m.chunkBytes, m.sizeBytes - offset)
      const want = chunkDigest(m, i)
      const now = digest(await readChunk(dst, buf, offset, length))
      if (now === want) continue
      if (now === digest(await readChunk(src, buf, offset, length))) continue
      const why = `chunk ${i} of ${destPath} (bytes ${offset}..${offset + length}) has digest ${now}, the manifest ${want}`
      if (!s.force) throw mismatch(why)
      s.since.writeAll = true
      s.since.reason = why
      return
    }
  } finally {
    await dst.close()
    await src.close()
  }
}

/** The digest a chunk of the destination had, or null when it must be written whatever the source holds. */
export function previousDigest(s: Since, chunkIndex: number, chunkOffset: number, chunkLength: number): string | null {
  const m = s.manifest
  if (s.writeAll || chunkIndex >= m.chunkCount) return null
  // A chunk the manifest has in another length (the source grew or shrank) is new.
  if (Math.min(m.chunkBytes, m.sizeBytes - chunkOffset) !== chunkLength) return null
  return chunkDigest(m, chunkIndex)
}
