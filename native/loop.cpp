#include "loop.hpp"

#include <errno.h>
#include <linux/loop.h>
#include <sys/ioctl.h>

#include "args.hpp"
#include "errors.hpp"

namespace blockcopy {

int SysLoopStatus(int fd, LoopInfo* out) {
  struct loop_info64 li = {};
  if (::ioctl(fd, LOOP_GET_STATUS64, &li) < 0) return -errno;
  out->device = li.lo_device;
  out->inode = li.lo_inode;
  out->offset = li.lo_offset;
  out->sizeLimit = li.lo_sizelimit;
  return 0;
}

// null for a device that is not a loop device (ENOTTY, EINVAL) or has no
// file attached (ENXIO): an answer, not a failure. Numbers are exact below
// 2^53, which device numbers, inode numbers and offsets stay under here.
Napi::Value LoopStatus(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  if (!GetFd(info, 0, &fd)) return env.Undefined();
  LoopInfo s = {};
  int rc = SysLoopStatus(fd, &s);
  if (rc == -ENXIO || rc == -ENOTTY || rc == -EINVAL) return env.Null();
  if (rc < 0) {
    ThrowErrno(env, rc, "ioctl");
    return env.Undefined();
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("device", Napi::Number::New(env, static_cast<double>(s.device)));
  out.Set("inode", Napi::Number::New(env, static_cast<double>(s.inode)));
  out.Set("offsetBytes", Napi::Number::New(env, static_cast<double>(s.offset)));
  out.Set("sizeLimitBytes", Napi::Number::New(env, static_cast<double>(s.sizeLimit)));
  return out;
}

}  // namespace blockcopy
