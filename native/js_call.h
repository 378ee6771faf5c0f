// native/js_call.h
//
// Running native work for a JS call: the one place native failures become JS errors (Guard,
// and OpWorker for promises), and the harness that turns an operation class -- constructor
// reads the arguments on the JS thread, Execute() does the work on whichever thread runs
// it, Result() builds the JS value -- into a synchronous `name` and a promise-returning
// `nameAsync` (RunSync, RunAsync, ExportOp). Knows nothing about segments.
#pragma once

#include <napi.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "errors.h"

namespace shoal {

struct ErrorRecord {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
  std::vector<ErrorDetail> details;
};

// Captures the exception being handled (call inside a catch block) as plain data that can
// cross threads.
ErrorRecord RecordCurrentException();

Napi::Error MakeError(Napi::Env env, const ErrorRecord& r);

template <typename Body>
Napi::Value Guard(const Napi::CallbackInfo& info, Body&& body) {
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;  // already a JS exception
  } catch (...) {
    MakeError(info.Env(), RecordCurrentException()).ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
}

template <typename Op>
Napi::Value RunSync(const Napi::CallbackInfo& info) {
  return Guard(info, [&] {
    Op op(info, /*async=*/false);
    op.Execute();
    return op.Result(info.Env());
  });
}

template <typename Op>
class OpWorker final : public Napi::AsyncWorker {
 public:
  OpWorker(Napi::Env env, std::unique_ptr<Op> op)
      : Napi::AsyncWorker(env, "shoal"), op_(std::move(op)),
        deferred_(Napi::Promise::Deferred::New(env)) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override {
    try {
      op_->Execute();
    } catch (...) {
      failure_ = std::make_unique<ErrorRecord>(RecordCurrentException());
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (failure_ != nullptr) {
      deferred_.Reject(MakeError(env, *failure_).Value());
      return;
    }
    try {
      deferred_.Resolve(op_->Result(env));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    } catch (...) {
      deferred_.Reject(MakeError(env, RecordCurrentException()).Value());
    }
  }

 private:
  std::unique_ptr<Op> op_;
  Napi::Promise::Deferred deferred_;
  std::unique_ptr<ErrorRecord> failure_;
};

template <typename Op>
Napi::Value RunAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    auto op = std::make_unique<Op>(info, /*async=*/true);
    auto* worker = new OpWorker<Op>(env, std::move(op));  // deletes itself after OnOK
    Napi::Promise promise = worker->Promise();
    worker->Queue();
    return promise;
  } catch (...) {
    // Argument errors reject too, so callers have one error channel.
    auto deferred = Napi::Promise::Deferred::New(env);
    deferred.Reject(MakeError(env, RecordCurrentException()).Value());
    return deferred.Promise();
  }
}

template <typename Op>
void ExportOp(Napi::Env env, Napi::Object exports, const char* name) {
  exports.Set(name, Napi::Function::New(env, RunSync<Op>, name));
  const std::string async_name = std::string(name) + "Async";
  exports.Set(async_name, Napi::Function::New(env, RunAsync<Op>, async_name));
}

}  // namespace shoal
