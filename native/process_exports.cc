// native/process_exports.cc
//
// The JS functions that concern the whole process rather than one segment: native byte
// totals, the planning estimate, the allocator's counters and trimming, distance kernels,
// V8's external-memory count, build facts, and file locks (file_lock.h).
#include "exports.h"

#include <string>
#include <vector>

#include "accounting.h"
#include "args.h"
#include "distance.h"
#include "errors.h"
#include "file_lock.h"
#include "js_call.h"
#include "memory_estimate.h"
#include "segment_format.h"

namespace shoal {
namespace {

Napi::Value TotalBytesJs(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(TotalTrackedBytes()));
}

Napi::Value PeakTotalBytesJs(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(PeakTotalTrackedBytes()));
}

Napi::Value EstimateBytesJs(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    if (!info[0].IsObject()) {
      throw Failure(ErrorCode::kInvalidArgument, "input: must be an object");
    }
    Napi::Object o = info[0].As<Napi::Object>();
    EstimateInput in{};
    in.dim = static_cast<uint32_t>(ReadUint(o.Get("dim"), "dim", 1, 65536));
    in.m = static_cast<uint32_t>(ReadUint(o.Get("M"), "M", 2, 2048));
    in.capacity = ReadUint(o.Get("capacity"), "capacity", 0, 0xFFFFFFFEull);
    in.element_count = IsAbsent(o.Get("count")) ? 0 : ReadUint(o.Get("count"), "count", 0, in.capacity);
    in.deleted_count = IsAbsent(o.Get("deletedCount"))
                           ? 0
                           : ReadUint(o.Get("deletedCount"), "deletedCount", 0, in.capacity);
    in.concurrent_searches =
        IsAbsent(o.Get("concurrentSearches"))
            ? 1
            : static_cast<uint32_t>(ReadUint(o.Get("concurrentSearches"), "concurrentSearches", 1, 1024));
    const ByteEstimate e = EstimateSegmentBytes(in);
    Napi::Object out = Napi::Object::New(info.Env());
    out.Set("capacityBytes", e.capacity_bytes);
    out.Set("elementBytes", e.element_bytes);
    out.Set("fixedBytes", e.fixed_bytes);
    out.Set("labelLockBytes", e.label_lock_bytes);
    out.Set("visitedBytes", e.visited_bytes);
    out.Set("totalBytes", e.total_bytes);
    return out;
  });
}

Napi::Value AllocatorCountersJs(const Napi::CallbackInfo& info) {
  const AllocatorCounters c = ReadAllocatorCounters();
  Napi::Object o = Napi::Object::New(info.Env());
  // null, not 0, where the allocator has no such counters (accounting.h): a 0 would read as
  // "nothing in use".
  Napi::Env env = info.Env();
  auto counter = [&](double v) -> Napi::Value { return c.available ? Napi::Number::New(env, v) : env.Null(); };
  o.Set("inUseBytes", counter(c.in_use_bytes));
  o.Set("mmappedBytes", counter(c.mmapped_bytes));
  o.Set("freeBytes", counter(c.free_bytes));
  o.Set("available", c.available);
  o.Set("slackBytes", static_cast<double>(AllocatorSlack()));
  o.Set("retainedHeapBytes", static_cast<double>(RetainedHeapBytes()));
  o.Set("trims", static_cast<double>(AllocatorTrims()));
  return o;
}

Napi::Value TrimAllocatorJs(const Napi::CallbackInfo& info) {
  ReturnFreeMemoryToOs();
  return info.Env().Undefined();
}

Napi::Value SetAllocatorSlackJs(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    SetAllocatorSlack(static_cast<int64_t>(ReadUint(info[0], "slackBytes", 0, uint64_t{1} << 53)));
    return info.Env().Undefined();
  });
}

