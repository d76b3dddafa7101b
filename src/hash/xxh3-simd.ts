import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { HashAlgo } from '../protocol/protocol.js'

/**
 * xxh3-64 and XXH3-128 (seed 0) through native/wasm/xxh3.wasm, a WebAssembly
 * SIMD128 build of XXH3 (native/wasm/xxh3.c, built by scripts/build-wasm.mjs).
 * Digests are identical to hash-wasm's createXXHash3() / createXXHash128() and
 * to `xxhsum -H3` / `xxhsum -H2`; on large inputs about twice as fast through
 * update() and nearly three times in place (bench/xxh3-simd.ts).
 *
 * The hasher offers hash-wasm's init / update / digest('hex'), so that it can
 * stand in for the IHasher in ./xxh3.ts, and an in-place API: input(n) gives a
 * view of an input area inside WebAssembly memory (its first byte 4096-byte
 * aligned), which a caller fills (say with fs.readSync) and hashes with
 * updateInput(offset, length) without another copy.
 *
 * One hasher per algorithm per thread: each owns a WebAssembly instance (the
 * compiled module is shared by every hasher of the thread).
 */

const WASM_FILE = join('native', 'wasm', 'xxh3.wasm')

/** Hashing one call at a time at most this much lets V8 swap in optimised code between calls on a fresh instance. */
const MAX_CALL_BYTES = 1 << 20

/*
 * The part of the WebAssembly API used here. It is a Node global, but the
 * TypeScript libraries this project builds with (ES2022, @types/node 20) do
 * not declare it; a module-scoped declaration emits nothing.
 */
interface WasmModule {
  readonly __brand?: 'WebAssembly.Module'
}
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => WasmModule
  Instance: new (module: WasmModule, imports: object) => { readonly exports: object }
  compile(bytes: Uint8Array): Promise<WasmModule>
}

interface Exports {
  readonly memory: { readonly buffer: ArrayBuffer }
  xxh_input(): number
  xxh_reserve(bytes: number): number
  xxh_stage(): number
  xxh_stage_size(): number
  xxh_init(bits: number): void
  xxh_update(ptr: number, length: number): void
  xxh_digest(): number
}

const BITS: Record<HashAlgo, 64 | 128> = { xxh3: 64, xxh128: 128 }

/**
 * The path of native/wasm/xxh3.wasm: looked for in this module's folder and
 * each one above it up to the package root (the first with a package.json),
 * so it is found from src/hash/ (tsx) and from dist/src/hash/ alike.
 */
export function xxh3WasmPath(): string {
  const start = dirname(fileURLToPath(import.meta.url))
  for (let dir = start; ; dir = dirname(dir)) {
    const candidate = join(dir, WASM_FILE)
    if (existsSync(candidate)) return candidate
    if (existsSync(join(dir, 'package.json')) || dirname(dir) === dir) {
      throw new Error(`xxh3-simd: ${WASM_FILE} not found in or above ${start} (run node scripts/build-wasm.mjs)`)
    }
  }
}

let compiled: WasmModule | null = null
let compiling: Promise<WasmModule> | null = null

function compileSync(): WasmModule {
  compiled ??= new WebAssembly.Module(readFileSync(xxh3WasmPath()))
  return compiled
}

async function compile(): Promise<WasmModule> {
  if (compiled) return compiled
  compiling ??= WebAssembly.compile(readFileSync(xxh3WasmPath())).then((module) => (compiled = module))
  return compiling
}

function checkCount(value: number, name: string): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`xxh3-simd: ${name} must be a whole number >= 0, not ${value}`)
}

export class Xxh3Simd {
  /** Bytes of a digest: 8 for xxh3, 16 for xxh128. */
  readonly digestSize: number
  private readonly e: Exports
  private readonly bits: 64 | 128
  private readonly inputAt: number
  private readonly stageAt: number
  private readonly stageBytes: number
  private bytes: Uint8Array

