/**
 * The I/O surface the engine needs from the operating system. Two backends
 * implement it: the native addon (O_DIRECT, ioctls, statx) and a pure
 * `node:fs` fallback that does the same work without direct I/O.
 *
 * Every method is synchronous: it is called from a worker thread, whose whole
 * job is to block in these calls. Failures throw a `SystemError`
 * (src/errors.ts) with Node's shape: `code` (errno name), `errno`, `syscall`,
 * `path`.
 */

/** Which implementation is in use, and why the addon is not (if it is not). */
export interface BackendInfo {
  kind: 'native' | 'fs'
  /** Why the native addon is not in use; absent when it is. */
  reason?: string
}

/** How a descriptor is opened. */
export interface OpenOptions {
  write: boolean
  /** O_CREAT (mode 0o644). Never O_TRUNC: existing bytes are never discarded. */
  create: boolean
  /** O_DIRECT: bypass the page cache. The fs backend refuses it with EINVAL. */
  direct: boolean
  /**
   * O_EXCL. On a block device, Linux then refuses (EBUSY) a device that is
   * mounted or held by device-mapper, md or LVM: blockcopy never writes under a
   * mounted file system. (Never combined with create: files are not opened so.)
   */
  exclusive?: boolean
}

/** Direct-I/O alignment of an open descriptor, from statx DIOALIGN or BLKSSZGET. */
export interface DirectAlignment {
  /** Required alignment of buffer addresses, bytes (0: unsupported, or not reported). */
  memAlignBytes: number
  /** Required alignment of file offsets and lengths, bytes (0: unsupported, or not reported). */
  offsetAlignBytes: number
  /**
   * Whether the kernel said (statx STATX_DIOALIGN, BLKSSZGET): then 0 means
   * the file has no direct I/O, though it opens O_DIRECT (ext4 with
   * data=journal). Unreported (kernels before 6.1; btrfs and tmpfs on 6.18),
   * 0 means nothing.
   */
  reported: boolean
}

/** What an open descriptor refers to. */
export interface BlockInfo {
  isBlockDevice: boolean
  /** File size, or the device size from BLKGETSIZE64 (fstat says 0 for devices). */
  sizeBytes: number
  /** BLKSSZGET on devices; st_blksize's natural 512 for files. */
  logicalBlockBytes: number
  /** BLKPBSZGET on devices; st_blksize for files. */
  physicalBlockBytes: number
  /** st_dev of the file, or st_rdev of the device: identifies the volume. */
  dev: number
  ino: number
}

/** What a loop device reads: its backing file, and the part of it the device shows. */
export interface LoopStatus {
  /** st_dev of the backing file (of its device node, for a loop over a block device). */
  device: number
  /** st_ino of the backing file. */
  inode: number
  /** The byte of the backing file that is the device's byte 0. */
  offsetBytes: number
  /** Bytes of the backing file the device shows from offsetBytes; 0 means to its end. */
  sizeLimitBytes: number
}

