import os from 'node:os'
import { BlockcopyError } from './errors.js'
import { checkRate } from './throttle.js'
import { PAGE_BYTES, type DirectMode } from './files/regions.js'

export const MIN_CHUNK_BYTES = 64 * 1024
export const MAX_CHUNK_BYTES = 16 * 1024 * 1024
export const MAX_DESTINATIONS = 8

export interface ClientOptions {
  /**
   * Worker threads doing I/O, 1 to 64. Default: twice the cores, at least 2,
   * at most 8, and no more than memoryBytes holds for chunkBytes (at least 1).
   */
  threads?: number
  /**
   * Bound on all workers' aligned buffers together: each worker has two of
   * chunkBytes + 4 KiB. Default 64 MiB, never raised: threads given that it
   * cannot hold are INVALID_ARGUMENT, saying the budget they need.
   */
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

/** The budget for all workers' buffers together when none is given. */
export const DEFAULT_MEMORY_BYTES = 64 * 1024 * 1024

/**
 * How budget refusals name the settings: the library's option names, or
 * the flags a user typed (with sizes in units, as typed).
 */
export interface BudgetNames {
  threads: string
  chunk: string
  memory: string
  units: boolean
}

export const LIBRARY_NAMES: BudgetNames = { threads: 'threads', chunk: 'chunkBytes', memory: 'memoryBytes', units: false }

/** What a budget is asked to hold. */
export interface BudgetRequest {
  /** Undefined: the default count, lowered to what the budget holds (at least one). */
  threads?: number
  chunkBytes: number
  /**
   * Where the chunk size came from when the caller did not choose it, for
   * messages: the default, or a manifest's (which no smaller chunk can
   * replace).
   */
  chunkOrigin?: 'default' | 'manifest'
  /** Undefined: DEFAULT_MEMORY_BYTES. */
  memoryBytes?: number
}

const KiB = 1024
const MiB = 1024 * KiB

/** A size as a flag would take it: whole MiB or KiB where exact, else bytes. */
function sizeText(bytes: number, names: BudgetNames): string {
  if (!names.units) return String(bytes)
  if (bytes % MiB === 0) return `${bytes / MiB}MiB`
  return bytes % KiB === 0 ? `${bytes / KiB}KiB` : String(bytes)
}

/**
 * The least budget that holds `bytes`, as a flag would take it: rounded up
 * to whole KiB (buffers are whole pages, so it is exact), never to MiB,
 * which would ask for up to a MiB more than needed.
 */
function needText(bytes: number, names: BudgetNames): string {
  return names.units ? sizeText(Math.ceil(bytes / KiB) * KiB, names) : `${bytes} bytes`
}

/**
 * The chunk size in a message: the flag that set it (`--chunk 64KiB`), or,
 * when none did, where it came from (`the manifest's 16MiB chunks`), so a
 * flag the user did not type is never named.
 */
function chunkText(r: BudgetRequest, names: BudgetNames): string {
  const size = sizeText(r.chunkBytes, names)
  if (r.chunkOrigin === undefined) return `${names.chunk} ${size}`
  const origin = r.chunkOrigin === 'manifest' ? 'the manifest\'s' : 'the default'
  return names.units ? `${origin} ${size} chunks` : `${names.chunk} ${size} (${origin})`
}

/**
 * The thread count and budget for a request, such that every worker's two
 * buffers (a chunk and a page each) fit in the budget, whatever else was
 * asked: the default thread count is lowered to what fits, at least one. A
 * thread count the caller gave that does not fit, or a budget the caller
 * gave that cannot hold even one worker, is refused, saying the least budget
 * that would do. The budget counts buffers only: each worker's V8 isolate
 * comes on top (README: "How it works").
 */
export function fitBudget(r: BudgetRequest, names: BudgetNames = LIBRARY_NAMES): { threads: number; memoryBytes: number } {
  const memoryBytes = r.memoryBytes ?? DEFAULT_MEMORY_BYTES
  const each = workerBufferBytes(r.chunkBytes)
  const chunk = chunkText(r, names)
  const budget = r.memoryBytes === undefined ? `the default budget is ${sizeText(DEFAULT_MEMORY_BYTES, names)}` : `${names.memory} is ${sizeText(memoryBytes, names)}`
  if (r.threads !== undefined) {
    const need = r.threads * each
    if (need > memoryBytes) {
      throw new BlockcopyError(
        'INVALID_ARGUMENT',
        `${names.threads}: ${r.threads} with ${chunk} needs ${names.memory} ${needText(need, names)} (2 buffers of the chunk + ${PAGE_BYTES / KiB}KiB per thread); ${budget}`,
        'threads',
      )
    }
    return { threads: r.threads, memoryBytes }
  }
  if (each > memoryBytes) {
    // A manifest's chunk size is the manifest's: only the budget can change.
    const smaller = r.chunkOrigin === 'manifest' ? '' : `, or a smaller ${names.chunk}`
    throw new BlockcopyError(
      'INVALID_ARGUMENT',
      `${names.memory}: ${sizeText(memoryBytes, names)} cannot hold one thread's 2 buffers of ${chunk} + ${PAGE_BYTES / KiB}KiB; give ${names.memory} ${needText(each, names)} or more${smaller}`,
      'memoryBytes',
    )
  }
  return { threads: Math.max(1, Math.min(defaultThreads(), Math.floor(memoryBytes / each))), memoryBytes }
}

/** Applies defaults and checks every client option, naming the one at fault. */
export function clientSettings(options: ClientOptions = {}): ClientSettings {
  const given = options.threads === undefined ? undefined : intOption(options.threads, 'threads', 1, 64)
  const chunkBytes = checkChunkBytes(options.chunkBytes ?? DEFAULT_CHUNK_BYTES, 'chunkBytes')
  const memory = options.memoryBytes === undefined ? undefined : intOption(options.memoryBytes, 'memoryBytes', 1, Number.MAX_SAFE_INTEGER)
  const { threads, memoryBytes } = fitBudget({
    chunkBytes, ...(given === undefined ? {} : { threads: given }), ...(memory === undefined ? {} : { memoryBytes: memory }),
    ...(options.chunkBytes === undefined ? { chunkOrigin: 'default' as const } : {}),
  })
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
