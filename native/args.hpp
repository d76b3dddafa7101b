// Argument checks shared by the bindings. Each returns false after leaving a
// pending TypeError/RangeError (with Node's ERR_* code), so a binding does
// `if (!GetFd(...)) return env.Undefined();`.
#pragma once
#include <napi.h>

#include <cstdint>
#include <string>

namespace blockcopy {

// A non-negative int32 file descriptor.
bool GetFd(const Napi::CallbackInfo& info, size_t index, int* out);

// Any int32 (open flags and mode).
bool GetInt32(const Napi::CallbackInfo& info, size_t index, const char* name, int32_t* out);

// A non-negative integer no larger than 2^53 - 1 (sizes, offsets, positions).
bool GetSize(const Napi::CallbackInfo& info, size_t index, const char* name, int64_t* out);

// A Buffer or Uint8Array; data and length describe its bytes.
bool GetBytes(const Napi::CallbackInfo& info, size_t index, uint8_t** data, size_t* length);

// Leaves a pending RangeError with code ERR_OUT_OF_RANGE.
void ThrowOutOfRange(Napi::Env env, const std::string& message);

}  // namespace blockcopy
