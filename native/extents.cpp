#include "extents.hpp"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "args.hpp"
#include "errors.hpp"

namespace blockcopy {

int SysFstat(int fd, struct stat* st) {
  return ::fstat(fd, st) < 0 ? -errno : 0;
}

int SysBlockSize64(int fd, uint64_t* bytes) {
  return ::ioctl(fd, BLKGETSIZE64, bytes) < 0 ? -errno : 0;
}

int SysLogicalBlockSize(int fd, int* bytes) {
  return ::ioctl(fd, BLKSSZGET, bytes) < 0 ? -errno : 0;
}

int SysPhysicalBlockSize(int fd, unsigned* bytes) {
  return ::ioctl(fd, BLKPBSZGET, bytes) < 0 ? -errno : 0;
}

// Kernels before 6.1, and file systems that do not say (btrfs, tmpfs on
// 6.18), leave STATX_DIOALIGN out of stx_mask: *known is false and the
// alignments 0. Where it is known, 0 means this file has no direct I/O
// (ext4 with data=journal opens O_DIRECT and goes through the page cache).
int SysDioAlign(int fd, uint32_t* memAlign, uint32_t* offsetAlign, bool* reported) {
  struct statx stx = {};
  if (::statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) < 0) return -errno;
  bool known = (stx.stx_mask & STATX_DIOALIGN) != 0;
  *reported = known;
  *memAlign = known ? stx.stx_dio_mem_align : 0;
  *offsetAlign = known ? stx.stx_dio_offset_align : 0;
  return 0;
}

int SysFsBlockSize(int fd, int64_t* bytes) {
  struct statfs sfs;
  if (::fstatfs(fd, &sfs) < 0) return -errno;
  *bytes = static_cast<int64_t>(sfs.f_bsize);
  return 0;
}

int64_t SysSeek(int fd, int64_t offset, int whence) {
  off_t at = ::lseek(fd, offset, whence);
  return at < 0 ? -errno : static_cast<int64_t>(at);
}

int SysBlkZeroOut(int fd, uint64_t offset, uint64_t length) {
  uint64_t range[2] = {offset, length};
  int rc;
  do {
    rc = ::ioctl(fd, BLKZEROOUT, range);
  } while (rc < 0 && errno == EINTR);
  return rc < 0 ? -errno : 0;
}

int SysFallocZeroRange(int fd, int64_t offset, int64_t length) {
  int rc;
  do {
    rc = ::fallocate(fd, FALLOC_FL_ZERO_RANGE, offset, length);
  } while (rc < 0 && errno == EINTR);
  return rc < 0 ? -errno : 0;
}

int SysFallocPunchHole(int fd, int64_t offset, int64_t length) {
  int rc;
  do {
    rc = ::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length);
  } while (rc < 0 && errno == EINTR);
  return rc < 0 ? -errno : 0;
}

int SysFallocAllocate(int fd, int64_t offset, int64_t length) {
  int rc;
  do {
    rc = ::fallocate(fd, 0, offset, length);
  } while (rc < 0 && errno == EINTR);
  return rc < 0 ? -errno : 0;
}

