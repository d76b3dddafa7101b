import type { FileRef, HashChunkResult, HashTask } from '../protocol/protocol.js'
import type { Xxh3 } from '../hash/xxh3.js'
import type { WorkerContext } from './context.js'
import { readRange, type Failure } from './ranged-io.js'

/*
 * Page cache or O_DIRECT, chunk by chunk. O_DIRECT keeps a hash of a cold
 * file from filling the page cache and costs no copy, but it goes to the
 * device even for bytes the cache already holds: a cached 2 GiB file was
 * hashed at the disk's 1.5 GB/s instead of the 5-6 GB/s of copies from the
 * cache. Both give the same bytes, so each chunk first asks cachestat(2)
 * how much of it the cache holds (no I/O). None: it is read directly. Some
 * or all: it is read with preadv2(RWF_NOWAIT), which returns what the cache
 * holds and never waits for the device, straight into WebAssembly memory
 * and hashed there; where the cached bytes stop, the rest is read directly.
 * (RWF_NOWAIT alone cannot ask: a read that misses starts read-ahead, and
 * a cold 2 GiB hash read much of its file twice.)
 *
 * Where that cannot be done (the fs backend, a kernel before 6.5, or a file
 * system without RWF_NOWAIT), each chunk starts with a buffered read of its first 4 KiB,
 * timed: a few µs when the cache has it, 100 µs or more from this disk.
 * Cached, the chunk is read through the cache; cold, it is read directly,
 * and the next chunks skip the probe, backing off to one probe in
 * PROBE_EVERY_MAX + 1 chunks while the file stays cold. The timing is a
 * guess: on busy cores a cached read can take 100 µs too, and then cached
 * chunks are read from the device (90 % of a cached 2 GiB file was, with
 * two workers and the other core loaded).
 */

/** A first-page probe answered within this came from the page cache. */
const PROBE_CACHED_MS = 0.05
const PROBE_BYTES = 4096
const PROBE_EVERY_MAX = 64
/**
 * Buffered reads are hashed this much at a time, while the bytes are still
 * in the core's cache: hashing 4 MiB read in one go measured 10-20 % slower.
 */
const PIECE_BYTES = 256 * 1024

/** What this worker has learned about the file it is reading. */
interface CacheState {
  path: string
  /** Chunks left to read directly without a probe. */
  skip: number
  /** The next value of skip after a probe that finds the file cold. */
  backoff: number
}

let state: CacheState | null = null

function stateFor(path: string): CacheState {
  if (state?.path !== path) state = { path, skip: 0, backoff: 1 }
  return state
}

/** The hasher's input area as a Buffer of PIECE_BYTES (taken again if WebAssembly memory moved). */
function inputBuffer(hash: Xxh3): Buffer {
  const view = hash.input(PIECE_BYTES)
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength)
}

/** Feeds buf[at, +length) to the running digest. */
function hashPiece(hash: Xxh3, buf: Buffer, at: number, length: number): void {
  hash.update(buf.subarray(at, at + length))
}

/**
 * Reads the chunk [position, +length) into buf at `at` (which has the
 * position's page phase) and feeds it to the running digest: through the
 * page cache in pieces, or directly in one read, as above.
 * Returns the bytes read with O_DIRECT, or the failed range.
 */
function readAndHash(
  ctx: WorkerContext, hash: Xxh3, src: FileRef, probe: boolean, position: number, length: number, buf: Buffer, at: number,
): number | Failure {
  const buffered: FileRef = { ...src, directFd: -1 }
  let done = 0
  // `--direct always` means every aligned byte comes from the device: no probe then.
  if (src.directFd >= 0 && !probe) return readThenHash(ctx, hash, src, position, length, buf, at)
  if (src.directFd >= 0) {
    const fromCache = hashCached(ctx, hash, src, position, length)
    if (fromCache === length) return 0
    // The rest is not all in the page cache: read it directly.
    if (fromCache !== null) return readThenHash(ctx, hash, src, position + fromCache, length - fromCache, buf, at + fromCache)
    const s = stateFor(src.path)
    let cached = false
    if (s.skip > 0) {
      s.skip--
    } else {
      done = Math.min(PROBE_BYTES - (position % PROBE_BYTES), length)
      const started = performance.now()
      const probe = readRange(ctx.io, buffered, position, done, buf, at)
      cached = typeof probe === 'number' && performance.now() - started <= PROBE_CACHED_MS
    }
    if (cached) {
      s.backoff = 1
      hashPiece(hash, buf, at, done)
    } else {
      if (s.skip === 0 && done > 0) {
        s.skip = s.backoff
        s.backoff = Math.min(s.backoff * 2, PROBE_EVERY_MAX)
      }
      return readThenHash(ctx, hash, src, position, length, buf, at)
    }
  }
  // Read straight into WebAssembly memory and hashed there: one copy fewer.
  const into = inputBuffer(hash)
  for (let n = 0; done < length; done += n) {
    n = Math.min(PIECE_BYTES, length - done)
    const r = readRange(ctx.io, buffered, position + done, n, into, 0)
    if (typeof r !== 'number') return r
    hash.updateInput(0, n)
  }
  return 0
}

