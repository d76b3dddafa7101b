// Module entry. Node-API modules are context-aware: Init runs once per
// environment (main thread and each worker), each with its own AddonState.
#include <napi.h>

#include "direct_io.hpp"
#include "errors.hpp"
#include "extents.hpp"
#include "loop.hpp"
#include "offload.hpp"

namespace blockcopy {

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // Node deletes the state when this environment is torn down (worker exit).
  env.SetInstanceData(new AddonState());

  exports.Set("setErrorClass", Napi::Function::New(env, SetErrorClass, "setErrorClass"));
  exports.Set("open", Napi::Function::New(env, Open, "open"));
  exports.Set("close", Napi::Function::New(env, Close, "close"));
  exports.Set("allocAligned", Napi::Function::New(env, AllocAligned, "allocAligned"));
  exports.Set("pread", Napi::Function::New(env, Pread, "pread"));
  exports.Set("preadCached", Napi::Function::New(env, PreadCached, "preadCached"));
  exports.Set("cachedPages", Napi::Function::New(env, CachedPages, "cachedPages"));
  exports.Set("pwrite", Napi::Function::New(env, Pwrite, "pwrite"));
  exports.Set("fdatasync", Napi::Function::New(env, Fdatasync, "fdatasync"));
  exports.Set("directAlignment", Napi::Function::New(env, DirectAlignment, "directAlignment"));
  exports.Set("blockInfo", Napi::Function::New(env, BlockInfo, "blockInfo"));
  exports.Set("zeroRange", Napi::Function::New(env, ZeroRange, "zeroRange"));
  exports.Set("preallocate", Napi::Function::New(env, Preallocate, "preallocate"));
  exports.Set("punchHole", Napi::Function::New(env, PunchHole, "punchHole"));
  exports.Set("fsBlockBytes", Napi::Function::New(env, FsBlockBytes, "fsBlockBytes"));
  exports.Set("seekData", Napi::Function::New(env, SeekData, "seekData"));
  exports.Set("seekHole", Napi::Function::New(env, SeekHole, "seekHole"));
  exports.Set("cloneRange", Napi::Function::New(env, CloneRange, "cloneRange"));
  exports.Set("copyFileRange", Napi::Function::New(env, CopyFileRange, "copyFileRange"));
  exports.Set("fiemap", Napi::Function::New(env, Fiemap, "fiemap"));
  exports.Set("tryLock", Napi::Function::New(env, TryLock, "tryLock"));
  exports.Set("inodeFlags", Napi::Function::New(env, InodeFlags, "inodeFlags"));
  exports.Set("setInodeFlags", Napi::Function::New(env, SetInodeFlags, "setInodeFlags"));
  exports.Set("loopStatus", Napi::Function::New(env, LoopStatus, "loopStatus"));
  exports.Set("constants", OpenConstants(env));
  return exports;
}

}  // namespace blockcopy

// NODE_API_MODULE pastes its argument into an identifier, so it needs an unqualified name.
static Napi::Object InitBlockcopy(Napi::Env env, Napi::Object exports) {
  return blockcopy::Init(env, exports);
}

NODE_API_MODULE(blockcopy, InitBlockcopy)
