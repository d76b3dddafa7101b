// verify/: the verify job: its plan (verify-plan.ts) and its report of differing runs (verify-report.ts, runs.ts).
import { BlockcopyError } from '../errors.js'
import type { IoBackend } from '../io/types.js'
import type { JobSpec, WorkPlan } from '../job.js'
import { checkChunkBytes, checkDirectMode, MAX_DESTINATIONS, type ClientSettings } from '../options.js'
import { callerHooks } from '../job-options.js'
import type { CompareTask } from '../protocol/protocol.js'
import { closeFile, fileRef as ref, inspectPath, openForJob, probeDirect, type DirectMode, type OpenFile, type PathFacts } from '../files/regions.js'
import { chunkAt, chunkCount, type ChunkPlan } from '../scheduler.js'
import { chunkDigestBytes, isManifest, unknownCount, type Manifest } from '../hash/manifest.js'

/** A byte range compared in the source (or manifest) and in every replica, at the same offsets. */
export interface VerifyRange {
  offset: number
  length: number
}

/** Options of client.verify. */
export interface VerifyOptions {
  /** Compare only these ranges (no two may overlap). Default: the whole source or manifest. */
  ranges?: VerifyRange[]
  /** Check the replicas against this manifest (readManifest) instead of a source: pass `null` as the source. */
  manifest?: Manifest
  /** Default: the client's; with a manifest, the manifest's. */
  chunkBytes?: number
  /** Default: the client's. */
  direct?: DirectMode
  /** Aborting starts no new chunks; the report then says `cancelled`. */
  signal?: AbortSignal
  /** Differing runs listed per replica, 0 to 100000 (default 1000); the report's totals count every one. */
  maxDifferences?: number
}

/** The most runs a report lists per replica: a bound on its memory and size, whatever is asked. */
export const MAX_LISTED_DIFFERENCES = 100_000
const DEFAULT_LISTED_DIFFERENCES = 1000

/** A verify job's files and plan, checked and open. */
export interface VerifyPlan {
  spec: JobSpec
  source: OpenFile | null
  replicas: OpenFile[]
  manifest: Manifest | null
  ranges: VerifyRange[]
  /** Whether `ranges` came from the caller (then sizes are not compared). */
  explicitRanges: boolean
  /** Size of the source, or the size the manifest describes. */
  referenceBytes: number
  /** Where task `index`'s chunk starts in the files. */
  fileOffset(index: number): number
  /** Differing runs listed per replica (VerifyOptions.maxDifferences). */
  maxDifferences: number
}

function bad(argument: string, message: string): BlockcopyError {
  return new BlockcopyError('INVALID_ARGUMENT', `${argument}: ${message}`, argument)
}

function checkManifest(m: unknown): Manifest {
  if (!isManifest(m)) throw bad('manifest', 'must be a manifest as readManifest() or a hash job returns it')
  const unknown = unknownCount(m)
  if (unknown > 0) {
    throw bad('manifest', `records ${unknown} of its ${m.chunkCount} chunks as unknown (an incremental copy that failed or was stopped part-way), so it cannot prove a replica identical; finish the copy, or hash the source again`)
  }
  return m
}

