/**
 * Loader for the native addon (build/Release or build/Debug blockcopy.node)
 * and the IoBackend on top of it. Loading order: BLOCKCOPY_IO=fs forces the
 * fallback; otherwise Release, then Debug; the first that loads wins.
 * Troubleshooting: a missing addon means `node scripts/build-native.mjs`
 * failed or never ran (it needs a C++17 compiler, make, python3 and Node's
 * headers: `npm_config_nodedir=/usr` where they are installed locally).
 */
import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

import { SystemError } from '../errors.js'
import { FdPaths } from './fd-paths.js'
import { missingExports, type NativeAddon } from './addon-surface.js'
import type { BackendInfo, BlockInfo, DirectAlignment, IoBackend, LoopStatus, OpenOptions } from './types.js'

export type { NativeAddon, NativeConstants, NativeErrorClass } from './addon-surface.js'

/** The result of loading the addon: the module and where it came from, or why not. */
export type AddonLoad =
  | { ok: true; addon: NativeAddon; path: string }
  | { ok: false; reason: string }

/** The errors of a call this kernel or file system does not offer. */
const NOT_SUPPORTED = new Set(['ENOSYS', 'EOPNOTSUPP'])

const ADDON_FILES = ['build/Release/blockcopy.node', 'build/Debug/blockcopy.node'] as const

/**
 * The nearest directory at or above `startDir` whose package.json is named
 * "blockcopy": the same answer from src/io (tsx) and dist/src/io (built).
 */
export function findPackageRoot(startDir: string): string | undefined {
  for (let dir = startDir; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json')
    if (existsSync(manifest)) {
      try {
        if ((JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown }).name === 'blockcopy') return dir
      } catch {
        // An unreadable package.json is not ours; keep walking up.
      }
    }
    if (dirname(dir) === dir) return undefined
  }
}

// One load per thread: each worker's module graph runs this once, and the
// addon keeps its error class per environment, so each thread sets its own.
let cachedLoad: AddonLoad | undefined

/** Loads the addon (cached per thread) and hands it SystemError. Ignores BLOCKCOPY_IO. */
export function loadAddon(): AddonLoad {
  cachedLoad ??= loadAddonUncached()
  return cachedLoad
}

function loadAddonUncached(): AddonLoad {
  const here = dirname(fileURLToPath(import.meta.url))
  const root = findPackageRoot(here)
  if (root === undefined) return { ok: false, reason: `no blockcopy package.json above ${here}` }
  const require = createRequire(join(root, 'package.json'))
  const failures: string[] = []
  for (const file of ADDON_FILES) {
    const path = join(root, file)
    if (!existsSync(path)) continue
    try {
      const addon = require(path) as object
      const missing = missingExports(addon)
      if (missing.length > 0) {
        failures.push(`${file} lacks ${missing.join(', ')} (stale build: rebuild it)`)
        continue
      }
      // Every export of ADDON_EXPORTS is there with its declared kind.
      const complete = addon as NativeAddon
      complete.setErrorClass(SystemError)
      return { ok: true, addon: complete, path }
    } catch (err) {
      failures.push(`${file}: ${err instanceof Error ? err.message : String(err)}`)
    }
  }
  if (failures.length === 0) {
    return { ok: false, reason: `native addon not built (no ${ADDON_FILES.join(' or ')} in ${root})` }
  }
  return { ok: false, reason: `native addon failed to load: ${failures.join('; ')}` }
}

/**
 * The native backend, or the reason it cannot be used. Reads BLOCKCOPY_IO on
 * every call (so tests can set it); the addon itself is loaded once per thread.
 */
export function loadNativeBackend(): NativeBackend | string {
  if (process.env.BLOCKCOPY_IO === 'fs') return 'BLOCKCOPY_IO=fs'
  const load = loadAddon()
  return load.ok ? new NativeBackend(load.addon) : load.reason
}

const CREATE_MODE = 0o644

/**
 * IoBackend over the addon: O_DIRECT, ioctls, statx. Use it from the thread
 * that created it; descriptors it opens are its own (see FdPaths).
 */
export class NativeBackend implements IoBackend {
  readonly info: BackendInfo = { kind: 'native' }
  readonly #addon: NativeAddon
  readonly #paths = new FdPaths()

  constructor(addon: NativeAddon) {
    this.#addon = addon
  }

