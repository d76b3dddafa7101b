import { toSystemError } from '../../errors.js'
import type { CopyResult, Job, JobKind } from '../../job.js'
import { finishedStatus, percentOf } from '../../engine/status.js'
import { processStart, recordPath, writeRecord, type JobRecord } from './store.js'

/** The least time between two writes of one job's record. */
export const RECORD_INTERVAL_MS = 250

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Keeps a detached job's record up to date from inside the job's process:
 * progress at most every 250 ms (the last update is never lost: a write
 * is scheduled for the end of the interval), and the outcome at the end.
 *
 * The record only reports on the job: one that cannot be written (a full
 * state directory, say) never stops the job nor throws. The job goes on to
 * its end, `say` is told once what failed (for the job's log), every later
 * update tries again, and `say` is told when one succeeds.
 */
export class JobRecorder {
  private lastWriteMs = 0
  private timer: NodeJS.Timeout | null = null
  private readonly record: JobRecord
  /** The last write of the record failed: said once, until one succeeds. */
  private failing = false

  private constructor(record: JobRecord, private readonly job: Job, private readonly say: (line: string) => void) {
    this.record = record
  }

  /** The record of a job that has passed its checks and is starting now; `say` gets a line when the record cannot be written, and when it can again. */
  static start(id: string, kind: JobKind, argv: string[], job: Job, say: (line: string) => void): JobRecorder {
    const now = new Date().toISOString()
    const r = new JobRecorder({
      id, kind, argv, pid: process.pid, pidStart: processStart(process.pid) ?? '', status: 'inprogress',
      percent: 0, doneBytes: job.doneBytes, failedBytes: job.failedBytes, totalBytes: job.totalBytes, startedAt: now, updatedAt: now,
    }, job, say)
    r.write()
    job.on('progress', (p) => r.progress(p.doneBytes, p.failedBytes))
    return r
  }

  private progress(doneBytes: number, failedBytes: number): void {
    this.record.doneBytes = doneBytes
    this.record.failedBytes = failedBytes
    this.record.percent = percentOf(doneBytes, this.record.totalBytes, false)
    const wait = this.lastWriteMs + RECORD_INTERVAL_MS - Date.now()
    if (wait <= 0) this.write()
    else this.timer ??= setTimeout(() => {
      this.timer = null
      this.write()
    }, wait)
  }

  /** Writes the outcome (no sooner than the interval allows) and the exit code the process will give. */
  async finish(result: CopyResult, exitCode: number): Promise<void> {
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    // The job's own final figures: a failed sync takes back what its chunks had reported done.
    const status = finishedStatus(this.record.id, result, this.job.doneBytes)
    const { chunks: _chunks, ...small } = result
    Object.assign(this.record, {
      status: status.status, percent: status.percent, doneBytes: this.job.doneBytes, failedBytes: this.job.failedBytes, exitCode, result: small,
      ...(status.status === 'error' ? { error: status.error } : {}),
    })
    await sleep(Math.max(0, this.lastWriteMs + RECORD_INTERVAL_MS - Date.now()))
    this.write()
  }

  private write(): void {
    // A write now makes a pending one redundant: on a busy machine its timer
    // runs late, after a progress event that found the interval over had
    // already written, and the two writes came milliseconds apart.
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    this.record.updatedAt = new Date().toISOString()
    const file = recordPath(this.record.id)
    try {
      writeRecord(this.record)
    } catch (err) {
      if (!this.failing) this.say(`the job's record ${file} could not be updated (${toSystemError(err, 'write', file).message}); the job goes on, and each update tries again`)
      this.failing = true
      return
    } finally {
      // From the end of the write, failed or not: the next update tries again, no sooner than the interval.
      this.lastWriteMs = Date.now()
    }
    if (this.failing) this.say(`the job's record ${file} is up to date again`)
    this.failing = false
  }
}
