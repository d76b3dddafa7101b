// Device and file geometry (size, block sizes, direct-I/O alignment), holes
// (SEEK_DATA/SEEK_HOLE, punch hole) and zero-out. Sys* wrappers return 0 (or
// an offset) or -errno; bindings throw through ThrowErrno with syscall
// 'fstat', 'fstatfs', 'ioctl', 'statx', 'lseek' or 'fallocate'.
#pragma once
#include <napi.h>
#include <sys/stat.h>

#include <cstdint>

namespace blockcopy {

int SysFstat(int fd, struct stat* st);
int SysBlockSize64(int fd, uint64_t* bytes);          // BLKGETSIZE64
int SysLogicalBlockSize(int fd, int* bytes);          // BLKSSZGET
int SysPhysicalBlockSize(int fd, unsigned* bytes);    // BLKPBSZGET
// statx DIOALIGN; both zero when the file system reports none.
int SysDioAlign(int fd, uint32_t* memAlign, uint32_t* offsetAlign, bool* reported);
int SysFsBlockSize(int fd, int64_t* bytes);           // fstatfs f_bsize
// lseek SEEK_DATA / SEEK_HOLE: the offset found, or -errno (-ENXIO: none).
int64_t SysSeek(int fd, int64_t offset, int whence);
int SysBlkZeroOut(int fd, uint64_t offset, uint64_t length);      // BLKZEROOUT
int SysFallocZeroRange(int fd, int64_t offset, int64_t length);   // FALLOC_FL_ZERO_RANGE
int SysFallocPunchHole(int fd, int64_t offset, int64_t length);   // FALLOC_FL_PUNCH_HOLE | KEEP_SIZE
int SysFallocAllocate(int fd, int64_t offset, int64_t length);    // mode 0: allocate, extend size

Napi::Value DirectAlignment(const Napi::CallbackInfo& info);
Napi::Value BlockInfo(const Napi::CallbackInfo& info);
Napi::Value FsBlockBytes(const Napi::CallbackInfo& info);
Napi::Value SeekData(const Napi::CallbackInfo& info);
Napi::Value SeekHole(const Napi::CallbackInfo& info);
Napi::Value ZeroRange(const Napi::CallbackInfo& info);
Napi::Value Preallocate(const Napi::CallbackInfo& info);
Napi::Value PunchHole(const Napi::CallbackInfo& info);

}  // namespace blockcopy
