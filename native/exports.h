// native/exports.h
#pragma once

#include <napi.h>

namespace shoal {

// Adds every JS-facing function to `exports`. Mirrored one-to-one by src/native/binding.ts.
void RegisterExports(Napi::Env env, Napi::Object exports);

}  // namespace shoal
