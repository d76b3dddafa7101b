import fs from 'node:fs'
import { Piscina } from 'piscina'
import { BlockcopyError } from './errors.js'
import { loadBackend } from './io/index.js'
import type { BackendInfo, IoBackend } from './io/types.js'
import type { JobStatus } from './engine/status.js'
import { Job, type JobSpec, type NotifyFn, type VerifyMode } from './job.js'
import { copyOptions, zeroOptions, type CopyOptions, type ZeroOptions } from './job-options.js'
import { openCopy, openZero } from './files/open-job.js'
import { answers, type ChunkResult, type ChunkTask, type PoolTask, type ProbeResult, type TaskResult, type TaskResults, type WorkerConfig } from './protocol/protocol.js'
import { inspectPath, PAGE_BYTES, type Region } from './files/regions.js'
import { openReplicate, type ReplicateOptions } from './replicate/engine.js'
import type { ReplicateRange } from './replicate/ranges.js'
import { capabilitiesOf, replicateBlockSize, type Capabilities } from './caps/caps.js'
import { clientSettings, type ClientOptions, type ClientSettings } from './options.js'
import { manifestOf, openHash, type HashJob, type HashOptions } from './hash/hash-job.js'
import type { Manifest } from './hash/manifest.js'
import { checkDestSize, chunkHasher, manifestAfter, sampleCheck, sinceOptions } from './incremental/since.js'
import { destDigests, judgeDest } from './incremental/dest-check.js'
import { Baseline } from './incremental/baseline.js'
import { openVerify, type VerifyOptions } from './verify/verify-plan.js'
import { badBlockOptions, mapOptions, openMap } from './journal/resume.js'
import { Throttle } from './throttle.js'
import { DifferenceCollector, type VerifyReport } from './verify/verify-report.js'

/**
 * A copy job. For an incremental copy (`since`), `manifest` resolves once it
 * ends to the destination's manifest as it now is: the new one after
 * success; after a cancel or failure, one that marks the chunks a failure
 * may have cut short as unknown (since.ts manifestAfter); null when the job
 * was refused before writing (the old manifest still holds). Null for other
 * copies. It never rejects.
 */
export type CopyJob = Job & { readonly manifest: Promise<Manifest | null> }

/**
 * A verify job: progress, cancel and status like any job; `report` resolves
 * once it ends. Read errors and differences are data in the report; it
 * rejects only when `result` does (an internal error), with the same error.
 */
export type VerifyJob = Job & { readonly report: Promise<VerifyReport> }

export type { CopyOptions, ZeroOptions, NotifyFn, VerifyMode }

/**
 * kcopyd_client_create: a pool of I/O workers with a fixed memory budget.
 * One per process or per tenant; jobs from one client share its workers.
 */
export async function createClient(options: ClientOptions = {}): Promise<CopyClient> {
  return new CopyClient(clientSettings(options))
}

const here = import.meta.url
const workerFile = new URL(`../workers/chunk.worker.${here.endsWith('.ts') ? 'ts' : 'js'}`, here)

export class CopyClient {
  readonly settings: ClientSettings
  private readonly io: IoBackend
  private readonly pool: Piscina<PoolTask, TaskResults[PoolTask['kind']]>
  private readonly running = new Set<Job>()
  private readonly throttle: Throttle
  /** Every job started and not yet freed, for jobStatus and jobFree. */
  private readonly jobs = new Map<string, Job>()
  private destroyed = false
  private destroying: Promise<void> | null = null

  constructor(settings: ClientSettings) {
    this.settings = settings
    this.throttle = new Throttle(settings.rateBytesPerSec)
    this.io = loadBackend({ prefer: settings.io })
    const workerData: WorkerConfig = { bufferBytes: settings.bufferBytes, pageBytes: PAGE_BYTES, io: settings.io }
    this.pool = new Piscina({
      filename: workerFile.href,
      minThreads: settings.threads,
      maxThreads: settings.threads,
      concurrentTasksPerWorker: 1,
      // Queued tasks must start in the order they were run: sequential writes
      // wait for every lower chunk index (src/chunk/copy.ts). By default Piscina
      // puts a task it could not place yet at the back of its queue, so a later
      // chunk could take the last free worker while an earlier one waits: deadlock.
      stricterFIFO: true,
      idleTimeout: 2 ** 31 - 1,
      workerData,
    })
  }

