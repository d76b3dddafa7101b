#include "direct_io.hpp"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <string>

#include "args.hpp"
#include "errors.hpp"

namespace blockcopy {

int SysOpen(const char* path, int flags, int mode) {
  int fd;
  do {
    fd = ::open(path, flags, mode);
  } while (fd < 0 && errno == EINTR);
  return fd < 0 ? -errno : fd;
}

// Linux frees the descriptor even when close reports EINTR, so retrying could
// close a descriptor another thread has just been given.
int SysClose(int fd) {
  if (::close(fd) < 0 && errno != EINTR) return -errno;
  return 0;
}

int64_t SysPreadFull(int fd, uint8_t* buf, size_t length, int64_t position) {
  size_t done = 0;
  while (done < length) {
    ssize_t n = ::pread(fd, buf + done, length - done, position + static_cast<int64_t>(done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return static_cast<int64_t>(done);
}

int64_t SysPreadCached(int fd, uint8_t* buf, size_t length, int64_t position) {
  size_t done = 0;
  while (done < length) {
    struct iovec v = {buf + done, length - done};
    ssize_t n = ::preadv2(fd, &v, 1, position + static_cast<int64_t>(done), RWF_NOWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      // The next byte is not in the page cache (or reading it would block).
      if (errno == EAGAIN) break;
      return -errno;
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return static_cast<int64_t>(done);
}

// cachestat(2) has no libc wrapper in older glibc; its number is the same on every architecture.
#ifndef __NR_cachestat
#define __NR_cachestat 451
#endif

int64_t SysCachedPages(int fd, int64_t position, int64_t length) {
  struct {
    uint64_t off, len;
  } range = {static_cast<uint64_t>(position), static_cast<uint64_t>(length)};
  struct {
    uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted;
  } stat = {};
  if (::syscall(__NR_cachestat, fd, &range, &stat, 0) < 0) return -errno;
  return static_cast<int64_t>(stat.nr_cache);
}

int SysPwriteFull(int fd, const uint8_t* buf, size_t length, int64_t position) {
  size_t done = 0;
  while (done < length) {
    ssize_t n = ::pwrite(fd, buf + done, length - done, position + static_cast<int64_t>(done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    // No progress and no error: the device has no room left; looping would spin.
    if (n == 0) return -ENOSPC;
    done += static_cast<size_t>(n);
  }
  return 0;
}

int SysFdatasync(int fd) {
  int rc;
  do {
    rc = ::fdatasync(fd);
  } while (rc < 0 && errno == EINTR);
  return rc < 0 ? -errno : 0;
}

// posix_memalign wants a power of two that is a multiple of sizeof(void*);
// rounding a smaller power of two up to that still keeps the caller's guarantee.
int SysAllocAligned(void** out, size_t size, size_t align) {
  if (align == 0 || (align & (align - 1)) != 0) return -EINVAL;
  if (align < sizeof(void*)) align = sizeof(void*);
  // A zero-byte request still gets its own block so the finalizer has something to free.
  return -posix_memalign(out, align, size == 0 ? 1 : size);
}

Napi::Value Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) {
    Napi::TypeError::New(env, "The \"path\" argument must be of type string").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string path = info[0].As<Napi::String>().Utf8Value();
  int32_t flags, mode;
  if (!GetInt32(info, 1, "flags", &flags) || !GetInt32(info, 2, "mode", &mode)) return env.Undefined();
  int fd = SysOpen(path.c_str(), flags, mode);
  if (fd < 0) {
    ThrowErrno(env, fd, "open", path.c_str());
    return env.Undefined();
  }
  return Napi::Number::New(env, fd);
}

Napi::Value Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  if (!GetFd(info, 0, &fd)) return env.Undefined();
  int rc = SysClose(fd);
  if (rc < 0) ThrowErrno(env, rc, "close");
  return env.Undefined();
}

static void FreeAligned(Napi::Env env, uint8_t* data, size_t* size) {
  Napi::MemoryManagement::AdjustExternalMemory(env, -static_cast<int64_t>(*size));
  delete size;
  free(data);
}

// The buffer owns memory V8 cannot see; reporting it lets the GC feel the
// pressure of a few large I/O buffers and free dropped ones in time.
Napi::Value AllocAligned(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t size, align;
  if (!GetSize(info, 0, "size", &size) || !GetSize(info, 1, "align", &align)) return env.Undefined();
  void* data = nullptr;
  int rc = SysAllocAligned(&data, static_cast<size_t>(size), static_cast<size_t>(align));
  if (rc < 0) {
    ThrowErrno(env, rc, "posix_memalign");
    return env.Undefined();
  }
  Napi::MemoryManagement::AdjustExternalMemory(env, size);
  return Napi::Buffer<uint8_t>::New(env, static_cast<uint8_t*>(data), static_cast<size_t>(size),
                                    FreeAligned, new size_t(static_cast<size_t>(size)));
}

// Shared argument handling of pread and pwrite: (fd, buf, bufOffset, length, position).
struct IoArgs {
  int fd;
  uint8_t* data;
  int64_t length;
  int64_t position;
};

static bool GetIoArgs(const Napi::CallbackInfo& info, IoArgs* out) {
  uint8_t* data;
  size_t byteLength;
  int64_t offset;
  if (!GetFd(info, 0, &out->fd) || !GetBytes(info, 1, &data, &byteLength) ||
      !GetSize(info, 2, "bufOffset", &offset) || !GetSize(info, 3, "length", &out->length) ||
      !GetSize(info, 4, "position", &out->position)) {
    return false;
  }
  if (static_cast<uint64_t>(offset) + static_cast<uint64_t>(out->length) > byteLength) {
    ThrowOutOfRange(info.Env(), "bufOffset + length (" + std::to_string(offset) + " + " +
                                    std::to_string(out->length) + ") exceeds the buffer's " +
                                    std::to_string(byteLength) + " bytes");
    return false;
  }
  out->data = data + offset;
  return true;
}

// A read binding: (fd, buf, bufOffset, length, position) -> bytes read, or throws.
static Napi::Value ReadWith(const Napi::CallbackInfo& info, int64_t (*read)(int, uint8_t*, size_t, int64_t),
                            const char* syscall) {
  Napi::Env env = info.Env();
  IoArgs a;
  if (!GetIoArgs(info, &a)) return env.Undefined();
  int64_t n = read(a.fd, a.data, static_cast<size_t>(a.length), a.position);
  if (n < 0) {
    ThrowErrno(env, static_cast<int>(n), syscall);
    return env.Undefined();
  }
  return Napi::Number::New(env, static_cast<double>(n));
}

Napi::Value Pread(const Napi::CallbackInfo& info) { return ReadWith(info, SysPreadFull, "pread"); }

Napi::Value PreadCached(const Napi::CallbackInfo& info) { return ReadWith(info, SysPreadCached, "preadv2"); }

Napi::Value CachedPages(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  int64_t position, length;
  if (!GetFd(info, 0, &fd) || !GetSize(info, 1, "position", &position) || !GetSize(info, 2, "length", &length)) {
    return env.Undefined();
  }
  int64_t n = SysCachedPages(fd, position, length);
  if (n < 0) {
    ThrowErrno(env, static_cast<int>(n), "cachestat");
    return env.Undefined();
  }
  return Napi::Number::New(env, static_cast<double>(n));
}

Napi::Value Pwrite(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  IoArgs a;
  if (!GetIoArgs(info, &a)) return env.Undefined();
  int rc = SysPwriteFull(a.fd, a.data, static_cast<size_t>(a.length), a.position);
  if (rc < 0) ThrowErrno(env, rc, "pwrite");
  return env.Undefined();
}

Napi::Value Fdatasync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  if (!GetFd(info, 0, &fd)) return env.Undefined();
  int rc = SysFdatasync(fd);
  if (rc < 0) ThrowErrno(env, rc, "fdatasync");
  return env.Undefined();
}

int SysTryLock(int fd) {
  int rc;
  do {
    rc = ::flock(fd, LOCK_EX | LOCK_NB);
  } while (rc < 0 && errno == EINTR);
  if (rc == 0) return 1;
  return errno == EWOULDBLOCK ? 0 : -errno;
}

Napi::Value TryLock(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  if (!GetFd(info, 0, &fd)) return env.Undefined();
  int rc = SysTryLock(fd);
  if (rc < 0) {
    ThrowErrno(env, rc, "flock");
    return env.Undefined();
  }
  return Napi::Boolean::New(env, rc == 1);
}

Napi::Object OpenConstants(Napi::Env env) {
  Napi::Object c = Napi::Object::New(env);
  c.Set("O_RDONLY", O_RDONLY);
  c.Set("O_WRONLY", O_WRONLY);
  c.Set("O_RDWR", O_RDWR);
  c.Set("O_CREAT", O_CREAT);
  c.Set("O_EXCL", O_EXCL);
  c.Set("O_CLOEXEC", O_CLOEXEC);
  c.Set("O_DIRECT", O_DIRECT);
  c.Set("O_TMPFILE", O_TMPFILE);
  return c;
}

}  // namespace blockcopy
