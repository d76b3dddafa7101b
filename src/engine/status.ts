import type { CopyResult } from '../job.js'

/** lsm's job states. */
export type JobState = 'inprogress' | 'complete' | 'error' | 'cancelled'

/** What job_status_get answers: the state, the percentage done, and the result or error once finished. */
export type JobStatus =
  | { id: string; status: 'inprogress'; percent: number }
  | { id: string; status: 'complete' | 'cancelled'; percent: number; result: CopyResult }
  | { id: string; status: 'error'; percent: number; result?: CopyResult; error: { code: string; message: string } }

/** Whole percent of `doneBytes` in `totalBytes`; an empty job is 100 % once done. */
export function percentOf(doneBytes: number, totalBytes: number, finished: boolean): number {
  if (totalBytes === 0) return finished ? 100 : 0
  return Math.min(100, Math.floor((doneBytes * 100) / totalBytes))
}

/** The status of a finished job, from its result. */
export function finishedStatus(id: string, r: CopyResult, doneBytes: number): JobStatus {
  const percent = percentOf(doneBytes, r.totalBytes, true)
  if (r.readErr || r.writeErr !== 0) {
    const first = r.errors[0]
    const message = first
      ? `${r.errors.length} failed range(s); first: ${first.dest < 0 ? 'source' : `destination ${first.dest}`} bytes ${first.offset}..${first.offset + first.length}: ${first.code} from ${first.syscall}`
      : 'I/O errors'
    return { id, status: 'error', percent, result: r, error: { code: first?.code ?? 'EIO', message } }
  }
  if (r.cancelled) return { id, status: 'cancelled', percent, result: r }
  return { id, status: 'complete', percent, result: r }
}
