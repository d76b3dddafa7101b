import fs from 'node:fs'
import { BlockcopyError, toSystemError } from '../errors.js'
import { writeFileDurably } from '../io/durable.js'
import { quoted } from '../quote.js'
import type { DigestBytes, HashAlgo } from '../protocol/protocol.js'
import { createHasher, DIGEST_BYTES } from './xxh3.js'

/**
 * The chunk manifest of a file or device, and its file format (docs/manifest.md).
 *
 * Format version 1, all integers little-endian:
 *
 *   0   8  magic 'BCMANIF\0'
 *   8   2  format version (u16) = 1, or 2 when some chunks are unknown
 *   10  1  algorithm id (u8): 1 xxh3-64, 2 xxh128
 *   11  1  digest bytes (u8): 8 or 16, as the algorithm says
 *   12  4  version 1: reserved (u32) = 0; version 2: flags (u32) = 1
 *   16  8  chunk bytes (u64)
 *   24  8  size in bytes (u64)
 *   32  8  chunk count (u64) = ceil(size / chunk bytes)
 *   40  16 root digest, canonical (big-endian) bytes, zero-padded to 16
 *   56  N × digest bytes: the chunk digests, canonical bytes, in chunk order
 *   (version 2) ceil(N / 8) bytes: the unknown-chunk bitmap, chunk i at
 *      bit i % 8 of byte i / 8; an unknown chunk's digest bytes are zero
 *   end 8  xxh3-64 of every byte before it, canonical bytes
 *
 * An unknown chunk is one whose content the manifest cannot vouch for: an
 * incremental copy that failed part-way may have written part of it, and a
 * copy in progress marks every chunk unknown until it ends. Such a chunk is
 * always written by the next incremental copy, and a manifest with any is
 * refused by verify. Manifests without any are written as version 1.
 *
 * Chunk i covers bytes [i × chunk, min(size, (i + 1) × chunk)). The root is
 * the algorithm over the packed chunk digests exactly as stored (a one-level
 * hash tree): chunks are hashed in parallel, the root over N × 8 or 16 bytes.
 */

export const MANIFEST_MAGIC = Buffer.from('BCMANIF\0', 'latin1')
/** The version a manifest without unknown chunks is written in. */
export const MANIFEST_VERSION = 1
/** The version a manifest with unknown chunks is written in (version 1 plus the bitmap). */
const UNKNOWN_VERSION = 2
const FLAG_UNKNOWN = 1
const HEADER_BYTES = 56
const CHECKSUM_BYTES = 8
const ALGO_IDS: Record<HashAlgo, number> = { xxh3: 1, xxh128: 2 }
const ALGO_BY_ID: Record<number, HashAlgo> = { 1: 'xxh3', 2: 'xxh128' }

/** One file's or device's chunk digests, and the root over them. */
export interface Manifest {
  algo: HashAlgo
  chunkBytes: number
  sizeBytes: number
  /** ceil(sizeBytes / chunkBytes); 0 for an empty file. */
  chunkCount: number
  /** 8 for xxh3, 16 for xxh128. */
  digestBytes: number
  /** The chunk digests packed end to end, digestBytes each, canonical (big-endian, xxhsum) byte order. */
  digests: Buffer
  /** The algorithm over `digests`, lowercase hex. */
  root: string
  /**
   * Chunks whose content is unknown (a failed or unfinished incremental
   * copy may have written them): bit i % 8 of byte i / 8, ceil(chunkCount / 8)
   * bytes. Absent when every chunk is known.
   */
  unknown?: Buffer
}

async function digestHex(algo: HashAlgo, data: Uint8Array): Promise<string> {
  const h = await createHasher(algo)
  h.init()
  h.update(data)
  return h.digest('hex')
}

/** Chunk i's digest as lowercase hex. */
export function chunkDigest(m: Manifest, index: number): string {
  return m.digests.subarray(index * m.digestBytes, (index + 1) * m.digestBytes).toString('hex')
}

