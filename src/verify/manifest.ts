import fs from 'node:fs'
import nodePath from 'node:path'
import { BlockcopyError, toSystemError } from '../errors.js'
import type { HashAlgo } from '../protocol.js'
import { createHasher, DIGEST_BYTES } from './xxh3.js'

/**
 * The chunk manifest of a file or device, and its file format (docs/manifest.md).
 *
 * Format version 1, all integers little-endian:
 *
 *   0   8  magic 'BCMANIF\0'
 *   8   2  format version (u16) = 1
 *   10  1  algorithm id (u8): 1 xxh3-64, 2 xxh128
 *   11  1  digest bytes (u8): 8 or 16, as the algorithm says
 *   12  4  reserved (u32) = 0
 *   16  8  chunk bytes (u64)
 *   24  8  size in bytes (u64)
 *   32  8  chunk count (u64) = ceil(size / chunk bytes)
 *   40  16 root digest, canonical (big-endian) bytes, zero-padded to 16
 *   56  N × digest bytes: the chunk digests, canonical bytes, in chunk order
 *   end 8  xxh3-64 of every byte before it, canonical bytes
 *
 * Chunk i covers bytes [i × chunk, min(size, (i + 1) × chunk)). The root is
 * the algorithm over the packed chunk digests exactly as stored (a one-level
 * hash tree): chunks are hashed in parallel, the root over N × 8 or 16 bytes.
 */

export const MANIFEST_MAGIC = Buffer.from('BCMANIF\0', 'latin1')
export const MANIFEST_VERSION = 1
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

/** A manifest from hex chunk digests in chunk order; computes the root. */
export async function buildManifest(algo: HashAlgo, chunkBytes: number, sizeBytes: number, hexDigests: readonly string[]): Promise<Manifest> {
  const digestBytes = DIGEST_BYTES[algo]
  const digests = Buffer.alloc(hexDigests.length * digestBytes)
  hexDigests.forEach((hex, i) => digests.write(hex.padStart(digestBytes * 2, '0'), i * digestBytes, digestBytes, 'hex'))
  const m = { algo, chunkBytes, sizeBytes, chunkCount: hexDigests.length, digestBytes, digests, root: await digestHex(algo, digests) }
  checkShape(m, (why) => new BlockcopyError('INVALID_ARGUMENT', `manifest: ${why}`, 'manifest'))
  return m
}

function checkShape(m: Omit<Manifest, 'digests' | 'root'>, fail: (why: string) => Error): void {
  if (!Number.isSafeInteger(m.chunkBytes) || m.chunkBytes <= 0) throw fail(`chunk size ${m.chunkBytes} is not a positive whole number of bytes`)
  if (!Number.isSafeInteger(m.sizeBytes) || m.sizeBytes < 0) throw fail(`size ${m.sizeBytes} is not a whole number of bytes`)
  const want = Math.ceil(m.sizeBytes / m.chunkBytes)
  if (m.chunkCount !== want) throw fail(`${m.chunkCount} chunks for ${m.sizeBytes} bytes in chunks of ${m.chunkBytes}; expected ${want}`)
}

/** The manifest file's bytes (format version 1). */
export async function encodeManifest(m: Manifest): Promise<Buffer> {
  checkShape(m, (why) => new BlockcopyError('INVALID_ARGUMENT', `manifest: ${why}`, 'manifest'))
  if (m.digestBytes !== DIGEST_BYTES[m.algo] || m.digests.length !== m.chunkCount * m.digestBytes) {
    throw new BlockcopyError('INVALID_ARGUMENT', `manifest: ${m.chunkCount} ${m.algo} digests need ${m.chunkCount * DIGEST_BYTES[m.algo]} bytes, got ${m.digests.length}`, 'manifest')
  }
  const out = Buffer.alloc(HEADER_BYTES + m.digests.length + CHECKSUM_BYTES)
  MANIFEST_MAGIC.copy(out, 0)
  out.writeUInt16LE(MANIFEST_VERSION, 8)
  out.writeUInt8(ALGO_IDS[m.algo], 10)
  out.writeUInt8(m.digestBytes, 11)
  out.writeBigUInt64LE(BigInt(m.chunkBytes), 16)
  out.writeBigUInt64LE(BigInt(m.sizeBytes), 24)
  out.writeBigUInt64LE(BigInt(m.chunkCount), 32)
  out.write(m.root, 40, m.digestBytes, 'hex')
  m.digests.copy(out, HEADER_BYTES)
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
    throw bad(`is not a blockcopy manifest (its first bytes are ${buf.subarray(0, 8).toString('hex')}, not 'BCMANIF\\0')`)
  }
  if (buf.length < HEADER_BYTES + CHECKSUM_BYTES) {
    throw bad(`is truncated: ${buf.length} bytes, shorter than the ${HEADER_BYTES + CHECKSUM_BYTES}-byte header and checksum`)
  }
  const version = buf.readUInt16LE(8)
  if (version !== MANIFEST_VERSION) throw bad(`has format version ${version}; this blockcopy reads version ${MANIFEST_VERSION}`)
  const count = buf.readBigUInt64LE(32)
  const digestBytes = buf.readUInt8(11)
  const want = BigInt(HEADER_BYTES + CHECKSUM_BYTES) + count * BigInt(digestBytes)
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
  if (buf.readUInt32LE(12) !== 0) throw bad('has a non-zero reserved field (written by a newer blockcopy?)')
  const big = [buf.readBigUInt64LE(16), buf.readBigUInt64LE(24), count]
  if (big.some((v) => v > BigInt(Number.MAX_SAFE_INTEGER))) throw bad('has a chunk size, size or chunk count above 2^53')
  const [chunkBytes, sizeBytes, chunkCount] = big.map(Number) as [number, number, number]
  if (want !== BigInt(buf.length)) throw bad(`has ${buf.length} bytes; its header describes ${want}`)
  checkShape({ algo, chunkBytes, sizeBytes, chunkCount, digestBytes }, bad)
  const digests = Buffer.from(buf.subarray(HEADER_BYTES, end))
  const root = buf.subarray(40, 40 + digestBytes).toString('hex')
  if (root !== (await digestHex(algo, digests))) throw bad('is inconsistent: its root digest is not the digest of its chunk digests')
  return { algo, chunkBytes, sizeBytes, chunkCount, digestBytes, digests, root }
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
  const bytes = await encodeManifest(m)
  const tmp = `${path}.tmp-${process.pid}`
  const fh = await fs.promises.open(tmp, 'w', 0o644)
  try {
    await fh.writeFile(bytes)
    await fh.sync()
  } finally {
    await fh.close()
  }
  try {
    await fs.promises.rename(tmp, path)
  } catch (err) {
    await fs.promises.rm(tmp, { force: true })
    throw toSystemError(err, 'rename', path)
  }
  const dir = await fs.promises.open(nodePath.dirname(nodePath.resolve(path)), 'r')
  try {
    await dir.sync()
  } finally {
    await dir.close()
  }
}