  private constructor(module: WasmModule, readonly algo: HashAlgo) {
    this.e = new WebAssembly.Instance(module, {}).exports as unknown as Exports
    this.bits = BITS[algo]
    if (this.bits === undefined) throw new RangeError(`xxh3-simd: unknown algorithm ${String(algo)}`)
    this.digestSize = this.bits / 8
    this.inputAt = this.e.xxh_input() >>> 0
    this.stageAt = this.e.xxh_stage() >>> 0
    this.stageBytes = this.e.xxh_stage_size() >>> 0
    this.bytes = new Uint8Array(this.e.memory.buffer)
    this.init()
  }

  /** A hasher of `algo` (seed 0), ready for update; compiles the module on the thread's first call. */
  static async create(algo: HashAlgo = 'xxh3'): Promise<Xxh3Simd> {
    return new Xxh3Simd(await compile(), algo)
  }

  /** create(), synchronously (the module is small: compiling it takes a few milliseconds). */
  static createSync(algo: HashAlgo = 'xxh3'): Xxh3Simd {
    return new Xxh3Simd(compileSync(), algo)
  }

  /** Starts a streaming digest: init, update or updateInput as often as needed, digest. */
  init(): this {
    this.e.xxh_init(this.bits)
    return this
  }

  /** Hashes `data`, copied into WebAssembly memory piece by piece (a staging area apart from the input area). */
  update(data: Uint8Array): this {
    const memory = this.memory()
    for (let at = 0; at < data.length; at += this.stageBytes) {
      const piece = data.subarray(at, at + this.stageBytes)
      memory.set(piece, this.stageAt)
      this.e.xxh_update(this.stageAt, piece.length)
    }
    return this
  }

  /**
   * The digest of everything since init(), canonical (big-endian, as xxhsum
   * prints it): lowercase hex, or the bytes with 'binary'. The state is left
   * as it was, so more updates may follow.
   */
  digest(outputType?: 'hex'): string
  digest(outputType: 'binary'): Uint8Array
  digest(outputType: 'hex' | 'binary' = 'hex'): string | Uint8Array {
    const at = this.e.xxh_digest() >>> 0
    const memory = this.memory()
    if (outputType === 'binary') return memory.slice(at, at + this.digestSize)
    return Buffer.from(memory.buffer, memory.byteOffset + at, this.digestSize).toString('hex')
  }

  /** Writes digest('binary') into `out` at `offsetBytes`, allocating nothing. */
  digestInto(out: Uint8Array, offsetBytes: number): void {
    const at = this.e.xxh_digest() >>> 0
    out.set(this.memory().subarray(at, at + this.digestSize), offsetBytes)
  }

  /**
   * A view of the first `length` bytes of the input area, growing WebAssembly
   * memory if needed. Its first byte is 4096-byte aligned. Growth detaches
   * every view taken before (their length becomes 0), so take a new one after
   * asking for more room; the bytes in the area are kept.
   */
  input(length: number): Uint8Array {
    checkCount(length, 'length')
    if (length > this.inputCapacity() && (this.e.xxh_reserve(length) >>> 0) < length) {
      throw new RangeError(`xxh3-simd: cannot grow WebAssembly memory to an input area of ${length} bytes`)
    }
    return this.memory().subarray(this.inputAt, this.inputAt + length)
  }

  /** Bytes the input area holds now without growing. */
  inputCapacity(): number {
    return this.e.memory.buffer.byteLength - this.inputAt
  }

  /** Hashes `length` bytes of the input area from `offset`, in place. */
  updateInput(offset: number, length: number): this {
    checkCount(offset, 'offset')
    checkCount(length, 'length')
    if (offset + length > this.inputCapacity()) {
      throw new RangeError(`xxh3-simd: input bytes [${offset}, ${offset + length}) are past the input area (${this.inputCapacity()} bytes)`)
    }
    const end = this.inputAt + offset + length
    for (let at = this.inputAt + offset; at < end; at += MAX_CALL_BYTES) {
      this.e.xxh_update(at, Math.min(MAX_CALL_BYTES, end - at))
    }
    return this
  }

  /** A byte view of all of WebAssembly memory, taken again after the memory grew. */
  private memory(): Uint8Array {
    if (this.bytes.buffer !== this.e.memory.buffer) this.bytes = new Uint8Array(this.e.memory.buffer)
    return this.bytes
  }
}