function checkRanges(value: unknown, refBytes: number, refName: string, replicas: PathFacts[], chunk: number | null): VerifyRange[] {
  if (!Array.isArray(value) || value.length === 0) throw bad('ranges', 'must be a non-empty array of { offset, length }')
  const ranges = value.map((r: unknown, i): VerifyRange => {
    const arg = `ranges[${i}]`
    const o = (typeof r === 'object' && r !== null ? r : {}) as Record<string, unknown>
    for (const k of ['offset', 'length'] as const) {
      const v = o[k]
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw bad(`${arg}.${k}`, `must be a whole number of bytes >= 0, got ${String(v)}`)
    }
    const c = { offset: o.offset as number, length: o.length as number }
    if (c.length === 0) throw bad(`${arg}.length`, 'must be at least 1 byte')
    const end = c.offset + c.length
    if (end > refBytes) throw bad(arg, `bytes ${c.offset}..${end} pass the end of ${refName} (${refBytes} bytes)`)
    replicas.forEach((f, k) => {
      if (end > f.sizeBytes) throw bad(arg, `bytes ${c.offset}..${end} pass the end of replicas[${k}] ${f.path} (${f.sizeBytes} bytes)`)
    })
    if (chunk !== null && (c.offset % chunk !== 0 || (end % chunk !== 0 && end !== refBytes))) {
      throw bad(arg, `against a manifest, ranges must start and end on its ${chunk}-byte chunks (or end at its size, ${refBytes})`)
    }
    return c
  })
  const sorted = ranges.map((r, i) => ({ r, i })).sort((a, b) => a.r.offset - b.r.offset)
  for (let k = 1; k < sorted.length; k++) {
    const p = sorted[k - 1] as { r: VerifyRange; i: number }
    const c = sorted[k] as { r: VerifyRange; i: number }
    if (c.r.offset < p.r.offset + p.r.length) {
      throw bad(`ranges[${c.i}]`, `bytes ${c.r.offset}..${c.r.offset + c.r.length} overlap ranges[${p.i}] (${p.r.offset}..${p.r.offset + p.r.length}); each byte is compared once`)
    }
  }
  return sorted.map((s) => s.r)
}

/**
 * Checks every argument of a verify against the files as they are, then
 * opens them read-only. Nothing is read yet; nothing is ever written.
 */
export function openVerify(
  io: IoBackend, source: string | null, replicaPaths: string[], o: VerifyOptions, s: ClientSettings,
): VerifyPlan {
  if (typeof o !== 'object' || o === null) throw bad('options', 'must be an object')
  const hooks = callerHooks({ signal: o.signal })
  const manifest = o.manifest === undefined ? null : checkManifest(o.manifest)
  if (source === null && !manifest) throw bad('source', 'a source path is required (or null with options.manifest)')
  if (source !== null && manifest) throw bad('manifest', 'verify against a source or a manifest, not both (pass null as the source)')
  if (!Array.isArray(replicaPaths) || replicaPaths.length === 0 || replicaPaths.length > MAX_DESTINATIONS) {
    throw bad('replicas', `between 1 and ${MAX_DESTINATIONS} replica paths are required`)
  }
  let chunkBytes = checkChunkBytes(o.chunkBytes ?? s.chunkBytes, 'chunkBytes', s.bufferBytes)
  if (manifest) {
    if (o.chunkBytes !== undefined && o.chunkBytes !== manifest.chunkBytes) {
      throw bad('chunkBytes', `${o.chunkBytes} differs from the manifest's chunk size, ${manifest.chunkBytes}: a manifest can only be checked in its own chunks`)
    }
    chunkBytes = checkChunkBytes(manifest.chunkBytes, 'manifest.chunkBytes', s.bufferBytes)
  }
  const direct = checkDirectMode(o.direct ?? s.direct, 'direct')
  const maxDifferences = o.maxDifferences ?? DEFAULT_LISTED_DIFFERENCES
  if (!Number.isSafeInteger(maxDifferences) || maxDifferences < 0 || maxDifferences > MAX_LISTED_DIFFERENCES) {
    throw bad('maxDifferences', `must be a whole number from 0 to ${MAX_LISTED_DIFFERENCES}, got ${String(o.maxDifferences)}`)
  }
  const srcFacts = source === null ? null : inspectPath(io, source, 'source', false)
  const facts = replicaPaths.map((p, i) => inspectPath(io, p, `replicas[${i}]`, false))
  // By position and path: replicas[k] reads as REPLICA k+1 on the command line.
  const seen = new Map<string, string>(srcFacts ? [[srcFacts.identity, `the source ${srcFacts.path}`]] : [])
  facts.forEach((f, i) => {
    const other = seen.get(f.identity)
    if (other) throw bad(`replicas[${i}]`, `${f.path} is the same file or device as ${other}; comparing it with itself proves nothing`)
    seen.set(f.identity, `replicas[${i}] ${f.path}`)
  })
  const referenceBytes = srcFacts ? srcFacts.sizeBytes : (manifest as Manifest).sizeBytes
  const refName = srcFacts ? `source ${srcFacts.path}` : 'the manifest'
  const explicitRanges = o.ranges !== undefined
  const ranges = explicitRanges
    ? checkRanges(o.ranges, referenceBytes, refName, facts, manifest ? chunkBytes : null)
    : referenceBytes > 0 ? [{ offset: 0, length: referenceBytes }] : []

  const opened: OpenFile[] = []
  const open = (f: PathFacts, argument: string): OpenFile => {
    const file = openForJob(io, f, false, probeDirect(io, f, direct, argument), direct)
    opened.push(file)
    return file
  }
  try {
    const src = srcFacts ? open(srcFacts, 'source') : null
    const replicas = facts.map((f, i) => open(f, `replicas[${i}]`))
    const work = compareWork(src, replicas, ranges, chunkBytes, manifest)
    const spec: JobSpec = {
      kind: 'verify', source: src, srcOffset: 0, dests: [], destOffsets: [], readers: replicas,
      totalBytes: ranges.reduce((n, r) => n + r.length, 0), chunkBytes, verify: 'none',
      // Every difference and every unreadable range is wanted, not just the first.
      ignoreErrors: true, sequentialWrites: false,
      work: () => work,
      ...hooks,
    }
    return { spec, source: src, replicas, manifest, ranges, explicitRanges, referenceBytes, fileOffset: work.fileOffset, maxDifferences }
  } catch (err) {
    for (const f of opened) closeFile(io, f)
    throw err
  }
}

