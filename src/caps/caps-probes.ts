/**
 * One probe per capability. Each tries the real operation on scratch files
 * (src/replicate/scratch.ts) or, for a device, only what writes nothing, and
 * turns the kernel's answer into a Support with the errno in its reason.
 * Main thread; synchronous.
 */
import fs from 'node:fs'

import { toSystemError } from '../errors.js'
import { devMajorMinor } from '../io/fs-backend.js'
import type { IoBackend } from '../io/types.js'
import type { AlignSource, CloneSupport, DirectSupport, Support, ZeroOutSupport } from './caps.js'
import { NotProbed, type Scratch } from '../replicate/scratch.js'

/** Where the sparse probe writes its one block: everything before it is a hole. */
const HOLE_BYTES = 1024 * 1024

const CLONE_WHY: Record<string, string> = {
  EOPNOTSUPP: 'this file system cannot share extents (no reflink)',
  ENOTTY: 'this file system has no clone ioctl',
  EXDEV: 'the files are on different file systems',
  EINVAL: 'the file system refused a one-block clone aligned to its block size',
}
const COPY_WHY: Record<string, string> = {
  EINVAL: 'copy_file_range works between regular files only',
  EXDEV: 'the files are on different file systems',
  EOPNOTSUPP: 'this file system has no in-kernel copy',
}

/** The reason every probe gives when the addon is not loaded; null when it is. */
export function noNative(io: IoBackend): string | null {
  if (io.info.kind === 'native') return null
  return `the native addon is not loaded (${io.info.reason ?? 'fs backend in use'})`
}

/** A failure as a reason: "EOPNOTSUPP from ioctl FICLONERANGE: why". */
function reasonOf(err: unknown, explain: Record<string, string> = {}, ioctlName = 'ioctl'): string {
  if (err instanceof NotProbed) return err.reason
  const e = toSystemError(err, 'unknown')
  const call = e.syscall === 'ioctl' ? ioctlName : e.syscall
  const why = explain[e.code]
  return `${e.code} from ${call}${why ? `: ${why}` : ''}`
}

/** `bytes` of a pattern no file system stores as zeros or a hole. */
function pattern(bytes: number): Buffer {
  const buf = Buffer.alloc(bytes)
  for (let i = 0; i < bytes; i++) buf[i] = (i * 31 + 7) & 0xff
  return buf
}

function readBack(io: IoBackend, fd: number, bytes: number): Buffer {
  const buf = Buffer.alloc(bytes)
  return buf.subarray(0, io.pread(fd, buf, 0, bytes, 0))
}

/** A scratch file holding one file system block of pattern; returns it and the block size. */
function oneBlock(io: IoBackend, scratch: Scratch): { fd: number; blockBytes: number; data: Buffer } {
  const fd = scratch.create()
  const blockBytes = io.fsBlockBytes(fd)
  const data = pattern(blockBytes)
  io.pwrite(fd, data, 0, blockBytes, 0)
  return { fd, blockBytes, data }
}

/**
 * Opens with O_DIRECT and moves one aligned block: an existing file or
 * device is only read, a path still to be created is probed with a scratch
 * file that is written and read back. Alignment comes from statx DIOALIGN
 * (files) or BLKSSZGET (devices); where a file system reports no DIOALIGN
 * (btrfs, tmpfs on 6.18) its block size is used, and alignSource says so.
 */
