/**
 * What the comparison needs from the machine: where files may go (never
 * tmpfs), page-cache control, GNU time, and a description for the report.
 */
import { spawnSync } from 'node:child_process'
import { accessSync, constants, mkdtempSync, statfsSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { dirname, join, resolve } from 'node:path'

/** One line of `findmnt -T PATH`: the mount that holds PATH. */
export interface MountInfo {
  target: string
  source: string
  fsType: string
}

/** File systems that live in memory: O_DIRECT and cold-cache figures mean nothing there. */
const MEMORY_FS_TYPES = new Set(['tmpfs', 'ramfs', 'devtmpfs'])

export function mountOf(path: string): MountInfo {
  const result = spawnSync('findmnt', ['-n', '-r', '-o', 'TARGET,SOURCE,FSTYPE', '-T', path], { encoding: 'utf8' })
  const fields = result.status === 0 ? result.stdout.trim().split(/\s+/) : []
  if (fields.length < 3) {
    throw new Error(`findmnt -T ${path} failed: ${result.error?.message ?? result.stderr.trim()}`)
  }
  return { target: fields[0] ?? '', source: fields[1] ?? '', fsType: fields[2] ?? '' }
}

export function isMemoryFs(mount: MountInfo): boolean {
  return MEMORY_FS_TYPES.has(mount.fsType)
}

function isWritableDir(path: string): boolean {
  try {
    accessSync(path, constants.W_OK | constants.X_OK)
    return true
  } catch {
    return false
  }
}

/**
 * A fresh directory for the benchmark files on the same disk as the
 * repository, outside it: the system temp dir when it is on that disk, else
 * the directory that holds the repository. Throws when neither qualifies.
 */
export function makeDefaultWorkDir(repoRoot: string): string {
  const repoMount = mountOf(repoRoot)
  const candidates = [os.tmpdir(), dirname(resolve(repoRoot))]
  for (const candidate of candidates) {
    const mount = mountOf(candidate)
    if (mount.source === repoMount.source && !isMemoryFs(mount) && isWritableDir(candidate)) {
      return mkdtempSync(join(candidate, 'blockcopy-bench-'))
    }
  }
  throw new Error(
    `no writable directory on the repository's disk (${repoMount.source}) outside the repository among ` +
      `${candidates.join(', ')}; pass --dir DIR`,
  )
}

export function freeBytes(dir: string): number {
  const stats = statfsSync(dir)
  return stats.bavail * stats.bsize
}

/** GNU time prints its version with `--version`; BusyBox and the shell keyword do not. */
export function hasGnuTime(path: string): boolean {
  const result = spawnSync(path, ['--version'], { encoding: 'utf8' })
  return result.status === 0 && /GNU/.test(result.stdout + result.stderr)
}

export function syncAll(): void {
  const result = spawnSync('sync', [], { stdio: 'ignore' })
  if (result.status !== 0) throw new Error(`sync failed: ${result.error?.message ?? `exit ${result.status}`}`)
}

/** How each run starts: with the page cache dropped (root), or as it was (not root). */
export type CacheMode = { kind: 'cold' } | { kind: 'warm'; reason: string }

/** Decides once whether caches can be dropped, trying it for real. */
export function probeCacheMode(): CacheMode {
  if (process.getuid?.() !== 0) return { kind: 'warm', reason: 'not root: cannot write /proc/sys/vm/drop_caches' }
  try {
    dropCaches()
    return { kind: 'cold' }
  } catch (error: unknown) {
    return { kind: 'warm', reason: `drop_caches failed: ${error instanceof Error ? error.message : String(error)}` }
  }
}

/** Writes back dirty pages, then drops clean page cache, dentries and inodes. */
export function dropCaches(): void {
  syncAll()
  writeFileSync('/proc/sys/vm/drop_caches', '3\n')
}

/** Enough about the machine to read a figure in BENCHMARKS.md a year later. */
export interface MachineInfo {
  cpuModel: string
  cpus: number
  memoryBytes: number
  kernel: string
  node: string
  cpVersion: string
  ddVersion: string
}

function firstLine(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8' })
  return result.status === 0 ? (result.stdout.split('\n')[0] ?? '').trim() : 'unknown'
}

export function machineInfo(): MachineInfo {
  return {
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    cpus: os.availableParallelism(),
    memoryBytes: os.totalmem(),
    kernel: os.release(),
    node: process.version,
    cpVersion: firstLine('cp', ['--version']),
    ddVersion: firstLine('dd', ['--version']),
  }
}
