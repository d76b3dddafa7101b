import { createRequire } from 'node:module'
import type { IHasher } from 'hash-wasm'

// hash-wasm's per-algorithm bundle: its index bundles every algorithm and
// costs each worker ~50 ms to load and compile, this one ~12 ms.
const { createXXHash3 } = createRequire(import.meta.url)('hash-wasm/dist/xxhash3.umd.min.js') as {
  createXXHash3: () => Promise<IHasher>
}

/**
 * xxh3-64 (seed 0) through hash-wasm. One instance per thread: the WebAssembly
 * module is instantiated once and reused for every chunk.
 */
export class Xxh3 {
  private constructor(private readonly hasher: IHasher) {}

  static async create(): Promise<Xxh3> {
    return new Xxh3(await createXXHash3())
  }

  /** Digest of `buf[offset, offset + length)` as 16 lowercase hex digits (xxhsum -H3 order). */
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
 * The digest of a whole range: xxh3-64 over the concatenated 8-byte
 * big-endian chunk digests, in chunk order. It depends on the chunk size, so
 * it is only comparable between runs with the same chunking (it is recorded
 * with the result).
 */
export async function combineDigests(chunkDigests: readonly string[]): Promise<string> {
  const all = Buffer.alloc(chunkDigests.length * 8)
  chunkDigests.forEach((hex, i) => all.write(hex.padStart(16, '0'), i * 8, 'hex'))
  const h = await createXXHash3()
  h.init()
  h.update(all)
  return h.digest('hex')
}