  /** Runs an addon call on `fd`; what it throws names the file. */
  #on<T>(fd: number, call: () => T): T {
    try {
      return call()
    } catch (err) {
      throw this.#paths.annotate(err, fd)
    }
  }

  /** The same, with null for a call this kernel or file system does not offer (ENOSYS, EOPNOTSUPP). */
  #onIfOffered<T>(fd: number, call: () => T): T | null {
    try {
      return call()
    } catch (err) {
      if (NOT_SUPPORTED.has((err as NodeJS.ErrnoException).code ?? '')) return null
      throw this.#paths.annotate(err, fd)
    }
  }

  // Writers open O_RDWR, not O_WRONLY: zero-out (BLKZEROOUT, fallocate) and
  // read-back verification both need a descriptor that can do more than write.
  open(path: string, options: OpenOptions): number {
    const c = this.#addon.constants
    const flags =
      (options.write ? c.O_RDWR : c.O_RDONLY) |
      (options.create ? c.O_CREAT : 0) |
      (options.direct ? c.O_DIRECT : 0) |
      (options.exclusive ? c.O_EXCL : 0) |
      c.O_CLOEXEC
    const fd = this.#addon.open(path, flags, CREATE_MODE)
    this.#paths.set(fd, path)
    return fd
  }

  close(fd: number): void {
    try {
      this.#addon.close(fd)
    } catch (err) {
      throw this.#paths.annotate(err, fd)
    } finally {
      this.#paths.delete(fd)
    }
  }

  allocAligned(sizeBytes: number, alignBytes: number): Buffer {
    return this.#addon.allocAligned(sizeBytes, alignBytes)
  }

  pread(fd: number, buf: Buffer, bufOffset: number, lengthBytes: number, positionBytes: number): number {
    return this.#on(fd, () => this.#addon.pread(fd, buf, bufOffset, lengthBytes, positionBytes))
  }

  preadCached(fd: number, buf: Buffer, bufOffset: number, lengthBytes: number, positionBytes: number): number | null {
    return this.#onIfOffered(fd, () => this.#addon.preadCached(fd, buf, bufOffset, lengthBytes, positionBytes))
  }

  cachedPages(fd: number, positionBytes: number, lengthBytes: number): number | null {
    // The answer only chooses how to read, so any error means "cannot tell":
    // ENOSYS before Linux 6.5, EOPNOTSUPP, and EPERM, which cachestat gives
    // on a read-only descriptor of a file the caller neither owns nor may
    // write (a user hashing root's 0644 file). The read itself reports real errors.
    try {
      return this.#addon.cachedPages(fd, positionBytes, lengthBytes)
    } catch {
      return null
    }
  }

  pwrite(fd: number, buf: Buffer, bufOffset: number, lengthBytes: number, positionBytes: number): void {
    this.#on(fd, () => this.#addon.pwrite(fd, buf, bufOffset, lengthBytes, positionBytes))
  }

  fdatasync(fd: number): void {
    this.#on(fd, () => this.#addon.fdatasync(fd))
  }

  directAlignment(fd: number): DirectAlignment {
    return this.#on(fd, () => this.#addon.directAlignment(fd))
  }

  blockInfo(fd: number): BlockInfo {
    return this.#on(fd, () => this.#addon.blockInfo(fd))
  }

  zeroRange(fd: number, offsetBytes: number, lengthBytes: number): boolean {
    return this.#on(fd, () => this.#addon.zeroRange(fd, offsetBytes, lengthBytes))
  }

  preallocate(fd: number, offsetBytes: number, lengthBytes: number): boolean {
    return this.#on(fd, () => this.#addon.preallocate(fd, offsetBytes, lengthBytes))
  }

  punchHole(fd: number, offsetBytes: number, lengthBytes: number): boolean {
    return this.#on(fd, () => this.#addon.punchHole(fd, offsetBytes, lengthBytes))
  }

  fsBlockBytes(fd: number): number {
    return this.#on(fd, () => this.#addon.fsBlockBytes(fd))
  }

  seekData(fd: number, offsetBytes: number): number {
    return this.#on(fd, () => this.#addon.seekData(fd, offsetBytes))
  }

  seekHole(fd: number, offsetBytes: number): number {
    return this.#on(fd, () => this.#addon.seekHole(fd, offsetBytes))
  }

  // Errors name the destination: the ioctl is issued on it, and EINVAL or
  // EOPNOTSUPP are about where the clone would land.
  cloneRange(srcFd: number, srcOffsetBytes: number, dstFd: number, dstOffsetBytes: number, lengthBytes: number): void {
    if (lengthBytes === 0) return
    try {
      this.#addon.cloneRange(srcFd, srcOffsetBytes, dstFd, dstOffsetBytes, lengthBytes)
    } catch (err) {
      throw this.#paths.annotate(this.#paths.annotate(err, dstFd), srcFd)
    }
  }

  inodeFlags(fd: number): number {
    return this.#on(fd, () => this.#addon.inodeFlags(fd))
  }

  setInodeFlags(fd: number, flags: number): void {
    this.#on(fd, () => this.#addon.setInodeFlags(fd, flags))
  }

  tryLock(fd: number): boolean {
    return this.#on(fd, () => this.#addon.tryLock(fd))
  }

  loopStatus(fd: number): LoopStatus | null {
    return this.#on(fd, () => this.#addon.loopStatus(fd))
  }

  fiemap(fd: number, offsetBytes: number, lengthBytes: number): Float64Array {
    return this.#on(fd, () => this.#addon.fiemap(fd, offsetBytes, lengthBytes))
  }

  copyFileRange(srcFd: number, srcOffsetBytes: number, dstFd: number, dstOffsetBytes: number, lengthBytes: number): number {
    try {
      return this.#addon.copyFileRange(srcFd, srcOffsetBytes, dstFd, dstOffsetBytes, lengthBytes)
    } catch (err) {
      throw this.#paths.annotate(this.#paths.annotate(err, dstFd), srcFd)
    }
  }
}
