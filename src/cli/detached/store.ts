// cli/detached/: the records of jobs started with --detach (store, periodic recorder, size bound, checks on reading), used by the CLI only.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { BlockcopyError, SystemError, toSystemError } from '../../errors.js'
import type { CopyResult, JobKind } from '../../job.js'
import { recordProblem } from './record-check.js'
import { readRecordFile, recordText, type OmittedCounts } from './record-size.js'
import type { JobState } from '../../engine/status.js'

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
  /** How many entries of argv and of the result's lists were left out to keep the record within its size (src/cli/detached/record-size.ts). */
  omitted?: OmittedCounts
}

/** $BLOCKCOPY_STATE_DIR, else $XDG_STATE_HOME/blockcopy, else ~/.local/state/blockcopy. */
export function stateDir(): string {
  if (process.env.BLOCKCOPY_STATE_DIR) return process.env.BLOCKCOPY_STATE_DIR
  const base = process.env.XDG_STATE_HOME || path.join(os.homedir(), '.local', 'state')
  return path.join(base, 'blockcopy')
}

const ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/** The file of job `id`'s record. */
export function recordPath(id: string): string {
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

/**
 * Writes a record atomically: a reader sees the old one or the new one, never
 * half of either. One that cannot be written (a full state directory) throws
 * and leaves the old one, and no temporary file taking room.
 */
export function writeRecord(record: JobRecord): void {
  const dir = stateDir()
  fs.mkdirSync(dir, { recursive: true })
  const tmp = path.join(dir, `.${record.id}.${process.pid}.tmp`)
  try {
    const fd = fs.openSync(tmp, 'w', 0o644)
    try {
      // A nearly full file system takes part of a write and says so only at the next one: never rename a part.
      const text = Buffer.from(recordText(record))
      for (let done = 0; done < text.length;) done += fs.writeSync(fd, text, done, text.length - done)
      fs.fsyncSync(fd)
    } finally {
      fs.closeSync(fd)
    }
    fs.renameSync(tmp, recordPath(record.id))
  } catch (err) {
    try {
      fs.rmSync(tmp, { force: true })
    } catch {
      // The write's error is the one to tell.
    }
    throw err
  }
  const dfd = fs.openSync(dir, 'r')
  try {
    fs.fsyncSync(dfd)
  } finally {
    fs.closeSync(dfd)
  }
}

/**
 * A file in the state directory that is not a job record (BAD_RECORD: not
 * JSON, not the shape of one) or cannot be read (its errno: another user's,
 * say): named with what is wrong, so that `jobs` lists it on its own, and
 * the others, instead of failing on it or hiding it.
 */
export interface BadRecord {
  id: string
  file: string
  error: { code: string; message: string }
}

/** What `jobs` lists: a record, or a file that should be one. */
export type ListedJob = JobRecord | BadRecord

export function isBadRecord(j: ListedJob): j is BadRecord {
  return 'file' in j
}

function badRecord(id: string, file: string, problem: string): BadRecord {
  return { id, file, error: { code: 'BAD_RECORD', message: `the record of job ${id}, ${file}, ${problem}; remove it by hand` } }
}

/**
 * The state directory's entries, or none when it does not exist yet (no job
 * was ever detached). One that exists but cannot be listed (a file, no
 * permission) is said, naming it: "no jobs" would be a lie.
 */
function stateEntries(): string[] {
  try {
    return fs.readdirSync(stateDir())
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return []
    throw because(err, 'scandir', stateDir(), `the job state directory ${stateDir()} cannot be read`, 'set BLOCKCOPY_STATE_DIR to use another')
  }
}

/**
 * Loads a record as it is on disk: the record, or what is wrong with its
 * file. A job still 'inprogress' whose process is gone (or whose pid now
 * belongs to another process) is reported as failed: it died.
 */
function loadRecord(id: string): JobRecord | BadRecord {
  const file = recordPath(id)
  let text: string
  try {
    // Whatever the state directory holds under a record's name: a FIFO, /dev/zero, a huge file.
    const read = readRecordFile(file)
    if ('problem' in read) return badRecord(id, file, read.problem)
    text = read.text
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'EIO'
    // A state directory that is not one says so, rather than hiding every job behind "not found".
    stateEntries()
    if (code === 'ENOENT') {
      throw new BlockcopyError('JOB_NOT_FOUND', `ID: no job ${id} in ${stateDir()} (never started, or freed)`, 'id')
    }
    // Another user's job, say: named, never a stack trace.
    throw because(err, 'open', file, `ID: the record of job ${id}, ${file}, cannot be read`)
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return badRecord(id, file, 'is damaged (not JSON)')
  }
  const problem = recordProblem(value, id)
  if (problem) return badRecord(id, file, `is not a job record: ${problem}`)
  const record = value as JobRecord
  if (record.status === 'inprogress' && processStart(record.pid) !== record.pidStart) {
    return {
      ...record,
      status: 'error',
      exitCode: 3,
      // Or it finished, and could not write so in its record (a full state directory): its log tells.
      error: { code: 'JOB_DIED', message: `the job's process ${record.pid} ended without its record saying how (killed? or the record could not be written: see ${logPath(id)}); ${record.percent}% was done when it was last written` },
    }
  }
  return record
}

/** Reads a record; one that is not a job record is BAD_RECORD, naming the file and what is wrong. */
export function readRecord(id: string): JobRecord {
  const r = loadRecord(id)
  if (isBadRecord(r)) throw new BlockcopyError('BAD_RECORD', `ID: ${r.error.message}`, 'id')
  return r
}

/** Every job in the state directory, oldest first, then every file that should be a record and is not, or cannot be read. */
export function listRecords(): ListedJob[] {
  const good: JobRecord[] = []
  const bad: BadRecord[] = []
  for (const name of stateEntries().filter((n) => n.endsWith('.json') && !n.startsWith('.')).sort()) {
    const id = name.slice(0, -'.json'.length)
    if (!ID.test(id)) {
      bad.push(badRecord(id, path.join(stateDir(), name), 'is not named after a job id (a UUID as --detach prints)'))
      continue
    }
    try {
      const r = loadRecord(id)
      if (isBadRecord(r)) bad.push(r)
      else good.push(r)
    } catch (err) {
      // Freed while the directory was listed.
      if (err instanceof BlockcopyError && err.code === 'JOB_NOT_FOUND') continue
      if (!(err instanceof SystemError)) throw err
      bad.push({ id, file: recordPath(id), error: { code: err.code, message: err.message } })
    }
  }
  return [...good.sort((a, b) => a.startedAt.localeCompare(b.startedAt)), ...bad]
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