/** Chunk i's digest as bytes, copied out of the manifest (a task sent to a worker must not carry all of it). */
export function chunkDigestBytes(m: Manifest, index: number): DigestBytes {
  return new Uint8Array(m.digests.subarray(index * m.digestBytes, (index + 1) * m.digestBytes))
}

/**
 * Has `m` the shape of a Manifest (as readManifest or a hash job returns
 * it): a known algorithm, whole numbers that agree, digests and (if any)
 * the unknown-chunk bitmap of the right lengths. For arguments of the API.
 */
export function isManifest(m: unknown): m is Manifest {
  const o = m as Partial<Manifest> | null
  const algo = o?.algo
  return typeof o === 'object' && o !== null && (algo === 'xxh3' || algo === 'xxh128') &&
    Number.isSafeInteger(o.chunkBytes) && Number.isSafeInteger(o.sizeBytes) && Number.isSafeInteger(o.chunkCount) &&
    Buffer.isBuffer(o.digests) && o.digests.length === (o.chunkCount ?? 0) * DIGEST_BYTES[algo] &&
    o.chunkCount === Math.ceil((o.sizeBytes ?? 0) / (o.chunkBytes ?? 1)) &&
    (o.unknown === undefined || (Buffer.isBuffer(o.unknown) && o.unknown.length === Math.ceil((o.chunkCount ?? 0) / 8)))
}

/** Is chunk i's content unknown (see Manifest.unknown)? */
export function isUnknown(m: Manifest, index: number): boolean {
  return m.unknown !== undefined && ((m.unknown[index >> 3] ?? 0) & (1 << (index & 7))) !== 0
}

/** How many chunks are unknown. */
export function unknownCount(m: Manifest): number {
  let n = 0
  for (let i = 0; i < m.chunkCount; i++) if (isUnknown(m, i)) n++
  return n
}

/**
 * A manifest from hex chunk digests in chunk order, null for a chunk whose
 * content is unknown; computes the root.
 */
export async function buildManifest(
  algo: HashAlgo, chunkBytes: number, sizeBytes: number, hexDigests: readonly (string | null)[],
): Promise<Manifest> {
  const digestBytes = DIGEST_BYTES[algo]
  const digests = Buffer.alloc(hexDigests.length * digestBytes)
  const unknown = Buffer.alloc(Math.ceil(hexDigests.length / 8))
  hexDigests.forEach((hex, i) => {
    if (hex === null) unknown[i >> 3] = (unknown[i >> 3] ?? 0) | (1 << (i & 7))
    else digests.write(hex.padStart(digestBytes * 2, '0'), i * digestBytes, digestBytes, 'hex')
  })
  const m: Manifest = { algo, chunkBytes, sizeBytes, chunkCount: hexDigests.length, digestBytes, digests, root: await digestHex(algo, digests) }
  if (unknown.some((b) => b !== 0)) m.unknown = unknown
  checkShape(m, (why) => new BlockcopyError('INVALID_ARGUMENT', `manifest: ${why}`, 'manifest'))
  return m
}

/**
 * The manifest with every chunk unknown: what an incremental copy records
 * before it writes anything, so that a run killed part-way leaves a manifest
 * the next run cannot trust for any chunk (it then writes them all).
 */
export async function allUnknown(m: Manifest): Promise<Manifest> {
  return buildManifest(m.algo, m.chunkBytes, m.sizeBytes, Array.from({ length: m.chunkCount }, () => null))
}

function checkShape(m: Omit<Manifest, 'digests' | 'root'>, fail: (why: string) => Error): void {
  if (!Number.isSafeInteger(m.chunkBytes) || m.chunkBytes <= 0) throw fail(`chunk size ${m.chunkBytes} is not a positive whole number of bytes`)
  if (!Number.isSafeInteger(m.sizeBytes) || m.sizeBytes < 0) throw fail(`size ${m.sizeBytes} is not a whole number of bytes`)
  const want = Math.ceil(m.sizeBytes / m.chunkBytes)
  if (m.chunkCount !== want) throw fail(`${m.chunkCount} chunks for ${m.sizeBytes} bytes in chunks of ${m.chunkBytes}; expected ${want}`)
}

