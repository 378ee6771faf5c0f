// native/addon.cc
//
// Module entry point: the export table only. The addon keeps no per-environment state, so it
// loads into the main thread and every worker thread alike; segments live in the
// process-wide registry (registry.h), not in any one environment.
#include <napi.h>

#include "exports.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  shoal::RegisterSegmentExports(env, exports);
  shoal::RegisterProcessExports(env, exports);
  shoal::RegisterAllocatorExports(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(shoal, Init)