Napi::Value DirectAlignment(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  if (!GetFd(info, 0, &fd)) return env.Undefined();
  struct stat st;
  int rc = SysFstat(fd, &st);
  if (rc < 0) {
    ThrowErrno(env, rc, "fstat");
    return env.Undefined();
  }
  uint32_t memAlign = 0, offsetAlign = 0;
  bool reported = false;
  if (S_ISBLK(st.st_mode)) {
    // The logical block size is always a safe buffer alignment too, even
    // where the queue's DMA alignment is smaller.
    int logical = 0;
    rc = SysLogicalBlockSize(fd, &logical);
    if (rc < 0) {
      ThrowErrno(env, rc, "ioctl");
      return env.Undefined();
    }
    memAlign = offsetAlign = static_cast<uint32_t>(logical);
    reported = true;
  } else if (S_ISREG(st.st_mode)) {
    rc = SysDioAlign(fd, &memAlign, &offsetAlign, &reported);
    if (rc < 0 && rc != -ENOSYS) {
      ThrowErrno(env, rc, "statx");
      return env.Undefined();
    }
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("memAlignBytes", Napi::Number::New(env, memAlign));
  out.Set("offsetAlignBytes", Napi::Number::New(env, offsetAlign));
  out.Set("reported", Napi::Boolean::New(env, reported));
  return out;
}

Napi::Value BlockInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  if (!GetFd(info, 0, &fd)) return env.Undefined();
  struct stat st;
  int rc = SysFstat(fd, &st);
  if (rc < 0) {
    ThrowErrno(env, rc, "fstat");
    return env.Undefined();
  }
  bool isBlock = S_ISBLK(st.st_mode);
  double sizeBytes = static_cast<double>(st.st_size);
  double logical = 512;
  double physical = static_cast<double>(st.st_blksize);
  if (isBlock) {
    uint64_t size = 0;
    int lbs = 0;
    unsigned pbs = 0;
    if ((rc = SysBlockSize64(fd, &size)) < 0 || (rc = SysLogicalBlockSize(fd, &lbs)) < 0 ||
        (rc = SysPhysicalBlockSize(fd, &pbs)) < 0) {
      ThrowErrno(env, rc, "ioctl");
      return env.Undefined();
    }
    sizeBytes = static_cast<double>(size);
    logical = lbs;
    physical = pbs;
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("isBlockDevice", Napi::Boolean::New(env, isBlock));
  out.Set("sizeBytes", Napi::Number::New(env, sizeBytes));
  out.Set("logicalBlockBytes", Napi::Number::New(env, logical));
  out.Set("physicalBlockBytes", Napi::Number::New(env, physical));
  out.Set("dev", Napi::Number::New(env, static_cast<double>(isBlock ? st.st_rdev : st.st_dev)));
  out.Set("ino", Napi::Number::New(env, static_cast<double>(st.st_ino)));
  return out;
}

// The file system's block size, which reflink clones must be aligned to
// (the kernel checks against the superblock's block size, which statfs
// reports as f_bsize; st_blksize is only a preferred I/O size and XFS
// raises it with allocsize= or largeio).
Napi::Value FsBlockBytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  if (!GetFd(info, 0, &fd)) return env.Undefined();
  int64_t bytes = 0;
  int rc = SysFsBlockSize(fd, &bytes);
  if (rc < 0) {
    ThrowErrno(env, rc, "fstatfs");
    return env.Undefined();
  }
  return Napi::Number::New(env, static_cast<double>(bytes));
}

// ENXIO is an answer, not a failure: no data (or no hole) at or after the
// offset, because the offset is at or past the end of the file. It becomes -1.
static Napi::Value Seek(const Napi::CallbackInfo& info, int whence) {
  Napi::Env env = info.Env();
  int fd;
  int64_t offset;
  if (!GetFd(info, 0, &fd) || !GetSize(info, 1, "offset", &offset)) return env.Undefined();
  int64_t at = SysSeek(fd, offset, whence);
  if (at == -ENXIO) return Napi::Number::New(env, -1);
  if (at < 0) {
    ThrowErrno(env, static_cast<int>(at), "lseek");
    return env.Undefined();
  }
  return Napi::Number::New(env, static_cast<double>(at));
}

Napi::Value SeekData(const Napi::CallbackInfo& info) {
  return Seek(info, SEEK_DATA);
}

Napi::Value SeekHole(const Napi::CallbackInfo& info) {
  return Seek(info, SEEK_HOLE);
}

// false means "this target has no zero-out here, write zeros instead":
// EINVAL (unaligned device range, or a file system that rejects the mode),
// EOPNOTSUPP, and ENOTTY (a driver without the ioctl).
static bool Unsupported(int rc) {
  return rc == -EINVAL || rc == -EOPNOTSUPP || rc == -ENOTTY;
}

