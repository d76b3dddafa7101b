/**
 * IoBackend over node:fs, for when the addon is missing or unwanted. Same
 * results as the native backend, minus O_DIRECT, zero-out, holes and copy
 * offload: callers see zero alignment, `direct: true` refused with EINVAL,
 * zeroRange and punchHole false (so sparse copies write zeros where the
 * destination held data; ranges past its old end stay holes), every byte
 * as data, and cloneRange / copyFileRange failing with EOPNOTSUPP.
 */
import {
  closeSync, constants, fdatasyncSync, fstatSync, openSync, readFileSync, readSync, realpathSync, statfsSync, writeSync,
} from 'node:fs'
import { dirname, join } from 'node:path'

import { SystemError, toSystemError } from '../errors.js'
import { isPowerOfTwo } from './align.js'
import { FdPaths } from './fd-paths.js'
import type { BackendInfo, BlockInfo, DirectAlignment, IoBackend, OpenOptions } from './types.js'

const CREATE_MODE = 0o644
const EINVAL = 22
const ENOSPC = 28
const EOPNOTSUPP = 95
// readSync/writeSync refuse lengths above 2^31 - 1; larger requests go in slices.
const MAX_IO_BYTES = 1 << 30

/** Major and minor numbers of a dev_t as glibc encodes it (gnu_dev_major/minor). */
export function devMajorMinor(dev: number): { major: number; minor: number } {
  // Bit operations on numbers are 32-bit, and dev_t spreads major and minor
  // over 64 bits, so decode in BigInt.
  const d = BigInt(dev)
  const major = ((d >> 8n) & 0xfffn) | ((d >> 32n) & ~0xfffn & 0xffffffffn)
  const minor = (d & 0xffn) | ((d >> 12n) & ~0xffn & 0xffffffffn)
  return { major: Number(major), minor: Number(minor) }
}

function rangeCheck(buf: Buffer, bufOffset: number, lengthBytes: number, positionBytes: number): void {
  for (const [name, value] of [['bufOffset', bufOffset], ['length', lengthBytes], ['position', positionBytes]] as const) {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw Object.assign(new RangeError(`The "${name}" argument must be an integer >= 0 and <= 2^53 - 1`), {
        code: 'ERR_OUT_OF_RANGE',
      })
    }
  }
  if (bufOffset + lengthBytes > buf.length) {
    throw Object.assign(
      new RangeError(`bufOffset + length (${bufOffset} + ${lengthBytes}) exceeds the buffer's ${buf.length} bytes`),
      { code: 'ERR_OUT_OF_RANGE' },
    )
  }
}

function isEintr(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === 'EINTR'
}

function readSysfsNumber(path: string): number {
  try {
    return Number(readFileSync(path, 'utf8').trim())
  } catch (err) {
    throw toSystemError(err, 'open', path)
  }
}

/**
 * Size and block sizes of a block device from sysfs, since node:fs has no
 * ioctls. A partition's directory has no queue/ of its own: its parent disk's
 * applies, found after resolving the /sys/dev/block symlink (a lexical `..`
 * would not follow it).
 */
function sysfsBlockInfo(rdev: number): { sizeBytes: number; logical: number; physical: number } {
  const { major, minor } = devMajorMinor(rdev)
  const link = `/sys/dev/block/${major}:${minor}`
  let dir: string
  try {
    dir = realpathSync(link)
  } catch (err) {
    throw toSystemError(err, 'realpath', link)
  }
  // sysfs counts the size in 512-byte sectors whatever the logical block size.
  const sizeBytes = readSysfsNumber(join(dir, 'size')) * 512
  let queue = join(dir, 'queue')
  try {
    realpathSync(queue)
  } catch {
    queue = join(dirname(dir), 'queue')
  }
  return {
    sizeBytes,
    logical: readSysfsNumber(join(queue, 'logical_block_size')),
    physical: readSysfsNumber(join(queue, 'physical_block_size')),
  }
}

/** The node:fs backend. Use it from the thread that created it. */
export class FsBackend implements IoBackend {
  readonly info: BackendInfo
  readonly #paths = new FdPaths()

  /** `reason`: why the native backend is not in use, reported in `info`. */
  constructor(reason?: string) {
    this.info = reason === undefined ? { kind: 'fs' } : { kind: 'fs', reason }
  }

  open(path: string, options: OpenOptions): number {
    if (options.direct) {
      throw new SystemError(
        `EINVAL: the fs backend has no direct I/O (O_DIRECT needs the native addon), open '${path}'`,
        'EINVAL', EINVAL, 'open', path,
      )
    }
    const flags =
      (options.write ? constants.O_RDWR : constants.O_RDONLY) | (options.create ? constants.O_CREAT : 0) |
      (options.exclusive ? constants.O_EXCL : 0)
    try {
      const fd = openSync(path, flags, CREATE_MODE)
      this.#paths.set(fd, path)
      return fd
    } catch (err) {
      throw toSystemError(err, 'open', path)
    }
  }

  close(fd: number): void {
    try {
      closeSync(fd)
    } catch (err) {
      throw this.#fail(err, 'close', fd)
    } finally {
      this.#paths.delete(fd)
    }
  }

  // Same argument rule as posix_memalign, so both backends reject the same
  // calls; the address itself is not aligned, which is fine without O_DIRECT.
  allocAligned(sizeBytes: number, alignBytes: number): Buffer {
    if (!isPowerOfTwo(alignBytes)) {
      throw new SystemError('EINVAL: invalid argument, posix_memalign', 'EINVAL', EINVAL, 'posix_memalign')
    }
    return Buffer.allocUnsafeSlow(sizeBytes).fill(0)
  }

