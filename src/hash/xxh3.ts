import type { DigestBytes, HashAlgo } from '../protocol/protocol.js'
import { Xxh3Simd } from './xxh3-simd.js'

/** Bytes of one digest of each algorithm. */
export const DIGEST_BYTES: Record<HashAlgo, number> = { xxh3: 8, xxh128: 16 }

/** A hasher of `algo` (seed 0), ready for init/update/digest: the SIMD128 WebAssembly build of XXH3 (./xxh3-simd.ts). */
export function createHasher(algo: HashAlgo): Promise<Xxh3Simd> {
  return Xxh3Simd.create(algo)
}

/**
 * xxh3-64 (seed 0), or XXH3-128 with create('xxh128'). One instance per
 * thread and algorithm: the WebAssembly module is instantiated once and
 * reused for every chunk.
 */
export class Xxh3 {
  private constructor(private readonly hasher: Xxh3Simd) {}

  static async create(algo: HashAlgo = 'xxh3'): Promise<Xxh3> {
    return new Xxh3(await createHasher(algo))
  }

  /** Starts a streaming digest: init, update as often as needed, final. */
  init(): void {
    this.hasher.init()
  }

  update(bytes: Uint8Array): void {
    this.hasher.update(bytes)
  }

  /**
   * Room for `length` bytes inside WebAssembly memory (its first byte
   * 4096-byte aligned), to be filled by a read and hashed in place with
   * updateInput: one copy fewer than update. The view is good until the
   * next call to input.
   */
  input(length: number): Uint8Array {
    return this.hasher.input(length)
  }

  /** Feeds input(...)[offset, offset + length) to the running digest. */
  updateInput(offset: number, length: number): void {
    this.hasher.updateInput(offset, length)
  }

  /** Bytes of one digest: 8 for xxh3, 16 for xxh128. */
  get digestBytes(): number {
    return this.hasher.digestSize
  }

  /** The streaming digest, canonical (big-endian, xxhsum) order, in a buffer of its own. */
  final(): DigestBytes {
    return this.hasher.digest('binary')
  }

  /** The streaming digest written into `out` at `offsetBytes` (several digests end to end, one allocation). */
  finalInto(out: DigestBytes, offsetBytes: number): void {
    this.hasher.digestInto(out, offsetBytes)
  }

  /** Digest of `buf[offset, offset + length)`, canonical (big-endian, xxhsum) order. */
  digest(buf: Uint8Array, offsetBytes: number, lengthBytes: number): DigestBytes {
    return this.digestParts(buf, [offsetBytes, lengthBytes])
  }

  /** Digest of several pieces of `buf` end to end; `parts` is flat (offset, length) pairs. */
  digestParts(buf: Uint8Array, parts: readonly number[]): DigestBytes {
    this.hasher.init()
    for (let i = 0; i + 1 < parts.length; i += 2) {
      const at = parts[i] as number
      this.hasher.update(buf.subarray(at, at + (parts[i + 1] as number)))
    }
    return this.hasher.digest('binary')
  }
}

/** Digests as lowercase hex, as printed and as the result's `digest` and `chunks` give them. */
export function hexOf(digests: DigestBytes): string {
  return Buffer.from(digests.buffer, digests.byteOffset, digests.byteLength).toString('hex')
}

/** Hex digests (a manifest's, a map's) as bytes in a buffer of their own, fit to send to a worker. */
export function digestOfHex(hex: string): DigestBytes {
  return new Uint8Array(Buffer.from(hex, 'hex'))
}

/** Whether two digests are the same bytes. */
export function sameDigest(a: DigestBytes, b: DigestBytes): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/**
 * The digest of a whole range: `algo` over the concatenated chunk digests
 * in their canonical big-endian bytes (8 for xxh3, 16 for xxh128), in chunk
 * order. It depends on the chunk size, so it is only comparable between
 * runs with the same chunking (it is recorded with the result). With the
 * default 'xxh3' this is the copy result's digest; a manifest's root uses
 * the manifest's algorithm.
 */
export async function combineDigests(chunkDigests: readonly DigestBytes[], algo: HashAlgo = 'xxh3'): Promise<string> {
  // A task's digests may be several chunks' end to end (hash tasks): hashed as they are, in one update.
  const h = await createHasher(algo)
  h.init()
  h.update(Buffer.concat(chunkDigests))
  return h.digest('hex')
}
