import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import fs from 'node:fs'
import type { Command } from 'commander'
import { BlockcopyError, SystemError, toSystemError } from '../../errors.js'
import { isBadRecord, listRecords, logPath, readRecord, removeRecord, stateDir, type JobRecord, type ListedJob } from './store.js'
import { RECORD_MAX_BYTES } from './record-size.js'
import { formatBytes } from '../../units.js'
import { EXIT } from '../exit.js'

const DETACHABLE: readonly string[] = ['copy', 'zero', 'replicate']

/** Whether `flag` is among the options of argv: before a `--`, after which everything is a path. */
export function hasOption(argv: string[], flag: string): boolean {
  const end = argv.indexOf('--')
  return (end >= 0 ? argv.slice(0, end) : argv).includes(flag)
}

/**
 * `blockcopy copy|zero|replicate ... --detach`: runs the same command in a
 * background process with `--job-id ID`, waits only until that process has
 * checked its arguments (so bad input still fails here, exit 2, with the
 * message), prints the job id and returns.
 */
export async function detach(argv: string[]): Promise<number> {
  // A `--detach` after `--` is a file name, and stays.
  const end = argv.indexOf('--')
  const args = argv.slice(2).filter((a, i) => a !== '--detach' || (end >= 0 && i + 2 > end))
  const json = hasOption(argv, '--json')
  if (!DETACHABLE.includes(args[0] ?? '')) {
    throw new BlockcopyError('INVALID_ARGUMENT', `--detach: applies to ${DETACHABLE.join(', ')}, not '${args[0] ?? ''}'`, 'detach')
  }
  const id = randomUUID()
  let log: number
  try {
    fs.mkdirSync(stateDir(), { recursive: true })
    log = fs.openSync(logPath(id), 'a')
  } catch (err) {
    const e = toSystemError(err, 'open', stateDir())
    throw new BlockcopyError('INVALID_ARGUMENT', `--detach: the job state directory ${stateDir()} cannot be used (${e.code}); set BLOCKCOPY_STATE_DIR to one that can`, 'detach')
  }
  // --job-id right after the command, never after a `--` where it would be taken for paths.
  const child = spawn(process.execPath, [...process.execArgv, argv[1] ?? '', args[0] ?? '', '--job-id', id, ...args.slice(1)], {
    detached: true, stdio: ['ignore', log, log, 'ipc'],
  })
  fs.closeSync(log)
  const answer = await new Promise<{ started?: string; failed?: { code: string; message: string }; exit?: number | null }>((resolve) => {
    child.once('message', (m) => resolve(m as { started?: string; failed?: { code: string; message: string } }))
    child.once('exit', (code) => resolve({ exit: code }))
  })
  if (child.connected) child.disconnect()
  child.unref()
  if (answer.started) {
    process.stdout.write(json ? `${JSON.stringify({ ok: true, id })}\n` : `${id}\n`)
    return EXIT.ok
  }
  const error = answer.failed ?? { code: 'JOB_DIED', message: `the job process exited (${String(answer.exit)}) before starting; see ${logPath(id)}` }
  // Refused in its checks: no id is printed, so nothing is left under it (the message says all its log would).
  // A process that died before starting keeps its log, which the message names.
  if (answer.failed) fs.rmSync(logPath(id), { force: true })
  process.stderr.write(`blockcopy: ${error.message.startsWith(`${error.code}:`) ? error.message : `${error.code}: ${error.message}`}\n`)
  if (json) process.stdout.write(`${JSON.stringify({ ok: false, ...(answer.failed ? {} : { id }), error })}\n`)
  return EXIT.badInput
}

/** The command a record holds, with the number of arguments it left out, if any. */
const command = (r: JobRecord) => `blockcopy ${r.argv.join(' ')}${r.omitted?.argv ? ` ... (${r.omitted.argv} more arguments)` : ''}`

