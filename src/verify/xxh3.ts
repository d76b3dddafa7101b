import { createRequire } from 'node:module'
import type { IHasher } from 'hash-wasm'
import type { HashAlgo } from '../protocol.js'

// hash-wasm's per-algorithm bundles: its index bundles every algorithm and
// costs each worker ~50 ms to load and compile, one of these ~12 ms.
const load = createRequire(import.meta.url)
const CREATE: Record<HashAlgo, () => Promise<IHasher>> = {
  xxh3: () => (load('hash-wasm/dist/xxhash3.umd.min.js') as { createXXHash3: () => Promise<IHasher> }).createXXHash3(),
  xxh128: () => (load('hash-wasm/dist/xxhash128.umd.min.js') as { createXXHash128: () => Promise<IHasher> }).createXXHash128(),
}

/** Bytes of one digest of each algorithm. */
export const DIGEST_BYTES: Record<HashAlgo, number> = { xxh3: 8, xxh128: 16 }

/** A hash-wasm hasher of `algo` (seed 0), ready for init/update/digest. */
export function createHasher(algo: HashAlgo): Promise<IHasher> {
  return CREATE[algo]()
}

/**
 * xxh3-64 (seed 0), or XXH3-128 with create('xxh128'), through hash-wasm.
 * One instance per thread and algorithm: the WebAssembly module is
 * instantiated once and reused for every chunk.
 */
export class Xxh3 {
  private constructor(private readonly hasher: IHasher) {}

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

  /** The streaming digest as lowercase hex, canonical (big-endian, xxhsum) order. */
  final(): string {
    return this.hasher.digest('hex')
  }

  /** Digest of `buf[offset, offset + length)` as lowercase hex, canonical (big-endian, xxhsum) order. */
  digest(buf: Uint8Array, offsetBytes: number, lengthBytes: number): string {
    return this.digestParts(buf, [offsetBytes, lengthBytes])
  }

  /** Digest of several pieces of `buf` end to end; `parts` is flat (offset, length) pairs. */
  digestParts(buf: Uint8Array, parts: readonly number[]): string {
    this.hasher.init()
    for (let i = 0; i + 1 < parts.length; i += 2) {
      const at = parts[i] as number
      this.hasher.update(buf.subarray(at, at + (parts[i + 1] as number)))
    }
    return this.hasher.digest('hex')
  }
}

/**
 * The digest of a whole range: `algo` over the concatenated chunk digests
 * in their canonical big-endian bytes (8 for xxh3, 16 for xxh128), in chunk
 * order. It depends on the chunk size, so it is only comparable between
 * runs with the same chunking (it is recorded with the result). With the
 * default 'xxh3' this is the copy result's digest; a manifest's root uses
 * the manifest's algorithm.
 */
export async function combineDigests(chunkDigests: readonly string[], algo: HashAlgo = 'xxh3'): Promise<string> {
  // A digest string may hold several chunks' digests end to end (hash tasks).
  const size = DIGEST_BYTES[algo]
  const all = Buffer.concat(chunkDigests.map((hex) => Buffer.from(hex.padStart(Math.ceil(hex.length / (2 * size)) * 2 * size, '0'), 'hex')))
  const h = await createHasher(algo)
  h.init()
  h.update(all)
  return h.digest('hex')
}
