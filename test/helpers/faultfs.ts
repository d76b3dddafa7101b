import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { constants as osConstants, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

import { isMountPoint } from './mounts.js'

/** Debian's interpreter, where python3-pyfuse3 lives (python3 on PATH may be pyenv's). */
const PYTHON = '/usr/bin/python3'
const DAEMON = fileURLToPath(new URL('../fixtures/faultfs.py', import.meta.url))
const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms))

/**
 * One fault rule; see test/fixtures/faultfs.py. A read or write rule fires for
 * every request that overlaps [offset, offset + length) of a file whose path
 * (relative to the mount root) matches the fnmatch pattern `path`.
 */
export interface FaultRule {
  op: 'read' | 'write' | 'fsync' | 'open'
  /** fnmatch pattern relative to the mount root, e.g. 'dst.img' or '*.img'; absent: every file. */
  path?: string
  offset?: number
  /** Absent: to the end of the file. */
  length?: number
  /** Fail the request with this error, e.g. 'EIO', 'ENOSPC', 'EAGAIN'. */
  errno?: string
  /** Reads only: return the real bytes with each byte in the range XORed with 0xFF. */
  corrupt?: boolean
  /** Reads only: answer with the first half of the bytes asked for (a short read). */
  short?: boolean
  /** Answer the request this many milliseconds late. */
  delayMs?: number
  /**
   * Hold each matching request until this file exists (the test creates it
   * to release them), or for holdMs at most. The first hold creates
   * `${hold}.held`; each release is an event 'released by test' or
   * 'released by guard'.
   */
  hold?: string
  /** A guard for `hold`: a request held this long is released anyway; default 10000. */
  holdMs?: number
  /** Fire this many times, then never again (a retryable error). */
  times?: number
}

/** One fault the daemon injected. */
export interface FaultEvent {
  op: string
  path: string
  offset: number
  length: number
  /** The errno name, 'corrupt', or 'delay Nms'. */
  action: string
}

/** A mounted fault-injection file system. */
export interface FaultFs {
  mountDir: string
  backingDir: string
  /** Replaces the rules; the daemon applies them from its next request on. */
  setRules(rules: FaultRule[]): void
  /** Faults injected so far, oldest first (still answered after unmount). */
  events(): FaultEvent[]
  /** What the daemon wrote to stderr so far. */
  stderr(): string
  /** Unmounts and waits for the daemon to exit; throws if the daemon had crashed. */
  unmount(): Promise<void>
}

/** Options for mountFaultFs. */
export interface MountFaultFsOptions {
  /** How long to wait for the mount to appear; default 10000. */
  timeoutMs?: number
  /** Pass -o debug to libfuse (every request is logged to stderr). */
  debug?: boolean
}

// Mounts still up when the process exits (mount dir -> state dir) are lazily
// unmounted, so a test that forgot or crashed before unmount() leaves nothing.
const live = new Map<string, string>()
process.on('exit', () => {
  for (const [dir, stateDir] of live) {
    spawnSync('fusermount3', ['-u', '-z', dir], { stdio: 'ignore' })
    rmSync(stateDir, { recursive: true, force: true })
  }
})

/** Why faultfs cannot run here, or null when it can. */
export function faultFsUnavailable(): string | null {
  if (!existsSync('/dev/fuse')) return '/dev/fuse is missing'
  if (!existsSync(PYTHON)) return `${PYTHON} is missing`
  const probe = spawnSync(PYTHON, ['-c', 'import pyfuse3, trio'], { encoding: 'utf8' })
  if (probe.status !== 0) return `pyfuse3 is not importable by ${PYTHON} (apt-get install python3-pyfuse3 fuse3)`
  if (spawnSync('sh', ['-c', 'command -v fusermount3'], { stdio: 'ignore' }).status !== 0) {
    return 'fusermount3 is missing (apt-get install fuse3)'
  }
  return null
}

/** Throws when a rule names an errno that does not exist, which the daemon would ignore. */
function checkRules(rules: FaultRule[]): void {
  for (const rule of rules) {
    if (rule.errno !== undefined && !(rule.errno in osConstants.errno)) {
      throw new Error(`faultfs rule ${JSON.stringify(rule)}: errno must be a name such as 'EIO'`)
    }
  }
}

/** Resolves when child has exited, or after ms; true if it exited. */
function exited(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true)
  return new Promise((done) => {
    const timer = setTimeout(() => done(false), ms)
    child.once('exit', () => {
      clearTimeout(timer)
      done(true)
    })
  })
}