  /** The I/O backend in use in this thread, and why the addon is not, if it is not. */
  get backend(): BackendInfo {
    return this.io.info
  }

  /**
   * kcopyd_copy: copies one source region to 1–8 destination regions.
   * Arguments are checked, and missing destinations created, before this
   * returns; bad input throws here and nothing is written.
   */
  copy(from: Region, to: Region[], options: CopyOptions = {}): CopyJob {
    this.alive()
    const inc = sinceOptions(options ?? {}, from, to)
    const o = copyOptions(inc ? { ...options, chunkBytes: inc.chunkBytes, verify: inc.verify } : options, this.settings)
    if (inc) {
      // The source first: a missing one is NOT_FOUND_VOLUME, not a destination that does not match.
      inspectPath(this.io, from?.path, 'from.path', false)
      checkDestSize(inc, inspectPath(this.io, to[0]?.path as string, 'to[0].path', true))
    }
    const mapped = mapOptions(options ?? {})
    const bad = badBlockOptions(options ?? {})
    let resume: ReturnType<typeof openMap> | null = null
    // An incremental copy with a reflink baseline reads this run's clone of
    // the source: its file made once every argument has passed its checks,
    // the source cloned into it by a worker before anything is read.
    let baseline: Baseline | null = null
    let spec
    try {
      spec = openCopy(this.io, from, to, o, (c) => {
        if (mapped) resume = openMap(mapped, c, o.chunkBytes, this.io)
        if (!inc?.baseline) return
        baseline = Baseline.take(this.io, c.source.path, to[0]?.path as string, inc.baseline.path, inc.since.manifest, inc.baseline.name)
        return inspectPath(this.io, baseline.clonePath, inc.baseline.name, false)
      })
    } catch (err) {
      (baseline as Baseline | null)?.abandon();
      (resume as ReturnType<typeof openMap> | null)?.journal.release()
      throw err
    }
    const beforeWrite = options?.beforeWrite
    if (!inc) {
      const r = resume as ReturnType<typeof openMap> | null
      const src = spec.source
      const badBlocks = bad && src
        // The device's logical block (BLKSSZGET), or 512 for a file.
        ? { ...bad, blockBytes: this.io.blockInfo(src.fd).logicalBlockBytes }
        : null
      const job = this.start({
        ...spec, ...(r ? { journal: r.journal, extents: r.extents } : {}),
        ...(r || beforeWrite ? {
          prepare: async () => {
            // Is the map this source's? Read from the job's own descriptors, before the map's first save and any write.
            if (r && src) await r.journal.checkSource(this.io, src)
            await beforeWrite?.()
          },
        } : {}),
        ...(badBlocks ? { badBlocks } : {}),
        ...(options?.timing === true ? { timing: true } : {}),
      })
      // The map's lock is held until its last save, or until the job is refused before it starts.
      if (r) void job.result.finally(() => r.journal.release()).catch(() => undefined)
      return Object.assign(job, { manifest: Promise.resolve(null) })
    }
    const m = inc.since.manifest
    const dest = spec.dests[0]
    const ckpt = baseline as Baseline | null
    if (ckpt) inc.since.reflinkBaseline = ckpt
    const job = this.start({
      ...spec,
      since: inc.since,
      ...(ckpt ? { ioFree: (i: number) => ckpt.skips(i, inc.since) } : {}),
      hashAlgo: m.algo,
      prepare: async (signal) => {
        const src = spec.source
        if (!src || !dest) throw new Error('incremental copy: the job has no source or destination to check')
        if (ckpt) await ckpt.clone((task) => this.run(task))
        if (inc.checkDest && !inc.since.writeAll) {
          // Every chunk of the destination, hashed through the workers as `hash` reads it.
          const check = openHash(this.io, dest.path, { chunkBytes: m.chunkBytes, algo: m.algo, direct: o.direct, signal }, this.settings, m.sizeBytes)
          const r = await this.start({ ...check, ignoreErrors: true }, undefined, false).result
          // Single chunks are read here only where the hash job left one without a digest, or to refuse.
          let digestOf: Awaited<ReturnType<typeof chunkHasher>> | null = null
          const one = (f: typeof src) => async (i: number) => {
            digestOf ??= await chunkHasher(this.io, m, [src, dest])
            return digestOf(f, i)
          }
          await judgeDest(inc, r.cancelled ? null : destDigests(r, m), dest.path, { source: one(src), dest: one(dest) })
        } else {
          await sampleCheck(inc, this.io, src, dest)
        }
        await beforeWrite?.()
      },
      // The destination becomes the source: a file takes the source's size
      // (losing its old tail if the source shrank), even if the copy failed,
      // so the manifest of what it holds now describes it.
      finish: () => {
        if (dest && !dest.isBlockDevice && fs.fstatSync(dest.fd).size !== spec.totalBytes) fs.ftruncateSync(dest.fd, spec.totalBytes)
      },
    }, ckpt ? (t) => ckpt.skip(t, inc.since) : undefined)
    // Rejected only when nothing was written (the check before writing refused): the old manifest still holds.
    const manifest = job.result.then(async (r) => {
      // Checked whole, the destination's chunks that were not written hold what the check found.
      if (!r.ok) return manifestAfter(r, inc.since.baseline ?? m)
      const next = await manifestOf(r, m.algo)
      // A baseline that cannot be kept costs the next run its reads, not this run its manifest.
      if (next && ckpt) {
        await ckpt.commit(next).catch((err: unknown) => {
          process.emitWarning(`blockcopy: baseline ${ckpt.info.path} was not kept (${String(err)}); the next run reads every chunk`)
        })
      }
      return next
    }).catch(() => null).finally(() => ckpt?.abandon())
    return Object.assign(job, { manifest })
  }

