// native/exports.h
//
// The addon's JS surface, registered in three parts; together mirrored one-to-one by
// src/native/binding.ts.
#pragma once

#include <napi.h>

namespace shoal {

// Functions that act on one segment or segment file (segment_exports.cc).
void RegisterSegmentExports(Napi::Env env, Napi::Object exports);

// Functions that concern the whole process: byte totals, allocator, kernels, build facts,
// file locks (process_exports.cc).
void RegisterProcessExports(Napi::Env env, Napi::Object exports);

// The allocator's thresholds (set on registration), state and trimming (allocator.cc).
void RegisterAllocatorExports(Napi::Env env, Napi::Object exports);

}  // namespace shoal