export interface IoBackend {
  readonly info: BackendInfo
  open(path: string, options: OpenOptions): number
  close(fd: number): void
  /**
   * A buffer whose address is a multiple of `alignBytes`, owned by the
   * calling thread and freed when it is garbage-collected or the thread ends.
   * Never put it in a transfer list: it would be copied and lose alignment.
   */
  allocAligned(sizeBytes: number, alignBytes: number): Buffer
  /** Reads until `lengthBytes` or end of file; returns the bytes read. EINTR is retried. */
  pread(fd: number, buf: Buffer, bufOffset: number, lengthBytes: number, positionBytes: number): number
  /**
   * Reads only what the page cache already holds, from positionBytes on,
   * never waiting for the device (preadv2 with RWF_NOWAIT): the bytes read,
   * fewer than asked where the cached bytes stop (0 when the first is not
   * cached). null when this backend or file system cannot tell.
   */
  preadCached?(fd: number, buf: Buffer, bufOffset: number, lengthBytes: number, positionBytes: number): number | null
  /**
   * Pages of [positionBytes, +lengthBytes) in the page cache (cachestat), read
   * without starting any I/O; null when the kernel or file cannot tell, or
   * the caller may not ask (cachestat wants write access or ownership): never throws.
   * preadCached alone cannot ask: a miss starts read-ahead of what it asked for.
   */
  cachedPages?(fd: number, positionBytes: number, lengthBytes: number): number | null
  /** Writes all `lengthBytes` (short writes are continued) or throws. EINTR is retried. */
  pwrite(fd: number, buf: Buffer, bufOffset: number, lengthBytes: number, positionBytes: number): void
  fdatasync(fd: number): void
  /** Alignment for direct I/O on this descriptor; zeros when the file system has none. */
  directAlignment(fd: number): DirectAlignment
  blockInfo(fd: number): BlockInfo
  /**
   * Zeroes a range with the device's or file system's own zero-out
   * (BLKZEROOUT on devices, fallocate FALLOC_FL_ZERO_RANGE on files).
   * Returns false when the target has no such operation (EOPNOTSUPP, ENOTTY,
   * EINVAL from an unaligned device range): the caller writes zeros instead.
   * Throws on real I/O errors.
   */
  zeroRange(fd: number, offsetBytes: number, lengthBytes: number): boolean
  /**
   * Allocates a regular file's blocks for a range and extends the file to
   * the end of the range if it is shorter (fallocate mode 0; existing bytes
   * are kept), so that parallel direct writes are overwrites: ext4 takes its
   * inode lock exclusively, and waits, for direct writes that allocate or
   * extend. Returns false when the target cannot or has no room (the writes
   * then report what fails); throws on other errors.
   */
  preallocate(fd: number, offsetBytes: number, lengthBytes: number): boolean
  /**
   * Deallocates a range, which then reads as zeros (fallocate
   * FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE: the size never changes). On a
   * block device that is write-zeroes allowed to unmap, without the kernel's
   * fallback to writing zeros: loop and thin devices free the blocks, and
   * zeros are guaranteed (BLKDISCARD guarantees nothing; zeroRange's
   * BLKZEROOUT keeps the blocks allocated). Returns false where that cannot
   * be done: a file system without punch hole (EOPNOTSUPP: ramfs), a device
   * without write-zeroes or an unaligned device range, the fs backend; the
   * caller zeroes the range another way. Throws on real I/O errors.
   */
  punchHole(fd: number, offsetBytes: number, lengthBytes: number): boolean
  /**
   * The file system's block size (fstatfs `f_bsize`; XFS, btrfs and ext4
   * report 4096): what reflink clones must be aligned to. Not `st_blksize`,
   * which is a preferred I/O size that XFS raises with allocsize= or largeio.
   */
  fsBlockBytes(fd: number): number
  /**
   * lseek SEEK_DATA: the first offset at or after `offsetBytes` that holds
   * data, or -1 when there is none before the end of the file. File systems
   * that do not track holes report every byte as data.
   */
  seekData(fd: number, offsetBytes: number): number
  /**
   * lseek SEEK_HOLE: the first offset at or after `offsetBytes` in a hole
   * (the end of the file counts as one), or -1 when `offsetBytes` is at or
   * past the end of the file.
   */
  seekHole(fd: number, offsetBytes: number): number
  /**
   * Reflink: makes `lengthBytes` of the destination at `dstOffsetBytes` share
   * the source's extents at `srcOffsetBytes` (ioctl FICLONERANGE on `dstFd`,
   * which must be open for writing). Offsets and length must be multiples of
   * the file system block size (fsBlockBytes), except that the range may end
   * at the source's end of file. Length 0 does nothing (the kernel would read
   * it as "to the end of the source"). Throws SystemError with syscall
   * 'ioctl': EOPNOTSUPP where the file system cannot clone (ext4, tmpfs),
   * EXDEV across file systems, EINVAL when unaligned.
   */
  cloneRange(srcFd: number, srcOffsetBytes: number, dstFd: number, dstOffsetBytes: number, lengthBytes: number): void
  /**
   * ioctl FS_IOC_FIEMAP over [offsetBytes, +lengthBytes), the file's dirty
   * pages flushed first (FIEMAP_FLAG_SYNC): where each extent lies on the
   * device, flat (logical, physical, length, flags) per extent, ascending.
   * Holes have no extent. Absent where the backend cannot ask (node:fs).
   * Throws SystemError with syscall 'ioctl' (EOPNOTSUPP where the file
   * system keeps no such map).
   */
  fiemap?(fd: number, offsetBytes: number, lengthBytes: number): Float64Array
  /**
   * flock(LOCK_EX | LOCK_NB) on `fd`: true when this descriptor now holds
   * the file's exclusive lock, false when another open file does. Released
   * when `fd` is closed or the process ends. Absent with node:fs.
   */
  tryLock?(fd: number): boolean
  /** ioctl FS_IOC_GETFLAGS: the inode's attribute flags (chattr's: FS_NOCOW_FL 0x800000 and the like). Absent with node:fs. */
  inodeFlags?(fd: number): number
  /** ioctl FS_IOC_SETFLAGS. Absent with node:fs. */
  setInodeFlags?(fd: number, flags: number): void
  /**
   * ioctl LOOP_GET_STATUS64 on a block device: the file a loop device reads
   * and from where, by device and inode (which hold when the file was
   * renamed, unlinked, or is out of this mount namespace, where its name in
   * sysfs does not); null when the device is not a loop device or has no
   * file attached. Absent with node:fs.
   */
  loopStatus?(fd: number): LoopStatus | null
  /**
   * copy_file_range(2) with explicit offsets (the descriptors' positions do
   * not move): copies in the kernel, looping until `lengthBytes` are copied
   * or the source ends. Returns the bytes copied, short only at the source's
   * end of file. EINTR is retried. Throws SystemError with syscall
   * 'copy_file_range' (EXDEV across most file systems, EINVAL for anything
   * but regular files).
   */
  copyFileRange(srcFd: number, srcOffsetBytes: number, dstFd: number, dstOffsetBytes: number, lengthBytes: number): number
}
