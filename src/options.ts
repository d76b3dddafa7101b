import os from 'node:os'
import { BlockcopyError } from './errors.js'
import { checkRate } from './throttle.js'
import { PAGE_BYTES, type DirectMode } from './regions.js'

export const MIN_CHUNK_BYTES = 64 * 1024
export const MAX_CHUNK_BYTES = 16 * 1024 * 1024
export const MAX_DESTINATIONS = 8

export interface ClientOptions {
  /** Worker threads doing I/O. Default: twice the cores, at least 2, at most 8. */
  threads?: number
  /** Bound on all workers' aligned buffers together. Default 64 MiB. */
  memoryBytes?: number
  /** Default chunk size for jobs: 64 KiB to 16 MiB, a multiple of 4 KiB. Default 1 MiB. */
  chunkBytes?: number
  /** Default direct-I/O mode for jobs. Default 'auto'. */
  direct?: DirectMode
  /** 'fs' forces the node:fs backend (no O_DIRECT). Default: $BLOCKCOPY_IO, else 'native'. */
  io?: 'native' | 'fs'
  /** Bytes per second for all jobs of the client together (client.setRate changes it). Default null: no limit. */
  rateBytesPerSec?: number | null
}

/** The checked, defaulted client settings. */
export interface ClientSettings {
  threads: number
  memoryBytes: number
  chunkBytes: number
  direct: DirectMode
  io: 'native' | 'fs'
  /** Each worker has two buffers of this size; a chunk may use all of it but one page. */
  bufferBytes: number
  rateBytesPerSec: number | null
}

function intOption(value: unknown, argument: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new BlockcopyError('INVALID_ARGUMENT', `${argument}: must be a whole number from ${min} to ${max}, got ${String(value)}`, argument)
  }
  return value
}

/** Checks a chunk size against the bounds and the buffers it must fit in. */
export function checkChunkBytes(value: unknown, argument: string, bufferBytes?: number): number {
  const v = intOption(value, argument, MIN_CHUNK_BYTES, MAX_CHUNK_BYTES)
  if (v % PAGE_BYTES !== 0) {
    throw new BlockcopyError('INVALID_ARGUMENT', `${argument}: must be a multiple of ${PAGE_BYTES} bytes, got ${v}`, argument)
  }
  if (bufferBytes !== undefined && v + PAGE_BYTES > bufferBytes) {
    throw new BlockcopyError(
      'INVALID_ARGUMENT',
      `${argument}: ${v} bytes does not fit the client's worker buffers (${bufferBytes - PAGE_BYTES} bytes at most); create the client with a larger memoryBytes or fewer threads`,
      argument,
    )
  }
  return v
}

export function checkDirectMode(value: unknown, argument: string): DirectMode {
  if (value !== 'auto' && value !== 'always' && value !== 'never') {
    throw new BlockcopyError('INVALID_ARGUMENT', `${argument}: must be 'auto', 'always' or 'never', got ${String(value)}`, argument)
  }
  return value
}

/** The default chunk size. */
export const DEFAULT_CHUNK_BYTES = 1024 * 1024

/** The default worker count: twice the cores, at least 2, at most 8. */
export function defaultThreads(): number {
  return Math.min(8, Math.max(2, os.availableParallelism() * 2))
}

/** What each worker's two buffers take for chunks of `chunkBytes` (a page more each, for alignment). */
export function workerBufferBytes(chunkBytes: number): number {
  return 2 * (chunkBytes + PAGE_BYTES)
}

/** Applies defaults and checks every client option, naming the one at fault. */
export function clientSettings(options: ClientOptions = {}): ClientSettings {
  const threads = intOption(options.threads ?? defaultThreads(), 'threads', 1, 64)
  const chunkBytes = checkChunkBytes(options.chunkBytes ?? DEFAULT_CHUNK_BYTES, 'chunkBytes')
  const need = threads * workerBufferBytes(chunkBytes)
  const memoryBytes = intOption(options.memoryBytes ?? Math.max(64 * 1024 * 1024, need), 'memoryBytes', 1, Number.MAX_SAFE_INTEGER)
  if (memoryBytes < need) {
    throw new BlockcopyError(
      'INVALID_ARGUMENT',
      `memoryBytes: ${memoryBytes} bytes cannot hold ${threads} threads × 2 buffers of chunkBytes ${chunkBytes} + ${PAGE_BYTES}; need at least ${need}`,
      'memoryBytes',
    )
  }
  const io = options.io ?? (process.env.BLOCKCOPY_IO === 'fs' ? 'fs' : 'native')
  if (io !== 'native' && io !== 'fs') {
    throw new BlockcopyError('INVALID_ARGUMENT', `io: must be 'native' or 'fs', got ${String(io)}`, 'io')
  }
  const direct = checkDirectMode(options.direct ?? 'auto', 'direct')
  const bufferBytes = Math.min(
    Math.floor(memoryBytes / threads / 2 / PAGE_BYTES) * PAGE_BYTES,
    MAX_CHUNK_BYTES + PAGE_BYTES,
  )
  const rateBytesPerSec = checkRate(options.rateBytesPerSec, 'rateBytesPerSec')
  return { threads, memoryBytes, chunkBytes, direct, io, bufferBytes, rateBytesPerSec }
}