// Reads (fd, offset, length) and fstats fd, for the range operations below.
// false means a JS error is pending (bad argument or fstat failure).
static bool RangeArgs(const Napi::CallbackInfo& info, int* fd, int64_t* offset, int64_t* length, struct stat* st) {
  if (!GetFd(info, 0, fd) || !GetSize(info, 1, "offset", offset) || !GetSize(info, 2, "length", length)) {
    return false;
  }
  int rc = SysFstat(*fd, st);
  if (rc < 0) {
    ThrowErrno(info.Env(), rc, "fstat");
    return false;
  }
  return true;
}

Napi::Value ZeroRange(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  int64_t offset, length;
  struct stat st;
  if (!RangeArgs(info, &fd, &offset, &length, &st)) return env.Undefined();
  if (length == 0) return Napi::Boolean::New(env, true);
  int rc;
  const char* syscall;
  if (S_ISBLK(st.st_mode)) {
    syscall = "ioctl";
    rc = SysBlkZeroOut(fd, static_cast<uint64_t>(offset), static_cast<uint64_t>(length));
  } else if (S_ISREG(st.st_mode)) {
    syscall = "fallocate";
    rc = SysFallocZeroRange(fd, offset, length);
  } else {
    return Napi::Boolean::New(env, false);
  }
  if (rc == 0) return Napi::Boolean::New(env, true);
  if (Unsupported(rc)) return Napi::Boolean::New(env, false);
  ThrowErrno(env, rc, syscall);
  return env.Undefined();
}

// Allocates a regular file's blocks for a range, extending its size to the
// end of the range if it was shorter (never shrinking it). true when done;
// false when the target cannot (not a regular file, EOPNOTSUPP, EINVAL) or has
// no room (ENOSPC, EDQUOT): preallocation is an optimisation, and the writes
// themselves report what fails, range by range.
Napi::Value Preallocate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  int64_t offset, length;
  struct stat st;
  if (!RangeArgs(info, &fd, &offset, &length, &st)) return env.Undefined();
  if (length == 0) return Napi::Boolean::New(env, true);
  if (!S_ISREG(st.st_mode)) return Napi::Boolean::New(env, false);
  int rc = SysFallocAllocate(fd, offset, length);
  if (rc == 0) return Napi::Boolean::New(env, true);
  if (Unsupported(rc) || rc == -ENOSPC || rc == -EDQUOT) return Napi::Boolean::New(env, false);
  ThrowErrno(env, rc, "fallocate");
  return env.Undefined();
}

// Deallocates a range, which then reads as zeros; the size never changes
// (FALLOC_FL_KEEP_SIZE), so a range past the end of a file does nothing. On a
// block device the kernel sends write-zeroes allowed to unmap and never falls
// back to writing zeros (BLKDEV_ZERO_NOFALLBACK): loop and thin devices free
// the blocks, and the zeros are guaranteed, unlike BLKDISCARD's. (BLKZEROOUT
// asks for NOUNMAP, so it keeps them allocated.) true when done; false when
// the target cannot: neither file nor device, a file system without punch
// hole (EOPNOTSUPP: ramfs), a device without write-zeroes (EOPNOTSUPP), or an
// unaligned device range (EINVAL). The caller then zeroes it another way.
Napi::Value PunchHole(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  int64_t offset, length;
  struct stat st;
  if (!RangeArgs(info, &fd, &offset, &length, &st)) return env.Undefined();
  if (length == 0) return Napi::Boolean::New(env, true);
  if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) return Napi::Boolean::New(env, false);
  int rc = SysFallocPunchHole(fd, offset, length);
  if (rc == 0) return Napi::Boolean::New(env, true);
  if (Unsupported(rc)) return Napi::Boolean::New(env, false);
  ThrowErrno(env, rc, "fallocate");
  return env.Undefined();
}

}  // namespace blockcopy