Napi::Value DistanceJs(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    const SpaceKind space = ReadSpace(info[0]);
    FloatInput a = ReadFloats(info[1], "a", false);
    FloatInput b = ReadFloats(info[2], "b", false);
    if (a.size() != b.size() || a.size() == 0) {
      throw Failure(ErrorCode::kDimensionMismatch, "a, b: must have the same nonzero length");
    }
    const std::string level_name = ReadString(info[3], "kernel");
    const KernelLevel* parsed = ParseKernelLevel(level_name.c_str());
    if (parsed == nullptr) {
      throw Failure(ErrorCode::kInvalidArgument, "kernel: must be 'portable', 'avx2-fma', 'avx512' or 'neon'");
    }
    const KernelLevel level = *parsed;
    if (!KernelSupported(level)) {
      throw Failure(ErrorCode::kInvalidArgument, "kernel: " + level_name + " is not supported by this CPU or build");
    }
    const size_t dim = a.size();
    DistanceFn fn = space == SpaceKind::kL2 ? L2SquaredKernel(level) : InnerProductKernel(level);
    if (space != SpaceKind::kCosine) return Napi::Number::New(info.Env(), fn(a.data(), b.data(), &dim));
    // Cosine is inner product on unit vectors, as segments store and query them.
    std::vector<float> ua(a.data(), a.data() + dim);
    std::vector<float> ub(b.data(), b.data() + dim);
    if (!NormalizeInPlace(ua.data(), dim) || !NormalizeInPlace(ub.data(), dim)) {
      throw Failure(ErrorCode::kInvalidVector, "a, b: cosine distance needs nonzero vectors");
    }
    return Napi::Number::New(info.Env(), fn(ua.data(), ub.data(), &dim));
  });
}

// Tells V8 how much native memory the JS side now keeps alive (a delta, bytes), so its
// heuristics see the real memory pressure. Returns V8's new total of external memory.
Napi::Value AdjustExternalMemoryJs(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    if (!info[0].IsNumber()) throw Failure(ErrorCode::kInvalidArgument, "delta: must be a number of bytes");
    const int64_t delta = info[0].As<Napi::Number>().Int64Value();
    return Napi::Number::New(
        info.Env(), static_cast<double>(Napi::MemoryManagement::AdjustExternalMemory(info.Env(), delta)));
  });
}

Napi::Value BuildInfoJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("kernel", KernelLevelName(ActiveKernelLevel()));
  Napi::Array kernels = Napi::Array::New(env);
  for (KernelLevel level : {KernelLevel::kPortable, KernelLevel::kAvx2Fma, KernelLevel::kAvx512, KernelLevel::kNeon}) {
    if (KernelSupported(level)) kernels.Set(kernels.Length(), KernelLevelName(level));
  }
  o.Set("kernels", kernels);
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  o.Set("sanitized", true);
#else
  o.Set("sanitized", false);
#endif
  o.Set("napiVersion", NAPI_VERSION);
  o.Set("hnswlib", "0.8.0");
  o.Set("segmentFormatVersion", kSegmentFormatVersion);
  return o;
}

// (path) -> handle: takes the file's lock without waiting (file_lock.h).
Napi::Value LockFileJs(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    const FileLockHandle handle = LockFile(ReadString(info[0], "path"));
    return Napi::Number::New(info.Env(), static_cast<double>(handle));
  });
}

Napi::Value UnlockFileJs(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    UnlockFile(ReadUint(info[0], "handle", 0, (1ull << 53) - 1));
    return info.Env().Undefined();
  });
}

// (path) -> pid of the holder (0: unknown) or -1: whether the file's lock is held (file_lock.h).
Napi::Value ProbeFileLockJs(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    return Napi::Number::New(info.Env(), ProbeFileLock(ReadString(info[0], "path")));
  });
}

}  // namespace

void RegisterProcessExports(Napi::Env env, Napi::Object exports) {
  exports.Set("totalBytes", Napi::Function::New(env, TotalBytesJs, "totalBytes"));
  exports.Set("peakTotalBytes", Napi::Function::New(env, PeakTotalBytesJs, "peakTotalBytes"));
  exports.Set("estimateBytes", Napi::Function::New(env, EstimateBytesJs, "estimateBytes"));
  exports.Set("allocatorCounters",
              Napi::Function::New(env, AllocatorCountersJs, "allocatorCounters"));
  exports.Set("trimAllocator", Napi::Function::New(env, TrimAllocatorJs, "trimAllocator"));
  exports.Set("setAllocatorSlack",
              Napi::Function::New(env, SetAllocatorSlackJs, "setAllocatorSlack"));
  exports.Set("distance", Napi::Function::New(env, DistanceJs, "distance"));
  exports.Set("buildInfo", Napi::Function::New(env, BuildInfoJs, "buildInfo"));
  exports.Set("adjustExternalMemory",
              Napi::Function::New(env, AdjustExternalMemoryJs, "adjustExternalMemory"));
  exports.Set("lockFile", Napi::Function::New(env, LockFileJs, "lockFile"));
  exports.Set("unlockFile", Napi::Function::New(env, UnlockFileJs, "unlockFile"));
  exports.Set("probeFileLock", Napi::Function::New(env, ProbeFileLockJs, "probeFileLock"));
}

}  // namespace shoal
