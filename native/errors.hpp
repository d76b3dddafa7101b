// The one place where a failed syscall becomes a JS error. Wrappers elsewhere
// return -errno and never touch JS; bindings hand that value to ThrowErrno.
#pragma once
#include <napi.h>

namespace blockcopy {

// Per-environment state. The main thread and every worker that loads the
// addon get their own copy; Node deletes it when that environment ends.
struct AddonState {
  // Constructor the JS side handed over with setErrorClass: called as
  // new ctor(message, code, errno, syscall, path). Empty until then.
  Napi::FunctionReference errorClass;
};

AddonState* GetState(Napi::Env env);

// Leaves a pending JS exception shaped like Node's fs errors: code is the
// errno name, errno is positive, syscall always set, path when known.
// negErrno is what a wrapper returned (-errno).
void ThrowErrno(Napi::Env env, int negErrno, const char* syscall, const char* path = nullptr);

// setErrorClass(ctor): stores ctor for this environment.
Napi::Value SetErrorClass(const Napi::CallbackInfo& info);

}  // namespace blockcopy
