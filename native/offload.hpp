// Copy offload inside the kernel: reflink clones (ioctl FICLONERANGE) and
// copy_file_range(2). Sys* wrappers return a result >= 0 or -errno and never
// touch JS; bindings throw through ThrowErrno with syscall 'ioctl' or
// 'copy_file_range'.
#pragma once
#include <napi.h>

#include <cstdint>
#include <vector>

namespace blockcopy {

// FICLONERANGE on dstFd. length must be > 0: the kernel reads 0 as "to the
// end of the source", which no caller of a byte-range API means.
int SysCloneRange(int srcFd, int64_t srcOffset, int dstFd, int64_t dstOffset, uint64_t length);
// copy_file_range with explicit offsets (the descriptors' own positions are
// never moved), looped until length or end of the source; returns bytes copied.
int64_t SysCopyFileRange(int srcFd, int64_t srcOffset, int dstFd, int64_t dstOffset, uint64_t length);

// FS_IOC_FIEMAP over [start, start + length), FIEMAP_FLAG_SYNC first: appends
// each extent as logical, physical, length, flags (doubles: exact below 2^53).
int SysFiemap(int fd, uint64_t start, uint64_t length, std::vector<double>* out);

// FS_IOC_GETFLAGS / FS_IOC_SETFLAGS (chattr's flags: FS_NOCOW_FL and the like).
int SysInodeFlags(int fd, int* flags);
int SysSetInodeFlags(int fd, int flags);

// inodeFlags(fd): the flags as an unsigned number; setInodeFlags(fd, flags): undefined.
Napi::Value InodeFlags(const Napi::CallbackInfo& info);
Napi::Value SetInodeFlags(const Napi::CallbackInfo& info);
// fiemap(fd, offset, length): Float64Array of (logical, physical, length, flags) per extent.
Napi::Value Fiemap(const Napi::CallbackInfo& info);
// cloneRange(srcFd, srcOffset, dstFd, dstOffset, length): undefined; length 0 is a no-op.
Napi::Value CloneRange(const Napi::CallbackInfo& info);
// copyFileRange(srcFd, srcOffset, dstFd, dstOffset, length): bytes copied.
Napi::Value CopyFileRange(const Napi::CallbackInfo& info);

}  // namespace blockcopy
