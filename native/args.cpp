#include "args.hpp"

#include <cmath>
#include <string>

namespace blockcopy {

static void ThrowArgType(Napi::Env env, const char* name, const char* expected) {
  Napi::TypeError error =
      Napi::TypeError::New(env, std::string("The \"") + name + "\" argument must be " + expected);
  error.Set("code", Napi::String::New(env, "ERR_INVALID_ARG_TYPE"));
  error.ThrowAsJavaScriptException();
}

void ThrowOutOfRange(Napi::Env env, const std::string& message) {
  Napi::RangeError error = Napi::RangeError::New(env, message);
  error.Set("code", Napi::String::New(env, "ERR_OUT_OF_RANGE"));
  error.ThrowAsJavaScriptException();
}

static bool GetNumber(const Napi::CallbackInfo& info, size_t index, const char* name, double* out) {
  if (index >= info.Length() || !info[index].IsNumber()) {
    ThrowArgType(info.Env(), name, "of type number");
    return false;
  }
  *out = info[index].As<Napi::Number>().DoubleValue();
  return true;
}

bool GetFd(const Napi::CallbackInfo& info, size_t index, int* out) {
  double value;
  if (!GetNumber(info, index, "fd", &value)) return false;
  if (!(value >= 0 && value <= INT32_MAX && std::floor(value) == value)) {
    ThrowOutOfRange(info.Env(), "The \"fd\" argument must be an integer >= 0 and <= 2147483647");
    return false;
  }
  *out = static_cast<int>(value);
  return true;
}

bool GetInt32(const Napi::CallbackInfo& info, size_t index, const char* name, int32_t* out) {
  double value;
  if (!GetNumber(info, index, name, &value)) return false;
  if (!(value >= INT32_MIN && value <= INT32_MAX && std::floor(value) == value)) {
    ThrowOutOfRange(info.Env(), std::string("The \"") + name + "\" argument must be an int32");
    return false;
  }
  *out = static_cast<int32_t>(value);
  return true;
}

bool GetSize(const Napi::CallbackInfo& info, size_t index, const char* name, int64_t* out) {
  constexpr double kMaxSafe = 9007199254740991.0;
  double value;
  if (!GetNumber(info, index, name, &value)) return false;
  if (!(value >= 0 && value <= kMaxSafe && std::floor(value) == value)) {
    ThrowOutOfRange(info.Env(), std::string("The \"") + name +
                                    "\" argument must be an integer >= 0 and <= 2^53 - 1");
    return false;
  }
  *out = static_cast<int64_t>(value);
  return true;
}

bool GetBytes(const Napi::CallbackInfo& info, size_t index, uint8_t** data, size_t* length) {
  if (index >= info.Length() || !info[index].IsTypedArray() ||
      info[index].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    ThrowArgType(info.Env(), "buffer", "an instance of Buffer or Uint8Array");
    return false;
  }
  Napi::Uint8Array bytes = info[index].As<Napi::Uint8Array>();
  *data = bytes.Data();
  *length = bytes.ByteLength();
  return true;
}

}  // namespace blockcopy
