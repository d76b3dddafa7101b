#include "errors.hpp"

#include <string.h>

#include <string>

namespace blockcopy {

AddonState* GetState(Napi::Env env) {
  return env.GetInstanceData<AddonState>();
}

// strerrorname_np and strerrordesc_np (glibc >= 2.32) return static strings,
// so unlike strerror they are safe to call from many worker threads.
static std::string ErrnoName(int err) {
  const char* name = strerrorname_np(err);
  return name != nullptr ? name : "E" + std::to_string(err);
}

static std::string ErrnoMessage(int err, const std::string& code, const char* syscall,
                                const char* path) {
  const char* desc = strerrordesc_np(err);
  std::string text = desc != nullptr ? desc : "unknown error";
  // Node's fs messages start in lower case ("no such file or directory").
  if (!text.empty() && text[0] >= 'A' && text[0] <= 'Z') text[0] = static_cast<char>(text[0] - 'A' + 'a');
  std::string msg = code + ": " + text + ", " + syscall;
  if (path != nullptr) msg += std::string(" '") + path + "'";
  return msg;
}

void ThrowErrno(Napi::Env env, int negErrno, const char* syscall, const char* path) {
  int err = negErrno < 0 ? -negErrno : negErrno;
  std::string code = ErrnoName(err);
  std::string message = ErrnoMessage(err, code, syscall, path);
  Napi::Value pathValue = path != nullptr ? Napi::String::New(env, path) : env.Undefined();

  AddonState* state = GetState(env);
  if (state != nullptr && !state->errorClass.IsEmpty()) {
    Napi::Object error = state->errorClass.New({
        Napi::String::New(env, message),
        Napi::String::New(env, code),
        Napi::Number::New(env, err),
        Napi::String::New(env, syscall),
        pathValue,
    });
    // A constructor that throws leaves its own exception pending; keep that one.
    if (env.IsExceptionPending()) return;
    napi_throw(env, error);
    return;
  }

  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, code));
  error.Set("errno", Napi::Number::New(env, err));
  error.Set("syscall", Napi::String::New(env, syscall));
  if (path != nullptr) error.Set("path", pathValue);
  error.ThrowAsJavaScriptException();
}

Napi::Value SetErrorClass(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsFunction()) {
    Napi::TypeError::New(env, "setErrorClass: expected a constructor").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  GetState(env)->errorClass = Napi::Persistent(info[0].As<Napi::Function>());
  return env.Undefined();
}

}  // namespace blockcopy
