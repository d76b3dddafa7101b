import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { BlockcopyError, SystemError, toSystemError } from '../errors.js'
import type { CopyResult, JobKind } from '../job.js'
import type { JobState } from './status.js'

/**
 * Jobs started with --detach, as files in a state directory, so that any
 * process can see them: one `ID.json` per job (written whole: temporary
 * file, fsync, rename) and `ID.log` with the job's own output.
 */
export interface JobRecord {
  id: string
  kind: JobKind
  /** The command line the job runs, without --detach. */
  argv: string[]
  pid: number
  /** Start time of `pid` (/proc/PID/stat field 22), so a reused pid is never taken for the job. */
  pidStart: string
  status: JobState
  percent: number
  /** As Progress.doneBytes: what reached every destination (and was verified, if asked). */
  doneBytes: number
  /** As Progress.failedBytes; absent from records written before it was kept. */
  failedBytes?: number
  totalBytes: number
  startedAt: string
  updatedAt: string
  /** The exit code the job's process gave or will give (0, 2, 3, 130). */
  exitCode?: number
  /** The job's result without its per-chunk digests (kept small). */
  result?: Omit<CopyResult, 'chunks'>
  error?: { code: string; message: string }
}

/** $BLOCKCOPY_STATE_DIR, else $XDG_STATE_HOME/blockcopy, else ~/.local/state/blockcopy. */
export function stateDir(): string {
  if (process.env.BLOCKCOPY_STATE_DIR) return process.env.BLOCKCOPY_STATE_DIR
  const base = process.env.XDG_STATE_HOME || path.join(os.homedir(), '.local', 'state')
  return path.join(base, 'blockcopy')
}

const ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

function recordPath(id: string): string {
  if (!ID.test(id)) throw new BlockcopyError('INVALID_ARGUMENT', `ID: '${id}' is not a job id (a UUID as printed by --detach)`, 'id')
  return path.join(stateDir(), `${id}.json`)
}

export function logPath(id: string): string {
  return path.join(stateDir(), `${id}.log`)
}

/** The start time of a process, or null when it does not exist. */
export function processStart(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields after the command name (which may hold spaces) start at field 3,
    // the state: a zombie (Z) or dead (X) process is not running any job.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    if (fields[0] === 'Z' || fields[0] === 'X') return null
    return fields[19] ?? null
  } catch {
    return null
  }
}

/** Writes a record atomically: a reader sees the old one or the new one, never half of either. */
export function writeRecord(record: JobRecord): void {
  const dir = stateDir()
  fs.mkdirSync(dir, { recursive: true })
  const tmp = path.join(dir, `.${record.id}.${process.pid}.tmp`)
  const fd = fs.openSync(tmp, 'w', 0o644)
  try {
    fs.writeSync(fd, `${JSON.stringify(record)}\n`)
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
  fs.renameSync(tmp, recordPath(record.id))
  const dfd = fs.openSync(dir, 'r')
  try {
    fs.fsyncSync(dfd)
  } finally {
    fs.closeSync(dfd)
  }
}

/**
 * Reads a record. A job still 'inprogress' whose process is gone (or whose
 * pid now belongs to another process) is reported as failed: it died.
 */
export function readRecord(id: string): JobRecord {
  let text: string
  try {
    text = fs.readFileSync(recordPath(id), 'utf8')
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') {
      throw new BlockcopyError('JOB_NOT_FOUND', `ID: no job ${id} in ${stateDir()} (never started, or freed)`, 'id')
    }
    // Another user's job, say: named, never a stack trace.
    throw because(err, 'open', recordPath(id), `ID: the record of job ${id} cannot be read`)
  }
  let record: JobRecord
  try {
    record = JSON.parse(text) as JobRecord
  } catch {
    throw new BlockcopyError('BAD_RECORD', `ID: the record of job ${id}, ${recordPath(id)}, is damaged (not JSON); remove it by hand`, 'id')
  }
  if (record.status === 'inprogress' && processStart(record.pid) !== record.pidStart) {
    return {
      ...record,
      status: 'error',
      exitCode: 3,
      error: { code: 'JOB_DIED', message: `the job's process ${record.pid} ended without finishing (killed?); ${record.percent}% was done` },
    }
  }
  return record
}

/** Every job in the state directory, oldest first. */
export function listRecords(): JobRecord[] {
  let names: string[]
  try {
    names = fs.readdirSync(stateDir())
  } catch (err) {
    // None started yet; anything else (no permission) is said, not shown as "no jobs".
    if ((err as { code?: string }).code === 'ENOENT') return []
    throw because(err, 'scandir', stateDir(), `the job state directory ${stateDir()} cannot be read`, 'set BLOCKCOPY_STATE_DIR to use another')
  }
  return names
    .filter((n) => n.endsWith('.json') && !n.startsWith('.'))
    .flatMap((n) => {
      try {
        return [readRecord(n.slice(0, -'.json'.length))]
      } catch {
        return []
      }
    })
    .sort((a, b) => a.startedAt.localeCompare(b.startedAt))
}

/** Forgets a finished job: its record and its log. */
export function removeRecord(id: string): void {
  const record = readRecord(id)
  if (record.status === 'inprogress') {
    throw new BlockcopyError('INVALID_ARGUMENT', `ID: job ${id} is still in progress; cancel it first (blockcopy jobs cancel ${id})`, 'id')
  }
  try {
    fs.rmSync(recordPath(id), { force: true })
    fs.rmSync(logPath(id), { force: true })
  } catch (err) {
    throw because(err, 'unlink', recordPath(id), `ID: job ${id} cannot be freed`)
  }
}

/** A system error that says what could not be done, then the system's reason and path ("EACCES: what: permission denied, open '/x'"). */
function because(err: unknown, syscall: string, path: string, what: string, hint?: string): SystemError {
  const e = toSystemError(err, syscall, path)
  const message = `${e.code}: ${what}: ${e.message.replace(`${e.code}: `, '')}${hint ? `; ${hint}` : ''}`
  return new SystemError(message, e.code, e.errno, e.syscall, e.path ?? path)
}