/** The ranges end to end, each cut into chunks on absolute multiples of the chunk size (a manifest's own chunks). */
function compareWork(
  src: OpenFile | null, replicas: OpenFile[], ranges: VerifyRange[], chunkBytes: number, m: Manifest | null,
): WorkPlan & { fileOffset(index: number): number } {
  const plans: ChunkPlan[] = ranges.map((r) => ({ anchorOffsetBytes: r.offset, totalBytes: r.length, chunkBytes }))
  const firstTask: number[] = []
  const before: number[] = []
  let tasks = 0
  let bytes = 0
  for (const p of plans) {
    firstTask.push(tasks)
    before.push(bytes)
    tasks += chunkCount(p)
    bytes += p.totalBytes
  }
  // The range holding task i: the last range whose first task is <= i.
  const rangeOf = (i: number): number => {
    let lo = 0
    let hi = plans.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if ((firstTask[mid] as number) <= i) lo = mid
      else hi = mid - 1
    }
    return lo
  }
  const locate = (i: number) => {
    const k = rangeOf(i)
    const c = chunkAt(plans[k] as ChunkPlan, i - (firstTask[k] as number))
    return { file: (ranges[k] as VerifyRange).offset + c.offset, jobOffset: (before[k] as number) + c.offset, length: c.length }
  }
  const srcRef = src ? ref(src) : null
  const refs = replicas.map(ref)
  return {
    count: tasks,
    fileOffset: (i) => locate(i).file,
    extent: (i) => {
      const c = locate(i)
      return { offset: c.jobOffset, length: c.length }
    },
    task: (i): CompareTask => {
      const c = locate(i)
      return {
        kind: 'compare', chunkIndex: i, offsetBytes: c.file, lengthBytes: c.length, src: srcRef, replicas: refs,
        replicaLengths: replicas.map((r) => Math.max(0, Math.min(c.length, r.sizeBytes - c.file))),
        expect: m ? { digest: chunkDigestBytes(m, c.file / chunkBytes), algo: m.algo } : null,
      }
    },
  }
}