export function probeDirect(
  io: IoBackend, target: { path: string; exists: boolean; isBlockDevice: boolean }, scratch: Scratch | null,
): DirectSupport {
  const none = { supported: false as const, memAlignBytes: 0, offsetAlignBytes: 0, alignSource: 'none' as const }
  const missing = noNative(io)
  if (missing) return { ...none, reason: missing }
  let opened = -1
  try {
    const fd = target.exists || scratch === null
      ? (opened = io.open(target.path, { write: false, create: false, direct: true }))
      : scratch.create(fs.constants.O_DIRECT)
    const a = io.directAlignment(fd)
    if (a.reported && (a.memAlignBytes === 0 || a.offsetAlignBytes === 0)) {
      return { ...none, reason: 'the file system opens O_DIRECT but does no direct I/O for this file (statx DIOALIGN is 0): it would go through the page cache' }
    }
    let source: AlignSource = target.isBlockDevice ? 'BLKSSZGET' : 'statx DIOALIGN'
    let mem = a.memAlignBytes
    let offset = a.offsetAlignBytes
    if (mem === 0 || offset === 0) {
      mem = offset = io.fsBlockBytes(fd)
      source = 'f_bsize'
    }
    const buf = io.allocAligned(offset, Math.max(mem, offset))
    if (opened < 0) {
      pattern(offset).copy(buf)
      io.pwrite(fd, buf, 0, offset, 0)
      buf.fill(0)
      if (io.pread(fd, buf, 0, offset, 0) !== offset || !buf.equals(pattern(offset))) {
        return { ...none, reason: 'an O_DIRECT block written to a scratch file read back different' }
      }
    } else {
      io.pread(fd, buf, 0, offset, 0)
    }
    return { supported: true, memAlignBytes: mem, offsetAlignBytes: offset, alignSource: source }
  } catch (err) {
    return { ...none, reason: reasonOf(err) }
  } finally {
    if (opened >= 0) io.close(opened)
  }
}

/** Clones one block between two scratch files and reads it back. */
export function probeClone(io: IoBackend, scratch: Scratch): CloneSupport {
  const missing = noNative(io)
  if (missing) return { supported: false, blockBytes: 0, reason: missing }
  try {
    const src = oneBlock(io, scratch)
    const dst = scratch.create()
    io.cloneRange(src.fd, 0, dst, 0, src.blockBytes)
    if (!readBack(io, dst, src.blockBytes).equals(src.data)) {
      return { supported: false, blockBytes: 0, reason: 'a one-block clone read back different bytes' }
    }
    return { supported: true, blockBytes: src.blockBytes }
  } catch (err) {
    return { supported: false, blockBytes: 0, reason: reasonOf(err, CLONE_WHY, 'ioctl FICLONERANGE') }
  }
}

const PAIR_WHY: Record<string, string> = {
  ...CLONE_WHY,
  EINVAL: 'the kernel refused to share these two files\' extents (on btrfs, a No_COW file and a copy-on-write one cannot)',
}

/** The file attribute No_COW (chattr +C), which btrfs clones only to files that have it too. */
const FS_NOCOW_FL = 0x00800000

/**
 * FICLONERANGE of one block of the real source, at `srcOffset`, into a
 * scratch file beside the destination, with the destination's No_COW
 * attribute: whether this pair can share extents, which two scratch files
 * cannot tell (btrfs subvolumes share them across st_dev; a No_COW file
 * shares none with a copy-on-write one). Null when it can, else why not.
 * `lengthBytes` is a block, or less where the source ends sooner: a whole
 * block past the source's end is EINVAL, whatever the pair.
 */
export function probeClonePair(io: IoBackend, srcPath: string, srcOffset: number, lengthBytes: number, scratch: Scratch, destPath: string | null): string | null {
  const missing = noNative(io)
  if (missing) return missing
  const opened: number[] = []
  try {
    const src = io.open(srcPath, { write: false, create: false, direct: false })
    opened.push(src)
    const dst = scratch.create()
    if (destPath !== null && io.inodeFlags && io.setInodeFlags) {
      const like = io.open(destPath, { write: false, create: false, direct: false })
      opened.push(like)
      const nocow = io.inodeFlags(like) & FS_NOCOW_FL
      if (nocow) io.setInodeFlags(dst, io.inodeFlags(dst) | nocow)
    }
    io.cloneRange(src, srcOffset, dst, 0, lengthBytes)
    return null
  } catch (err) {
    return reasonOf(err, PAIR_WHY, 'ioctl FICLONERANGE')
  } finally {
    for (const fd of opened) io.close(fd)
  }
}

