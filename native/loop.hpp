// Loop devices: what file (or device) a loop device reads, and from where.
// SysLoopStatus returns 0, or -errno (-ENXIO: no file attached; -ENOTTY or
// -EINVAL: not a loop device); the binding throws through ThrowErrno with
// syscall 'ioctl' for anything else.
#pragma once
#include <napi.h>

#include <cstdint>

namespace blockcopy {

struct LoopInfo {
  uint64_t device;     // st_dev of the backing file, as stat(2) encodes it
  uint64_t inode;      // st_ino of the backing file
  uint64_t offset;     // byte of the backing file where the device's byte 0 is
  uint64_t sizeLimit;  // bytes of the backing file the device shows; 0: to its end
};

int SysLoopStatus(int fd, LoopInfo* out);  // LOOP_GET_STATUS64

Napi::Value LoopStatus(const Napi::CallbackInfo& info);

}  // namespace blockcopy
