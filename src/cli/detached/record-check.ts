import type { JobKind } from '../../job.js'
import type { JobState } from '../../engine/status.js'

const KINDS: readonly JobKind[] = ['copy', 'zero', 'replicate', 'hash', 'verify']
const STATES: readonly JobState[] = ['inprogress', 'complete', 'error', 'cancelled']

/** A value as a record file has it, cut short: for saying what is wrong. */
function shown(v: unknown): string {
  const text = v === undefined ? 'nothing' : JSON.stringify(v)
  return text.length > 40 ? `${text.slice(0, 37)}...` : text
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
const isCount = (v: unknown): boolean => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0

/**
 * What is wrong with `value` as the record of job `id` (a file's parsed
 * JSON), or null when it is one: every field `jobs` reads, with its type.
 * A record is written whole by blockcopy, so anything else was written by
 * something else (an edit, another program, a disk that lost it).
 */
export function recordProblem(value: unknown, id: string): string | null {
  if (!isObject(value)) return `it must be a JSON object, got ${shown(value)}`
  const v = value
  if (v.id !== id) return `its id must be ${id}, the file's name, got ${shown(v.id)}`
  if (!KINDS.includes(v.kind as JobKind)) return `kind must be one of ${KINDS.join(', ')}, got ${shown(v.kind)}`
  if (!Array.isArray(v.argv) || !v.argv.every((a) => typeof a === 'string')) return `argv must be a list of strings, got ${shown(v.argv)}`
  if (typeof v.pid !== 'number' || !Number.isSafeInteger(v.pid) || v.pid <= 0) return `pid must be a process id, got ${shown(v.pid)}`
  if (typeof v.pidStart !== 'string') return `pidStart must be a string, got ${shown(v.pidStart)}`
  if (!STATES.includes(v.status as JobState)) return `status must be one of ${STATES.join(', ')}, got ${shown(v.status)}`
  if (typeof v.percent !== 'number' || !(v.percent >= 0 && v.percent <= 100)) return `percent must be a number from 0 to 100, got ${shown(v.percent)}`
  for (const k of ['doneBytes', 'totalBytes'] as const) {
    if (!isCount(v[k])) return `${k} must be a whole number of bytes, got ${shown(v[k])}`
  }
  // Absent from records written before it was kept.
  if (v.failedBytes !== undefined && !isCount(v.failedBytes)) return `failedBytes must be a whole number of bytes, got ${shown(v.failedBytes)}`
  for (const k of ['startedAt', 'updatedAt'] as const) {
    if (typeof v[k] !== 'string' || Number.isNaN(Date.parse(v[k]))) return `${k} must be a date, got ${shown(v[k])}`
  }
  if (v.exitCode !== undefined && (!Number.isInteger(v.exitCode) || (v.exitCode as number) < 0 || (v.exitCode as number) > 255)) {
    return `exitCode must be an exit code from 0 to 255, got ${shown(v.exitCode)}`
  }
  if (v.result !== undefined && !isObject(v.result)) return `result must be an object, got ${shown(v.result)}`
  if (v.error !== undefined && !(isObject(v.error) && typeof v.error.code === 'string' && typeof v.error.message === 'string')) {
    return `error must be { code, message }, got ${shown(v.error)}`
  }
  if (v.omitted !== undefined && !(isObject(v.omitted) && Object.values(v.omitted).every(isCount))) {
    return `omitted must be counts of entries, got ${shown(v.omitted)}`
  }
  return null
}