/** The manifest file's bytes (format version 1, or 2 with unknown chunks). */
export async function encodeManifest(m: Manifest): Promise<Buffer> {
  checkShape(m, (why) => new BlockcopyError('INVALID_ARGUMENT', `manifest: ${why}`, 'manifest'))
  if (m.digestBytes !== DIGEST_BYTES[m.algo] || m.digests.length !== m.chunkCount * m.digestBytes) {
    throw new BlockcopyError('INVALID_ARGUMENT', `manifest: ${m.chunkCount} ${m.algo} digests need ${m.chunkCount * DIGEST_BYTES[m.algo]} bytes, got ${m.digests.length}`, 'manifest')
  }
  const bitmap = m.unknown && unknownCount(m) > 0 ? m.unknown : null
  if (bitmap && bitmap.length !== Math.ceil(m.chunkCount / 8)) {
    throw new BlockcopyError('INVALID_ARGUMENT', `manifest: the unknown-chunk bitmap of ${m.chunkCount} chunks needs ${Math.ceil(m.chunkCount / 8)} bytes, got ${bitmap.length}`, 'manifest')
  }
  const out = Buffer.alloc(HEADER_BYTES + m.digests.length + (bitmap?.length ?? 0) + CHECKSUM_BYTES)
  MANIFEST_MAGIC.copy(out, 0)
  out.writeUInt16LE(bitmap ? UNKNOWN_VERSION : MANIFEST_VERSION, 8)
  out.writeUInt8(ALGO_IDS[m.algo], 10)
  out.writeUInt8(m.digestBytes, 11)
  if (bitmap) out.writeUInt32LE(FLAG_UNKNOWN, 12)
  out.writeBigUInt64LE(BigInt(m.chunkBytes), 16)
  out.writeBigUInt64LE(BigInt(m.sizeBytes), 24)
  out.writeBigUInt64LE(BigInt(m.chunkCount), 32)
  out.write(m.root, 40, m.digestBytes, 'hex')
  m.digests.copy(out, HEADER_BYTES)
  bitmap?.copy(out, HEADER_BYTES + m.digests.length)
  const end = out.length - CHECKSUM_BYTES
  out.write(await digestHex('xxh3', out.subarray(0, end)), end, CHECKSUM_BYTES, 'hex')
  return out
}

/**
 * Parses and checks a manifest file's bytes: magic, version, algorithm,
 * length, its own checksum, and the root. Every problem is BAD_MANIFEST
 * naming `path` and what is wrong.
 */