/**
 * Mounts faultfs on mountDir, passing through to backingDir, with the given
 * rules. Resolves once the mount is visible; returns a skip reason (a string)
 * instead when FUSE or pyfuse3 is not available here.
 */
export async function mountFaultFs(
  backingDir: string,
  mountDir: string,
  rules: FaultRule[] = [],
  options: MountFaultFsOptions = {},
): Promise<FaultFs | string> {
  checkRules(rules)
  const unavailable = faultFsUnavailable()
  if (unavailable) return unavailable
  const mountPath = resolve(mountDir)
  // Rules and events live outside the mount, so they never show up in it.
  const stateDir = mkdtempSync(join(tmpdir(), 'blockcopy-faultfs-'))
  const rulesFile = join(stateDir, 'rules.json')
  const eventsFile = join(stateDir, 'events.ndjson')
  const setRules = (next: FaultRule[]): void => {
    checkRules(next)
    // Written whole, then renamed: the daemon never reads a half-written file.
    writeFileSync(`${rulesFile}.tmp`, JSON.stringify(next))
    renameSync(`${rulesFile}.tmp`, rulesFile)
  }
  setRules(rules)

  const args = [DAEMON, resolve(backingDir), mountPath, '--rules', rulesFile, '--events', eventsFile]
  if (options.debug) args.push('--debug')
  const env: NodeJS.ProcessEnv = { ...process.env, PYTHONDONTWRITEBYTECODE: '1' }
  delete env.PYTHONPATH
  delete env.PYTHONHOME
  const child = spawn(PYTHON, args, { stdio: ['ignore', 'ignore', 'pipe'], env })
  let stderr = ''
  child.stderr?.setEncoding('utf8')
  child.stderr?.on('data', (text: string) => {
    stderr = (stderr + text).slice(-64 * 1024)
  })
  // Neither the daemon nor its pipe keeps this process alive on their own.
  child.unref()
  ;(child.stderr as unknown as { unref?: () => void } | null)?.unref?.()

  const deadline = Date.now() + (options.timeoutMs ?? 10_000)
  while (!isMountPoint(mountPath)) {
    const gone = child.exitCode !== null || child.signalCode !== null
    if (gone || Date.now() > deadline) {
      if (!gone) child.kill('SIGKILL')
      await exited(child, 2000)
      rmSync(stateDir, { recursive: true, force: true })
      const how = gone ? `exited with ${child.exitCode ?? child.signalCode}` : 'did not mount in time'
      throw new Error(`faultfs on ${mountPath} ${how}; its stderr:\n${stderr}`)
    }
    await sleep(20)
  }
  live.set(mountPath, stateDir)

  let eventsAtUnmount: FaultEvent[] | null = null
  const readEvents = (): FaultEvent[] => {
    if (eventsAtUnmount) return eventsAtUnmount
    if (!existsSync(eventsFile)) return []
    const lines = readFileSync(eventsFile, 'utf8').split('\n').filter(Boolean)
    return lines.map((line) => JSON.parse(line) as FaultEvent)
  }
  const stop = async (): Promise<void> => {
    if (isMountPoint(mountPath)) {
      const plain = spawnSync('fusermount3', ['-u', mountPath], { encoding: 'utf8' })
      if (plain.status !== 0) spawnSync('fusermount3', ['-u', '-z', mountPath], { stdio: 'ignore' })
    }
    live.delete(mountPath)
    let killed = false
    if (!(await exited(child, 5000))) {
      killed = child.kill('SIGTERM')
      if (!(await exited(child, 2000))) child.kill('SIGKILL')
    }
    eventsAtUnmount = readEvents()
    rmSync(stateDir, { recursive: true, force: true })
    if (!killed && child.exitCode !== 0) {
      throw new Error(`faultfs daemon crashed (${child.exitCode ?? child.signalCode}); its stderr:\n${stderr}`)
    }
  }
  let stopping: Promise<void> | null = null
  return {
    mountDir: mountPath,
    backingDir: resolve(backingDir),
    setRules,
    events: readEvents,
    stderr: () => stderr,
    unmount: () => (stopping ??= stop()),
  }
}

/** Mounts faultfs on dir/mnt over a new dir/backing, with rules; or returns why it cannot run here. */
export async function mountFaultFsIn(dir: string, rules: FaultRule[] = []): Promise<FaultFs | string> {
  mkdirSync(join(dir, 'backing'))
  mkdirSync(join(dir, 'mnt'))
  return mountFaultFs(join(dir, 'backing'), join(dir, 'mnt'), rules)
}
