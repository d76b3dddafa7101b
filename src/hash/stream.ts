import fs from 'node:fs'
import { BlockcopyError, toSystemError } from '../errors.js'
import type { HashAlgo } from '../protocol/protocol.js'
import { createHasher } from './xxh3.js'

/** Size of each sequential read of a whole-stream digest; two are in use at once. */
export const STREAM_READ_BYTES = 8 * 1024 * 1024

/** A whole-stream digest, as xxhsum computes it. */
export interface StreamDigest {
  path: string
  algo: HashAlgo
  sizeBytes: number
  /** Lowercase hex in canonical order, as xxhsum prints it. */
  digest: string
  elapsedMs: number
}

/**
 * Checks that `path` can be digested: NOT_FOUND_VOLUME when missing,
 * INVALID_ARGUMENT when neither a regular file nor a block device.
 */
export function checkDigestPath(path: string, argument = 'path'): void {
  if (typeof path !== 'string' || path.length === 0) throw new BlockcopyError('INVALID_ARGUMENT', `${argument}: a path is required`, argument)
  let st: fs.Stats
  try {
    st = fs.statSync(path)
  } catch (err) {
    const e = toSystemError(err, 'stat', path)
    if (e.code === 'ENOENT') throw new BlockcopyError('NOT_FOUND_VOLUME', `${argument}: ${path} does not exist`, argument)
    throw e
  }
  if (!st.isFile() && !st.isBlockDevice()) {
    throw new BlockcopyError('INVALID_ARGUMENT', `${argument}: ${path} is neither a regular file nor a block device`, argument)
  }
}

/**
 * The digest of a whole file or device as one stream: what `xxhsum -H3`
 * (xxh3) or `xxhsum -H2` (xxh128) prints for it. Sequential by nature, so
 * it runs in the calling thread: 8 MiB reads in order, the next one already
 * in flight (libuv's thread pool) while the current one is hashed.
 */
export async function wholeFileDigest(path: string, options: { algo?: HashAlgo; signal?: AbortSignal } = {}): Promise<StreamDigest> {
  const algo = options.algo ?? 'xxh3'
  if (algo !== 'xxh3' && algo !== 'xxh128') throw new BlockcopyError('INVALID_ARGUMENT', `algo: must be 'xxh3' or 'xxh128', got ${String(algo)}`, 'algo')
  checkDigestPath(path)
  const started = performance.now()
  const hasher = await createHasher(algo)
  hasher.init()
  let fh: fs.promises.FileHandle
  try {
    fh = await fs.promises.open(path, 'r')
  } catch (err) {
    throw toSystemError(err, 'open', path)
  }
  const bufs = [Buffer.allocUnsafe(STREAM_READ_BYTES), Buffer.allocUnsafe(STREAM_READ_BYTES)] as const
  let sizeBytes = 0
  try {
    const readAt = (i: number, position: number) => fh.read(bufs[i % 2] as Buffer, 0, STREAM_READ_BYTES, position)
    let turn = 0
    let pending = readAt(turn, 0)
    for (;;) {
      const { bytesRead } = await pending
      if (bytesRead === 0) break
      options.signal?.throwIfAborted()
      const current = bufs[turn % 2] as Buffer
      sizeBytes += bytesRead
      turn++
      // The next read fills the other buffer while this one is hashed.
      pending = readAt(turn, sizeBytes)
      hasher.update(current.subarray(0, bytesRead))
    }
  } catch (err) {
    if (err instanceof Error && err.name === 'AbortError') throw err
    throw toSystemError(err, 'read', path)
  } finally {
    await fh.close()
  }
  return { path, algo, sizeBytes, digest: hasher.digest('hex'), elapsedMs: performance.now() - started }
}

/** The name xxhsum gives standard input in its lines. */
export const STDIN_NAME = 'stdin'

/**
 * The digest of a stream read to its end, such as standard input: what
 * `xxhsum -H3 -` (or `-H2 -`) computes for it; its path is `stdin`, as
 * xxhsum names it. A pipe has no offsets, so it is read as it comes.
 */
export async function streamDigest(input: AsyncIterable<Uint8Array>, options: { algo?: HashAlgo } = {}): Promise<StreamDigest> {
  const algo = options.algo ?? 'xxh3'
  if (algo !== 'xxh3' && algo !== 'xxh128') throw new BlockcopyError('INVALID_ARGUMENT', `algo: must be 'xxh3' or 'xxh128', got ${String(algo)}`, 'algo')
  const started = performance.now()
  const hasher = await createHasher(algo)
  hasher.init()
  let sizeBytes = 0
  try {
    for await (const chunk of input) {
      hasher.update(chunk)
      sizeBytes += chunk.length
    }
  } catch (err) {
    throw toSystemError(err, 'read', STDIN_NAME)
  }
  return { path: STDIN_NAME, algo, sizeBytes, digest: hasher.digest('hex'), elapsedMs: performance.now() - started }
}

/**
 * One line that `xxhsum -c` accepts, exactly as xxhsum 0.8 prints it:
 * `XXH3 (PATH) = HEX` for xxh3 (its BSD-style tag: a bare 16-digit line
 * would be read as XXH64), `HEX  PATH` for xxh128.
 */
export function xxhsumLine(d: Pick<StreamDigest, 'algo' | 'digest' | 'path'>): string {
  return d.algo === 'xxh3' ? `XXH3 (${d.path}) = ${d.digest}` : `${d.digest}  ${d.path}`
}