export async function decodeManifest(buf: Buffer, path: string): Promise<Manifest> {
  const bad = (why: string) => new BlockcopyError('BAD_MANIFEST', `manifest: ${path} ${why}`, 'manifest')
  if (buf.length >= 8 && !buf.subarray(0, 8).equals(MANIFEST_MAGIC)) {
    throw bad(`is not a blockcopy manifest: it begins ${quoted(buf.subarray(0, 64))}, not "BCMANIF\\u0000"`)
  }
  if (buf.length < HEADER_BYTES + CHECKSUM_BYTES) {
    throw bad(`is truncated: ${buf.length} bytes, shorter than the ${HEADER_BYTES + CHECKSUM_BYTES}-byte header and checksum`)
  }
  const version = buf.readUInt16LE(8)
  if (version !== MANIFEST_VERSION && version !== UNKNOWN_VERSION) {
    throw bad(`has format version ${version}; this blockcopy reads versions ${MANIFEST_VERSION} and ${UNKNOWN_VERSION}`)
  }
  const count = buf.readBigUInt64LE(32)
  const digestBytes = buf.readUInt8(11)
  const bitmapBytes = version === UNKNOWN_VERSION ? (count + 7n) / 8n : 0n
  const want = BigInt(HEADER_BYTES + CHECKSUM_BYTES) + count * BigInt(digestBytes) + bitmapBytes
  const end = buf.length - CHECKSUM_BYTES
  const stored = buf.subarray(end).toString('hex')
  const actual = await digestHex('xxh3', buf.subarray(0, end))
  if (stored !== actual) {
    if (want !== BigInt(buf.length)) {
      throw bad(`is truncated or damaged: its header describes ${count} digests of ${digestBytes} bytes (${want} bytes in all), but it has ${buf.length} bytes, and its checksum does not match`)
    }
    throw bad(`is damaged: its checksum ${stored} does not match its contents (${actual})`)
  }
  const algo = ALGO_BY_ID[buf.readUInt8(10)]
  if (!algo) throw bad(`names unknown digest algorithm ${buf.readUInt8(10)} (1 xxh3, 2 xxh128)`)
  if (digestBytes !== DIGEST_BYTES[algo]) throw bad(`has ${digestBytes}-byte digests; ${algo} digests are ${DIGEST_BYTES[algo]} bytes`)
  const flags = buf.readUInt32LE(12)
  if (version === MANIFEST_VERSION && flags !== 0) throw bad('has a non-zero reserved field (written by a newer blockcopy?)')
  if (version === UNKNOWN_VERSION && flags !== FLAG_UNKNOWN) throw bad(`has flags ${flags}; version 2 has flags 1 (written by a newer blockcopy?)`)
  const big = [buf.readBigUInt64LE(16), buf.readBigUInt64LE(24), count]
  if (big.some((v) => v > BigInt(Number.MAX_SAFE_INTEGER))) throw bad('has a chunk size, size or chunk count above 2^53')
  const [chunkBytes, sizeBytes, chunkCount] = big.map(Number) as [number, number, number]
  if (want !== BigInt(buf.length)) throw bad(`has ${buf.length} bytes; its header describes ${want}`)
  checkShape({ algo, chunkBytes, sizeBytes, chunkCount, digestBytes }, bad)
  const digestsEnd = HEADER_BYTES + chunkCount * digestBytes
  const digests = Buffer.from(buf.subarray(HEADER_BYTES, digestsEnd))
  const root = buf.subarray(40, 40 + digestBytes).toString('hex')
  if (root !== (await digestHex(algo, digests))) throw bad('is inconsistent: its root digest is not the digest of its chunk digests')
  const m: Manifest = { algo, chunkBytes, sizeBytes, chunkCount, digestBytes, digests, root }
  if (version === UNKNOWN_VERSION) {
    const unknown = Buffer.from(buf.subarray(digestsEnd, end))
    if (chunkCount % 8 !== 0 && (unknown[unknown.length - 1] ?? 0) >> (chunkCount % 8) !== 0) {
      throw bad(`is inconsistent: its unknown-chunk bitmap marks chunks past its last, ${chunkCount - 1}`)
    }
    m.unknown = unknown
    if (unknownCount(m) === 0) throw bad('is inconsistent: version 2 with no unknown chunk (version 1 would have been written)')
  }
  return m
}

/** Reads and checks a manifest file: NOT_FOUND_VOLUME when it is missing, BAD_MANIFEST when damaged. */
export async function readManifest(path: string): Promise<Manifest> {
  let buf: Buffer
  try {
    buf = await fs.promises.readFile(path)
  } catch (err) {
    const e = toSystemError(err, 'open', path)
    if (e.code === 'ENOENT') throw new BlockcopyError('NOT_FOUND_VOLUME', `manifest: ${path} does not exist`, 'manifest')
    throw e
  }
  return decodeManifest(buf, path)
}

/**
 * Writes a manifest file durably and atomically: a temporary file beside
 * it, fsynced, then renamed over `path`, then the directory fsynced.
 */
export async function writeManifest(path: string, m: Manifest): Promise<void> {
  await writeFileDurably(path, await encodeManifest(m))
}
