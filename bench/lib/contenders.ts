/**
 * The contenders and how one run of one of them is timed: each is its own
 * process under GNU time, which reports the peak RSS of it and its children.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync, rmSync } from 'node:fs'
import type { ContenderName } from './args.js'

/** How a contender is invoked for one source and destination. */
export interface Contender {
  name: ContenderName
  /** Shown in the table. */
  label: string
  /** argv; the first element is the executable. */
  command: (srcPath: string, dstPath: string) => string[]
  /** What makes this contender's figure comparable, said once in the output. */
  note: string
}

/** Paths the contender definitions need. */
export interface ContenderPaths {
  blockcopyBin: string
  blockcopyArgs: string[]
}

export function makeContenders(paths: ContenderPaths): Contender[] {
  const blockcopy = (verify: 'hash' | 'readback') => (src: string, dst: string) => [
    process.execPath, paths.blockcopyBin, 'copy', src, dst, '--verify', verify, '--json', ...paths.blockcopyArgs,
  ]
  return [
    {
      name: 'cp',
      label: 'cp && sync',
      // Positional parameters, so no path is ever parsed by the shell.
      command: (src, dst) => ['bash', '-c', 'cp -- "$1" "$2" && sync', 'cp-sync', src, dst],
      note: 'cp then sync, both timed (sync makes the copy durable)',
    },
    {
      name: 'dd',
      label: 'dd direct',
      command: (src, dst) => [
        'dd', `if=${src}`, `of=${dst}`, 'bs=4M', 'iflag=direct', 'oflag=direct', 'conv=fdatasync', 'status=none',
      ],
      note:
        'dd bs=4M iflag=direct oflag=direct conv=fdatasync: O_DIRECT alone leaves the device cache and ' +
        'the file size unflushed, so conv=fdatasync is added to make dd durable like the others',
    },
    {
      name: 'hash',
      label: 'blockcopy hash',
      command: blockcopy('hash'),
      note: 'blockcopy copy --verify hash --json (fdatasyncs before reporting success)',
    },
    {
      name: 'readback',
      label: 'blockcopy readback',
      command: blockcopy('readback'),
      note: 'blockcopy copy --verify readback --json (re-reads the destination after fdatasync)',
    },
  ]
}

/** What one timed run measured. */
export interface RunMeasurement {
  elapsedMs: number
  /** Peak resident set of the contender and its children, from GNU time %M. */
  peakRssKiB: number
  exitCode: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/** The child being timed right now, so an interrupt can end it. */
let running: ChildProcess | undefined

/**
 * Ends the running contender, if any. GNU time ignores SIGINT and SIGQUIT
 * while it waits, so the whole process group (time, bash, cp, node...) is
 * signalled; runTimed starts each contender as a group leader for this.
 */
export function killRunning(): void {
  const pid = running?.pid
  if (pid === undefined) return
  try {
    process.kill(-pid, 'SIGTERM')
  } catch {
    // Already gone.
  }
}

/**
 * Runs `argv` under `gnuTime -f %M -o rssFile` and times it from spawn to
 * exit with process.hrtime. The child is spawned asynchronously (not with
 * spawnSync) so that SIGINT handlers run while it works; the idle event loop
 * costs microseconds against runs of seconds.
 */
export function runTimed(gnuTime: string, rssFile: string, argv: string[]): Promise<RunMeasurement> {
  rmSync(rssFile, { force: true })
  return new Promise((resolvePromise, reject) => {
    const stdout: Buffer[] = []
    const stderr: Buffer[] = []
    const startNs = process.hrtime.bigint()
    const child = spawn(gnuTime, ['-f', '%M', '-o', rssFile, '--', ...argv], {
      stdio: ['ignore', 'pipe', 'pipe'],
      // Own process group: see killRunning. A terminal's Ctrl-C reaches only this harness, which forwards it.
      detached: true,
    })
    running = child
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk))
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk))
    child.on('error', (error) => {
      running = undefined
      reject(error)
    })
    child.on('exit', () => {
      // Stop the clock at exit; 'close' below waits for the pipes to drain.
      const elapsedMs = Number(process.hrtime.bigint() - startNs) / 1e6
      child.on('close', (exitCode, signal) => {
        running = undefined
        resolvePromise({
          elapsedMs,
          peakRssKiB: readPeakRssKiB(rssFile),
          exitCode,
          signal,
          stdout: Buffer.concat(stdout).toString('utf8'),
          stderr: Buffer.concat(stderr).toString('utf8'),
        })
      })
    })
  })
}

/** GNU time writes "Command exited with non-zero status N" before %M on failure: take the last line. */
function readPeakRssKiB(rssFile: string): number {
  try {
    const lines = readFileSync(rssFile, 'utf8').trim().split('\n')
    const value = Number(lines[lines.length - 1])
    return Number.isFinite(value) ? value : NaN
  } catch {
    return NaN
  }
}