/** copy_file_range of one block between two scratch files, read back. */
export function probeCopyFileRange(io: IoBackend, scratch: Scratch): Support {
  const missing = noNative(io)
  if (missing) return { supported: false, reason: missing }
  try {
    const src = oneBlock(io, scratch)
    const dst = scratch.create()
    const n = io.copyFileRange(src.fd, 0, dst, 0, src.blockBytes)
    if (n !== src.blockBytes || !readBack(io, dst, n).equals(src.data)) {
      return { supported: false, reason: `copy_file_range copied ${n} of ${src.blockBytes} bytes, or different ones` }
    }
    return { supported: true }
  } catch (err) {
    return { supported: false, reason: reasonOf(err, COPY_WHY) }
  }
}

/**
 * A one-byte copy_file_range from the device to itself on a read-only
 * descriptor: the kernel checks the file types before the access modes, so
 * it answers EINVAL for a device without anything being written.
 */
export function probeCopyFileRangeDevice(io: IoBackend, device: string): Support {
  const missing = noNative(io)
  if (missing) return { supported: false, reason: missing }
  let fd = -1
  try {
    fd = io.open(device, { write: false, create: false, direct: false })
    io.copyFileRange(fd, 0, fd, 0, 1)
    return { supported: true }
  } catch (err) {
    return { supported: false, reason: reasonOf(err, COPY_WHY) }
  } finally {
    if (fd >= 0) io.close(fd)
  }
}

/** FALLOC_FL_ZERO_RANGE on one block of a scratch file, read back as zeros. */
export function probeZeroOut(io: IoBackend, scratch: Scratch): ZeroOutSupport {
  const missing = noNative(io)
  if (missing) return { supported: false, method: 'write zeros', reason: missing }
  try {
    const src = oneBlock(io, scratch)
    if (!io.zeroRange(src.fd, 0, src.blockBytes)) {
      return {
        supported: false, method: 'write zeros',
        reason: 'fallocate FALLOC_FL_ZERO_RANGE is refused here (EOPNOTSUPP or EINVAL); zeros are written instead',
      }
    }
    if (!readBack(io, src.fd, src.blockBytes).equals(Buffer.alloc(src.blockBytes))) {
      return { supported: false, method: 'write zeros', reason: 'FALLOC_FL_ZERO_RANGE left non-zero bytes' }
    }
    return { supported: true, method: 'FALLOC_FL_ZERO_RANGE' }
  } catch (err) {
    return { supported: false, method: 'write zeros', reason: reasonOf(err) }
  }
}

/**
 * BLKZEROOUT is not tried, since it would write to the device. The kernel
 * has it for every block device (without WRITE ZEROES it writes zero pages
 * itself), so only a read-only device, per sysfs, lacks it.
 */
export function probeZeroOutDevice(io: IoBackend, rdev: number): ZeroOutSupport {
  const missing = noNative(io)
  if (missing) return { supported: false, method: 'write zeros', reason: missing }
  const { major, minor } = devMajorMinor(rdev)
  const roFile = `/sys/dev/block/${major}:${minor}/ro`
  try {
    if (fs.readFileSync(roFile, 'utf8').trim() === '1') {
      return { supported: false, method: 'BLKZEROOUT', reason: `the device is read-only (${roFile} is 1)` }
    }
  } catch {
    // No sysfs: nothing says the device is read-only.
  }
  return { supported: true, method: 'BLKZEROOUT' }
}

/** SEEK_DATA on a scratch file whose first MiB was never written. */
export function probeSparse(io: IoBackend, scratch: Scratch): Support {
  const missing = noNative(io)
  if (missing) return { supported: false, reason: `${missing}; node:fs has no lseek SEEK_DATA` }
  try {
    const fd = scratch.create()
    const blockBytes = io.fsBlockBytes(fd)
    io.pwrite(fd, pattern(blockBytes), 0, blockBytes, HOLE_BYTES)
    const data = io.seekData(fd, 0)
    if (data <= 0) {
      return { supported: false, reason: `SEEK_DATA reports a never-written first MiB as data (${data}): holes are not tracked` }
    }
    return { supported: true }
  } catch (err) {
    return { supported: false, reason: reasonOf(err) }
  }
}