  pread(fd: number, buf: Buffer, bufOffset: number, lengthBytes: number, positionBytes: number): number {
    rangeCheck(buf, bufOffset, lengthBytes, positionBytes)
    let done = 0
    while (done < lengthBytes) {
      let n: number
      try {
        n = readSync(fd, buf, bufOffset + done, Math.min(lengthBytes - done, MAX_IO_BYTES), positionBytes + done)
      } catch (err) {
        if (isEintr(err)) continue
        throw this.#fail(err, 'pread', fd)
      }
      if (n === 0) break
      done += n
    }
    return done
  }

  pwrite(fd: number, buf: Buffer, bufOffset: number, lengthBytes: number, positionBytes: number): void {
    rangeCheck(buf, bufOffset, lengthBytes, positionBytes)
    let done = 0
    while (done < lengthBytes) {
      let n: number
      try {
        n = writeSync(fd, buf, bufOffset + done, Math.min(lengthBytes - done, MAX_IO_BYTES), positionBytes + done)
      } catch (err) {
        if (isEintr(err)) continue
        throw this.#fail(err, 'pwrite', fd)
      }
      // No progress and no error: the device is full; looping would spin.
      if (n === 0) throw this.#fail({ errno: ENOSPC, code: 'ENOSPC', message: 'no space left on device' }, 'pwrite', fd)
      done += n
    }
  }

  fdatasync(fd: number): void {
    try {
      fdatasyncSync(fd)
    } catch (err) {
      throw this.#fail(err, 'fdatasync', fd)
    }
  }

  directAlignment(_fd: number): DirectAlignment {
    return { memAlignBytes: 0, offsetAlignBytes: 0, reported: false }
  }

  blockInfo(fd: number): BlockInfo {
    let st
    try {
      st = fstatSync(fd)
    } catch (err) {
      throw this.#fail(err, 'fstat', fd)
    }
    if (!st.isBlockDevice()) {
      return {
        isBlockDevice: false, sizeBytes: st.size, logicalBlockBytes: 512,
        physicalBlockBytes: st.blksize, dev: st.dev, ino: st.ino,
      }
    }
    const sys = sysfsBlockInfo(st.rdev)
    return {
      isBlockDevice: true, sizeBytes: sys.sizeBytes, logicalBlockBytes: sys.logical,
      physicalBlockBytes: sys.physical, dev: st.rdev, ino: st.ino,
    }
  }

  // node:fs has neither fallocate nor ioctl: the caller writes zeros.
  zeroRange(_fd: number, _offsetBytes: number, _lengthBytes: number): boolean {
    return false
  }

  preallocate(_fd: number, _offsetBytes: number, _lengthBytes: number): boolean {
    return false
  }

  punchHole(_fd: number, _offsetBytes: number, _lengthBytes: number): boolean {
    return false
  }

  // node:fs has statfs by path only; /proc/self/fd/N leads the kernel's path
  // walk to the descriptor's own file, even an unnamed O_TMPFILE.
  fsBlockBytes(fd: number): number {
    try {
      return statfsSync(`/proc/self/fd/${fd}`).bsize
    } catch (err) {
      throw this.#fail(err, 'fstatfs', fd)
    }
  }

  // Without lseek there is no way to see holes: answer as a file system that
  // does not track them does, every byte being data (what POSIX allows).
  seekData(fd: number, offsetBytes: number): number {
    return offsetBytes < this.#size(fd) ? offsetBytes : -1
  }

  seekHole(fd: number, offsetBytes: number): number {
    const size = this.#size(fd)
    return offsetBytes < size ? size : -1
  }

  cloneRange(srcFd: number, _srcOffsetBytes: number, dstFd: number, _dstOffsetBytes: number, _lengthBytes: number): void {
    throw this.#noOffload('ioctl', 'reflink (FICLONERANGE)', dstFd, srcFd)
  }

  copyFileRange(srcFd: number, _srcOffsetBytes: number, dstFd: number, _dstOffsetBytes: number, _lengthBytes: number): number {
    throw this.#noOffload('copy_file_range', 'copy_file_range', dstFd, srcFd)
  }

  #size(fd: number): number {
    try {
      return fstatSync(fd).size
    } catch (err) {
      throw this.#fail(err, 'fstat', fd)
    }
  }

  #noOffload(syscall: string, what: string, dstFd: number, srcFd: number): unknown {
    const err = new SystemError(
      `EOPNOTSUPP: the fs backend has no ${what}: node:fs cannot do it and the native addon is not loaded${this.info.reason ? ` (${this.info.reason})` : ''}, ${syscall}`,
      'EOPNOTSUPP', EOPNOTSUPP, syscall,
    )
    return this.#paths.annotate(this.#paths.annotate(err, dstFd), srcFd)
  }

  #fail(err: unknown, syscall: string, fd: number): unknown {
    // Node's errors name its own syscall ('read', 'write'); report the one the
    // interface documents, as the native backend does.
    const e = toSystemError(err, syscall)
    if (e.syscall === syscall) return this.#paths.annotate(e, fd)
    const tail = `, ${e.syscall}`
    const message = e.message.endsWith(tail) ? e.message.slice(0, -tail.length) + `, ${syscall}` : e.message
    return this.#paths.annotate(new SystemError(message, e.code, e.errno, syscall, e.path), fd)
  }
}