  /**
   * lsm_volume_replicate_range: copies or clones many ranges of `source` to
   * `dest`, which may be the same file or device. Overlapping source and
   * destination areas give what a memmove would. Checked before it returns.
   */
  replicate(source: string, dest: string, ranges: ReplicateRange[], options: ReplicateOptions): Job {
    this.alive()
    return this.start(openReplicate(this.io, source, dest, ranges, options, this.settings))
  }

  /**
   * dm_kcopyd_zero: zeroes a range on up to 8 destinations: `length` bytes
   * (or each region's length), else the rest of each existing file. A block
   * device given no length is refused (INVALID_ARGUMENT naming it) unless
   * `all: true` asks for it to be zeroed to its end.
   */
  zero(to: Region[], options: ZeroOptions = {}): Job {
    this.alive()
    const o = zeroOptions(options, this.settings)
    return this.start(openZero(this.io, to, o))
  }

  /**
   * Reads a file or block device once through the workers, one chunk per
   * task (O_DIRECT where possible), and hashes every chunk: a Job whose
   * `manifest` resolves to the chunk manifest (src/hash/manifest.ts), or
   * null if a chunk could not be read or the job was cancelled. A missing
   * path is NOT_FOUND_VOLUME, a directory or bad option INVALID_ARGUMENT,
   * thrown here before anything is read.
   */
  hash(path: string, options: HashOptions = {}): HashJob {
    this.alive()
    const spec = openHash(this.io, path, options, this.settings)
    const job = this.start(spec)
    // null, never a rejection, if the job itself failed: `result` carries the error.
    const manifest = job.result.then((r) => manifestOf(r, spec.hashAlgo)).catch(() => null)
    return Object.assign(job, { manifest })
  }

  /**
   * Are the replicas identical to the source? Reads the source once and
   * every replica once, chunk by chunk across the workers (O_DIRECT where
   * possible), comparing bytes; `report` says per replica where it differs,
   * as exact runs of differing bytes (runs fewer than 64 bytes apart are
   * one; the first `maxDifferences` listed, all of them counted), and which
   * ranges could not be read. With `source` null and
   * `options.manifest`, replicas are checked against the manifest's chunk
   * digests instead (differences then at chunk granularity). Bad arguments
   * throw here, before anything is read; nothing is ever written.
   */
  verify(source: string | null, replicas: string[], options: VerifyOptions = {}): VerifyJob {
    this.alive()
    const plan = openVerify(this.io, source, replicas, options, this.settings)
    const collector = new DifferenceCollector(plan)
    const job = this.start({ ...plan.spec, onChunk: (r) => collector.add(r) })
    const report = job.result.then((r) => collector.report(job.id, r))
    report.catch(() => undefined)
    return Object.assign(job, { report })
  }

  /**
   * LSM_CAP_VOLUME_COPY_RANGE*: what each path supports (direct I/O, clone,
   * copy_file_range, zero-out, holes) and why not, probed on the spot in this
   * thread with unnamed scratch files. A path still to be created reports its
   * directory's file system; if the directory is missing too, NOT_FOUND_VOLUME.
   */
  capabilities(paths: string[]): Capabilities[] {
    this.alive()
    return capabilitiesOf(this.io, paths)
  }