function describe(r: JobRecord): string {
  const lines = [
    `${r.id}: ${r.status}, ${r.percent}% (${formatBytes(r.doneBytes)} of ${formatBytes(r.totalBytes)}${r.failedBytes ? `, ${formatBytes(r.failedBytes)} failed` : ''}), ${r.kind}, started ${r.startedAt}, pid ${r.pid}`,
    `command: ${command(r)}`,
  ]
  if (r.exitCode !== undefined) lines.push(`exit code: ${r.exitCode}`)
  if (r.error) lines.push(`error: ${r.error.code}: ${r.error.message}`)
  const o = r.omitted ?? {}
  const left = [[o.completed, 'completed extents'], [o.errors, 'failed ranges'], [o.differing, 'differing extents found by --check-dest']] as const
  const cut = left.filter(([n]) => n).map(([n, what]) => `${n} ${what}`)
  // The first ones are in the record (--json); the job's own output, in its log, lists every failed range (with --json, every extent).
  if (cut.length > 0) lines.push(`left out of the record, which holds ${formatBytes(RECORD_MAX_BYTES)} at most: the last ${cut.join(', ')}`)
  return lines.join('\n')
}

/** One line of `jobs` for a record, or for a file that should be one. */
function listLine(j: ListedJob): string {
  // A system error's message starts with its code, and with the ID that `jobs status` was given.
  if (isBadRecord(j)) return `${j.id}  ${j.error.code}  ${j.error.message.replace(`${j.error.code}: `, '').replace(/^ID: /, '')}`
  return `${j.id}  ${j.status.padEnd(10)} ${String(j.percent).padStart(3)}%  ${j.kind.padEnd(9)} ${j.startedAt}  ${command(j)}`
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** `blockcopy jobs [list|status|wait|cancel|free] [ID]` over the state directory. */
export function registerJobs(prog: Command, setExit: (code: number) => void): void {
  prog.command('jobs')
    .description(`jobs started with --detach (state in ${stateDir()}): list, status ID, wait ID, cancel ID, free ID`)
    .argument('[action]', 'list (default), status, wait, cancel or free', 'list')
    .argument('[id]', 'the job id printed by --detach')
    .option('--json', 'print JSON on stdout')
    .action(async (action: string, id: string | undefined, f: { json?: boolean }) => {
      const out = (value: unknown, text: string) => process.stdout.write(`${f.json ? JSON.stringify(value) : text}\n`)
      if (action === 'list') {
        const all = listRecords()
        out(all, all.map(listLine).join('\n') || 'no jobs')
        // The good ones are listed, but a record that is not one is bad input to fix by hand.
        return setExit(all.some(isBadRecord) ? EXIT.badInput : EXIT.ok)
      }
      if (!['status', 'wait', 'cancel', 'free'].includes(action)) {
        throw new BlockcopyError('INVALID_ARGUMENT', `action: '${action}' is not one of list, status, wait, cancel, free`, 'action')
      }
      if (id === undefined) throw new BlockcopyError('INVALID_ARGUMENT', `ID: jobs ${action} needs the job id`, 'id')
      if (action === 'status') {
        const r = readRecord(id)
        out(r, describe(r))
        return setExit(EXIT.ok)
      }
      if (action === 'wait') {
        let r = readRecord(id)
        while (r.status === 'inprogress') {
          await sleep(100)
          r = readRecord(id)
        }
        out(r, describe(r))
        return setExit(r.exitCode ?? EXIT.ioErrors)
      }
      if (action === 'cancel') {
        const r = readRecord(id)
        if (r.status !== 'inprogress') {
          throw new BlockcopyError('INVALID_ARGUMENT', `ID: job ${id} has already finished (${r.status})`, 'id')
        }
        // The job treats SIGTERM as a cancel: running chunks finish, destinations are synced.
        try {
          process.kill(r.pid, 'SIGTERM')
        } catch (err) {
          const e = toSystemError(err, 'kill')
          const why = e.code === 'EPERM' ? ': it runs as another user, who (or root) may cancel it' : ''
          throw new SystemError(`${e.code}: ID: job ${id} (pid ${r.pid}) cannot be cancelled by this user${why}`, e.code, e.errno, 'kill')
        }
        out({ ok: true, id, cancelling: true }, `cancelling ${id}`)
        return setExit(EXIT.ok)
      }
      removeRecord(id)
      out({ ok: true, id, freed: true }, `freed ${id}`)
      return setExit(EXIT.ok)
    })
}

/** The value of `--job-id` in argv: set when this process is a detached job. */
export function detachedJobId(argv: string[]): string | undefined {
  const at = argv.indexOf('--job-id')
  return at >= 0 ? argv[at + 1] : undefined
}