/**
 * Hashes what the page cache holds of [position, +length) from its start,
 * read straight into WebAssembly memory without waiting for the device
 * (preadv2 RWF_NOWAIT): the bytes hashed, or null when the backend or file
 * system cannot read that way (then the timed probe decides). A read error
 * ends it early: the direct read of the rest meets it and reports it.
 */
function hashCached(ctx: WorkerContext, hash: Xxh3, src: FileRef, position: number, length: number): number | null {
  if (!ctx.io.preadCached || !ctx.io.cachedPages) return null
  // A RWF_NOWAIT read that misses starts read-ahead of what it asked for,
  // which the direct read would then race: a cold chunk is not tried.
  const pages = ctx.io.cachedPages(src.fd, position, length)
  if (pages === null) return null
  if (pages === 0) return 0
  const into = inputBuffer(hash)
  let done = 0
  while (done < length) {
    const n = Math.min(PIECE_BYTES, length - done)
    let got: number | null
    try {
      got = ctx.io.preadCached(src.fd, into, 0, n, position + done)
    } catch {
      break
    }
    if (got === null) return done === 0 ? null : done
    if (got > 0) hash.updateInput(0, got)
    done += got
    if (got < n) break
  }
  return done
}

/** One read (O_DIRECT for the aligned middle), then the digest. */
function readThenHash(ctx: WorkerContext, hash: Xxh3, src: FileRef, position: number, length: number, buf: Buffer, at: number): number | Failure {
  const r = readRange(ctx.io, src, position, length, buf, at)
  if (typeof r === 'number') hashPiece(hash, buf, at, length)
  return r
}

/**
 * Reads one chunk of a file or device and hashes it with the task's
 * algorithm. Runs in a worker; writes nothing; a read failure is returned
 * as data (readErr, the failed range), never thrown.
 */
export function hashChunk(ctx: WorkerContext, hash: Xxh3, t: HashTask): HashChunkResult {
  const res: HashChunkResult = {
    kind: 'hash', chunkIndex: t.chunkIndex, lengthBytes: t.lengthBytes, digest: null, readErr: false, writeErr: 0, errors: [], directBytes: 0,
  }
  // At the source's page phase, so the aligned middle lands on an aligned address.
  const base = t.src.offsetBytes % ctx.pageBytes
  // One manifest chunk at a time; every chunk starts on a multiple of the
  // chunk size, so each keeps the source's page phase.
  // Every chunk's digest end to end, written in place: one buffer per task.
  const size = hash.digestBytes
  const digests = new Uint8Array(Math.ceil(t.lengthBytes / t.chunkBytes) * size)
  for (let done = 0, k = 0; done < t.lengthBytes; done += t.chunkBytes, k++) {
    const position = t.src.offsetBytes + done
    const length = Math.min(t.chunkBytes, t.lengthBytes - done)
    hash.init()
    const read = readAndHash(ctx, hash, t.src, t.probeCache, position, length, ctx.main, base)
    if (typeof read !== 'number') {
      res.readErr = true
      res.errors.push({ dest: -1, ...read, offset: position, length: t.src.offsetBytes + t.lengthBytes - position })
      return res
    }
    res.directBytes += read
    hash.finalInto(digests, k * size)
  }
  // An empty task has no digest, as a task that read nothing.
  res.digest = digests.length > 0 ? digests : null
  return res
}