  /** lsm_volume_replicate_range_block_size: clone block size where clones work, else the logical block size. */
  replicateBlockSize(path: string): number {
    this.alive()
    return replicateBlockSize(this.io, path, 'path')
  }

  /**
   * Runs one probe in each of `threads` workers at once and reports which
   * backend each loaded: proof that the addon loads in every worker.
   */
  async probeWorkers(): Promise<Array<Omit<ProbeResult, 'kind'>>> {
    this.alive()
    // The answers as they always were, without the protocol's kind.
    return (await this.rendezvous()).map(({ kind: _kind, ...probe }) => probe)
  }

  /** One probe in each worker at once: it resolves once every worker has loaded and answered. */
  private async rendezvous(): Promise<ProbeResult[]> {
    const parties = this.settings.threads
    const rendezvous = new SharedArrayBuffer(4)
    return Promise.all(Array.from({ length: parties }, () => this.run({ kind: 'probe', rendezvous, parties })))
  }

  /**
   * Runs one task on the pool. Piscina's types cannot say which result
   * answers which task, so the answer's kind is checked here, the one
   * place results enter the main thread; a mismatch rejects, and the
   * scheduler reports it as a failed worker.
   */
  private async run<T extends PoolTask>(task: T): Promise<TaskResult<T>> {
    const result = await this.pool.run(task)
    if (!answers(task, result)) throw new Error(`a ${task.kind} task was answered with a ${String(result?.kind)} result`)
    return result
  }

  /**
   * dm_kcopyd_throttle: limits every job of this client together to
   * `bytesPerSec` (null: no limit), from the next chunk on, running jobs
   * included.
   */
  setRate(bytesPerSec: number | null): void {
    this.alive()
    this.throttle.set(bytesPerSec)
  }

  /** The current limit in bytes per second, or null. */
  get rate(): number | null {
    return this.throttle.rate
  }

  /** lsm job_status_get: state, percent, and the result or error once finished. JOB_NOT_FOUND for unknown ids. */
  jobStatus(id: string): JobStatus {
    return this.job(id).status()
  }

  /** lsm job_free: forgets a finished job. A running one must be cancelled and finish first. */
  jobFree(id: string): void {
    const job = this.job(id)
    if (!job.ended) {
      throw new BlockcopyError('INVALID_ARGUMENT', `id: job ${id} is still in progress; cancel it and let it finish first`, 'id')
    }
    this.jobs.delete(id)
  }

  private job(id: string): Job {
    const job = this.jobs.get(id)
    if (!job) throw new BlockcopyError('JOB_NOT_FOUND', `id: no job ${String(id)} in this client (never started, or freed)`, 'id')
    return job
  }

  /** kcopyd_client_destroy: waits for running jobs, then ends the workers and frees their buffers. */
  destroy(): Promise<void> {
    this.destroying ??= (async () => {
      this.destroyed = true
      await Promise.allSettled([...this.running].map((j) => j.result))
      // A worker terminated while it still loads its module aborts the whole
      // process (Node 20 loads it with require(esm): "Assertion failed:
      // facade->InstantiateModule", about one destroy in 150 right after
      // createClient), so every worker is let finish loading first.
      await this.rendezvous().catch(() => undefined)
      await this.pool.destroy()
    })()
    return this.destroying
  }

  /**
   * Starts a job on the pool; `skip` may answer a task without a worker (an
   * unchanged chunk under a reflink baseline). A job that is part of another
   * (an incremental copy's check) is not `listed` for jobStatus: the other
   * one is, and destroy() waits for it.
   */
  private start(spec: JobSpec, skip?: (task: ChunkTask) => Promise<ChunkResult> | null, listed = true): Job {
    const run = (task: ChunkTask) => skip?.(task) ?? this.run(task)
    // Enough queued descriptors to keep every worker busy between round
    // trips; data only ever lives in the workers' fixed buffers.
    const job = new Job({ ...spec, throttle: this.throttle }, this.io, run, this.settings.threads * 2)
    if (!listed) return job
    this.running.add(job)
    this.jobs.set(job.id, job)
    void job.result.finally(() => this.running.delete(job)).catch(() => undefined)
    return job
  }

  private alive(): void {
    if (this.destroyed) {
      throw new BlockcopyError('CLIENT_DESTROYED', 'this client was destroyed; create a new one with createClient()')
    }
  }
}
