// hash/: xxh3 (scalar and WebAssembly SIMD), chunk manifests, whole-file digests (stream.ts) and the hash job.
import { BlockcopyError } from '../errors.js'
import type { IoBackend } from '../io/types.js'
import type { CopyResult, Job, JobSpec, WorkPlan } from '../job.js'
import { checkChunkBytes, checkDirectMode, type ClientSettings } from '../options.js'
import { callerHooks } from '../job-options.js'
import type { HashAlgo } from '../protocol/protocol.js'
import { fileRef, inspectPath, openForJob, probeDirect, type DirectMode } from '../files/regions.js'
import { chunkAt, chunkCount, type ChunkPlan } from '../scheduler.js'
import { buildManifest, type Manifest } from './manifest.js'

/** Options of client.hash. */
export interface HashOptions {
  /** Chunk size of the manifest: 64 KiB to 16 MiB, a multiple of 4 KiB. Default: the client's. */
  chunkBytes?: number
  /** 'xxh3' (XXH3 64-bit, default) or 'xxh128' (XXH3 128-bit). */
  algo?: HashAlgo
  /** Default: the client's. */
  direct?: DirectMode
  /** Aborting starts no new chunks; the manifest is then null. */
  signal?: AbortSignal
}

/**
 * A hash job: progress, cancel and status like any job; `result.digest` is
 * the root and `result.chunks` the chunk digests. `manifest` resolves once
 * it ends: the manifest, or null when not every chunk was read (a read
 * error or a cancel; `result` says which). It never rejects.
 */
export type HashJob = Job & { readonly manifest: Promise<Manifest | null> }

export const HASH_ALGOS: readonly HashAlgo[] = ['xxh3', 'xxh128']

/**
 * Bytes of the file one hash task reads, in whole manifest chunks (at least
 * one): an eighth of each worker's share of the file, from 8 to 64 MiB.
 * Each task costs the main thread ~0.2 ms of Piscina; 64 MiB tasks instead
 * of 8 MiB took a cached 2 GiB manifest from 367-411 ms to 330-363 ms with
 * the workers' start (interleaved), and each worker still gets eight tasks,
 * so none idles long at the end.
 */
const TASK_BYTES_MIN = 8 * 1024 * 1024
const TASK_BYTES_MAX = 64 * 1024 * 1024
const TASKS_PER_WORKER = 8

/**
 * Checks the arguments of a hash against the path as it is, and opens it
 * read-only. Nothing is read yet. `lengthBytes` hashes only the file's
 * first bytes (an incremental copy's check of a device larger than its manifest).
 */
export function openHash(io: IoBackend, path: string, o: HashOptions, s: ClientSettings, lengthBytes?: number): JobSpec & { hashAlgo: HashAlgo } {
  if (typeof o !== 'object' || o === null) throw new BlockcopyError('INVALID_ARGUMENT', 'options: must be an object', 'options')
  const algo = o.algo ?? 'xxh3'
  if (!HASH_ALGOS.includes(algo)) {
    throw new BlockcopyError('INVALID_ARGUMENT', `algo: must be 'xxh3' or 'xxh128', got ${String(algo)}`, 'algo')
  }
  const hooks = callerHooks({ signal: o.signal })
  const chunkBytes = checkChunkBytes(o.chunkBytes ?? s.chunkBytes, 'chunkBytes', s.bufferBytes)
  const direct = checkDirectMode(o.direct ?? s.direct, 'direct')
  const facts = inspectPath(io, path, 'path', false)
  const src = openForJob(io, facts, false, probeDirect(io, facts, direct, 'path'), direct)
  const total = Math.min(src.sizeBytes, lengthBytes ?? Infinity)
  // Several manifest chunks per task: each pool round trip costs the main
  // thread ~0.2 ms, as long as a worker takes to hash a cached 1 MiB chunk.
  const share = Math.floor(total / (s.threads * TASKS_PER_WORKER))
  const group = Math.max(1, Math.floor(Math.min(TASK_BYTES_MAX, Math.max(TASK_BYTES_MIN, share)) / chunkBytes))
  const plan: ChunkPlan = { anchorOffsetBytes: 0, totalBytes: total, chunkBytes: chunkBytes * group }
  const ref = fileRef(src)
  const work = (): WorkPlan => ({
    count: chunkCount(plan),
    extent: (i) => chunkAt(plan, i),
    task: (i) => {
      const c = chunkAt(plan, i)
      return {
        kind: 'hash', chunkIndex: i, lengthBytes: c.length, src: { ...ref, offsetBytes: c.offset }, algo, chunkBytes,
        // Only files: a device's page cache can be stale (a loop device's backing file written past it).
        probeCache: direct === 'auto' && !src.isBlockDevice,
      }
    },
  })
  return {
    kind: 'hash', source: src, srcOffset: 0, dests: [], destOffsets: [], totalBytes: total, chunkBytes,
    verify: 'hash', ignoreErrors: false, sequentialWrites: false, work, hashAlgo: algo,
    ...hooks,
  }
}

/** The manifest of a finished hash job, or null when not every chunk was read. */
export async function manifestOf(r: CopyResult, algo: HashAlgo): Promise<Manifest | null> {
  if (!r.ok || r.digest === null) return null
  const m = await buildManifest(algo, r.chunkBytes, r.totalBytes, r.chunks.map((c) => c.digest))
  if (m.root !== r.digest) throw new Error(`hash job ${r.id}: manifest root ${m.root} differs from the job digest ${r.digest}`)
  return m
}
