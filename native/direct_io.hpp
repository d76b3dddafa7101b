// open/close/pread/pwrite/fdatasync and aligned buffers. The Sys* wrappers
// return a result >= 0 or -errno and never touch JS; they may run on any
// thread. The bindings below them run on the thread that called them.
#pragma once
#include <napi.h>

#include <cstddef>
#include <cstdint>

namespace blockcopy {

int SysOpen(const char* path, int flags, int mode);
int SysClose(int fd);
// Reads until length or end of file; returns bytes read or -errno.
int64_t SysPreadFull(int fd, uint8_t* buf, size_t length, int64_t position);
// Reads what the page cache holds of [position, +length), never waiting for
// the device (preadv2 RWF_NOWAIT): bytes read, stopping where the cached bytes
// stop, or -errno (-EOPNOTSUPP where the file system cannot read that way).
int64_t SysPreadCached(int fd, uint8_t* buf, size_t length, int64_t position);
// Pages of [position, +length) in the page cache (cachestat, Linux 6.5+),
// without reading or starting any I/O; or -errno (-ENOSYS on older kernels).
int64_t SysCachedPages(int fd, int64_t position, int64_t length);
// Writes all of length; returns 0 or -errno (a write of 0 bytes is -ENOSPC).
int SysPwriteFull(int fd, const uint8_t* buf, size_t length, int64_t position);
int SysFdatasync(int fd);
int SysAllocAligned(void** out, size_t size, size_t align);
// flock(LOCK_EX | LOCK_NB): 1 taken, 0 held by another open file, or -errno.
// The kernel drops it when the descriptor closes or the process dies.
int SysTryLock(int fd);

Napi::Value Open(const Napi::CallbackInfo& info);
Napi::Value Close(const Napi::CallbackInfo& info);
Napi::Value AllocAligned(const Napi::CallbackInfo& info);
Napi::Value Pread(const Napi::CallbackInfo& info);
Napi::Value PreadCached(const Napi::CallbackInfo& info);
Napi::Value CachedPages(const Napi::CallbackInfo& info);
Napi::Value Pwrite(const Napi::CallbackInfo& info);
Napi::Value Fdatasync(const Napi::CallbackInfo& info);
// tryLock(fd): true if this descriptor now holds the exclusive flock, false if another does.
Napi::Value TryLock(const Napi::CallbackInfo& info);

// The open(2) flag values the JS side needs, as a plain object.
Napi::Object OpenConstants(Napi::Env env);

}  // namespace blockcopy
