#include "offload.hpp"

#include <errno.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <vector>

#include "args.hpp"
#include "errors.hpp"

namespace blockcopy {

int SysCloneRange(int srcFd, int64_t srcOffset, int dstFd, int64_t dstOffset, uint64_t length) {
  if (length == 0) return -EINVAL;
  struct file_clone_range range = {};
  range.src_fd = srcFd;
  range.src_offset = static_cast<uint64_t>(srcOffset);
  range.src_length = length;
  range.dest_offset = static_cast<uint64_t>(dstOffset);
  int rc;
  do {
    rc = ::ioctl(dstFd, FICLONERANGE, &range);
  } while (rc < 0 && errno == EINTR);
  return rc < 0 ? -errno : 0;
}

// One call moves at most about 2 GiB (MAX_RW_COUNT), so large ranges loop.
// A return of 0 is the end of the source: the caller sees a short count.
int64_t SysCopyFileRange(int srcFd, int64_t srcOffset, int dstFd, int64_t dstOffset, uint64_t length) {
  loff_t in = srcOffset;
  loff_t out = dstOffset;
  uint64_t done = 0;
  while (done < length) {
    ssize_t n = ::copy_file_range(srcFd, &in, dstFd, &out, static_cast<size_t>(length - done), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    if (n == 0) break;
    done += static_cast<uint64_t>(n);
  }
  return static_cast<int64_t>(done);
}

// Shared arguments of both bindings: (srcFd, srcOffset, dstFd, dstOffset, length).
struct RangeArgs {
  int srcFd;
  int64_t srcOffset;
  int dstFd;
  int64_t dstOffset;
  int64_t length;
};

static bool GetRangeArgs(const Napi::CallbackInfo& info, RangeArgs* a) {
  return GetFd(info, 0, &a->srcFd) && GetSize(info, 1, "srcOffset", &a->srcOffset) &&
         GetFd(info, 2, &a->dstFd) && GetSize(info, 3, "dstOffset", &a->dstOffset) &&
         GetSize(info, 4, "length", &a->length);
}

int SysFiemap(int fd, uint64_t start, uint64_t length, std::vector<double>* out) {
  constexpr uint32_t kBatch = 256;
  const size_t bytes = sizeof(struct fiemap) + kBatch * sizeof(struct fiemap_extent);
  auto* map = static_cast<struct fiemap*>(std::calloc(1, bytes));
  if (map == nullptr) return -ENOMEM;
  const uint64_t end = start + length;
  uint64_t at = start;
  // Flushed once, before the first batch: delayed allocations get their
  // real extents, so no dirty byte is reported at an old address.
  uint32_t flags = FIEMAP_FLAG_SYNC;
  int rc = 0;
  while (at < end) {
    std::memset(map, 0, bytes);
    map->fm_start = at;
    map->fm_length = end - at;
    map->fm_flags = flags;
    map->fm_extent_count = kBatch;
    if (::ioctl(fd, FS_IOC_FIEMAP, map) < 0) {
      rc = -errno;
      if (rc == -EINTR) continue;
      break;
    }
    flags = 0;
    if (map->fm_mapped_extents == 0) break;
    bool last = false;
    for (uint32_t i = 0; i < map->fm_mapped_extents; i++) {
      const struct fiemap_extent& e = map->fm_extents[i];
      out->push_back(static_cast<double>(e.fe_logical));
      out->push_back(static_cast<double>(e.fe_physical));
      out->push_back(static_cast<double>(e.fe_length));
      out->push_back(static_cast<double>(e.fe_flags));
      at = e.fe_logical + e.fe_length;
      last = last || (e.fe_flags & FIEMAP_EXTENT_LAST) != 0;
    }
    if (last) break;
  }
  std::free(map);
  return rc;
}

Napi::Value Fiemap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  int64_t start;
  int64_t length;
  if (!GetFd(info, 0, &fd) || !GetSize(info, 1, "offset", &start) || !GetSize(info, 2, "length", &length)) {
    return env.Undefined();
  }
  std::vector<double> extents;
  int rc = length > 0 ? SysFiemap(fd, static_cast<uint64_t>(start), static_cast<uint64_t>(length), &extents) : 0;
  if (rc < 0) {
    ThrowErrno(env, rc, "ioctl");
    return env.Undefined();
  }
  Napi::Float64Array out = Napi::Float64Array::New(env, extents.size());
  for (size_t i = 0; i < extents.size(); i++) out[i] = extents[i];
  return out;
}

int SysInodeFlags(int fd, int* flags) {
  return ::ioctl(fd, FS_IOC_GETFLAGS, flags) < 0 ? -errno : 0;
}

int SysSetInodeFlags(int fd, int flags) {
  return ::ioctl(fd, FS_IOC_SETFLAGS, &flags) < 0 ? -errno : 0;
}

Napi::Value InodeFlags(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  if (!GetFd(info, 0, &fd)) return env.Undefined();
  int flags = 0;
  int rc = SysInodeFlags(fd, &flags);
  if (rc < 0) {
    ThrowErrno(env, rc, "ioctl");
    return env.Undefined();
  }
  return Napi::Number::New(env, static_cast<double>(static_cast<uint32_t>(flags)));
}

Napi::Value SetInodeFlags(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  int64_t flags;
  if (!GetFd(info, 0, &fd) || !GetSize(info, 1, "flags", &flags)) return env.Undefined();
  int rc = SysSetInodeFlags(fd, static_cast<int>(static_cast<uint32_t>(flags)));
  if (rc < 0) ThrowErrno(env, rc, "ioctl");
  return env.Undefined();
}

Napi::Value CloneRange(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RangeArgs a;
  if (!GetRangeArgs(info, &a)) return env.Undefined();
  // Never hand the kernel a 0 length: it would clone to the end of the source.
  if (a.length == 0) return env.Undefined();
  int rc = SysCloneRange(a.srcFd, a.srcOffset, a.dstFd, a.dstOffset, static_cast<uint64_t>(a.length));
  if (rc < 0) ThrowErrno(env, rc, "ioctl");
  return env.Undefined();
}

Napi::Value CopyFileRange(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RangeArgs a;
  if (!GetRangeArgs(info, &a)) return env.Undefined();
  int64_t n = SysCopyFileRange(a.srcFd, a.srcOffset, a.dstFd, a.dstOffset, static_cast<uint64_t>(a.length));
  if (n < 0) {
    ThrowErrno(env, static_cast<int>(n), "copy_file_range");
    return env.Undefined();
  }
  return Napi::Number::New(env, static_cast<double>(n));
}

}  // namespace blockcopy
