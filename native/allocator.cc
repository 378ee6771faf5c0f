// native/allocator.cc
//
// See allocator.h. The untrimmed-free estimate keeps a floor: fordblks right after the last
// trim, lowered whenever fordblks is lower (allocations reused free chunks, faulting their
// pages back in). fordblks above the floor are chunks freed since, whose pages are mapped.
#include "allocator.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <atomic>
#include <mutex>

#include "accounting.h"
#include "js_call.h"

namespace shoal {
namespace {

std::once_flag g_tune_once;
std::atomic<bool> g_tuned{false};
std::mutex g_floor_mutex;
double g_free_floor = 0;
std::atomic<int64_t> g_trims{0};

// Lowers the floor to the free bytes now and returns how far they are above it. Caller holds
// g_floor_mutex.
double UntrimmedLocked(double free_bytes) {
  if (free_bytes < g_free_floor) g_free_floor = free_bytes;
  return free_bytes - g_free_floor;
}

}  // namespace

void TuneAllocator() {
  std::call_once(g_tune_once, [] {
#if defined(__GLIBC__)
    // mallopt returns 1 on success; sanitizer allocators accept the call and ignore it.
    const bool mmap_ok = mallopt(M_MMAP_THRESHOLD, static_cast<int>(kMmapThresholdBytes)) == 1;
    const bool trim_ok = mallopt(M_TRIM_THRESHOLD, static_cast<int>(kTrimThresholdBytes)) == 1;
    g_tuned.store(mmap_ok && trim_ok, std::memory_order_relaxed);
#endif
  });
}

// The counters come from accounting.cc's run-time lookup of mallinfo2, so a binary built
// against an older glibc (the prebuilt one, 2.28) still reads them where the system has it.
AllocatorState ReadAllocatorState() {
  const AllocatorCounters c = ReadAllocatorCounters();
  const double trims = static_cast<double>(g_trims.load(std::memory_order_relaxed));
  if (!c.available) return {false, false, 0, 0, 0, 0, trims};
  double untrimmed;
  {
    std::lock_guard<std::mutex> lock(g_floor_mutex);
    untrimmed = UntrimmedLocked(c.free_bytes);
  }
  return {true, g_tuned.load(std::memory_order_relaxed), c.in_use_bytes + c.mmapped_bytes, c.free_bytes, c.top_releasable_bytes, untrimmed, trims};
}

bool TrimAllocatorBeyond(int64_t slack_bytes) {
#if defined(__GLIBC__)
  std::lock_guard<std::mutex> lock(g_floor_mutex);
  const AllocatorCounters before = ReadAllocatorCounters();
  if (!before.available || UntrimmedLocked(before.free_bytes) <= static_cast<double>(slack_bytes)) return false;
  malloc_trim(0);
  g_trims.fetch_add(1, std::memory_order_relaxed);
  g_free_floor = ReadAllocatorCounters().free_bytes;
  return true;
#else
  (void)slack_bytes;
  return false;
#endif
}

namespace {

Napi::Value AllocatorStateJs(const Napi::CallbackInfo& info) {
  const AllocatorState s = ReadAllocatorState();
  if (!s.available) return info.Env().Null();
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("tuned", s.tuned);
  o.Set("mmapThresholdBytes", static_cast<double>(kMmapThresholdBytes));
  o.Set("trimThresholdBytes", static_cast<double>(kTrimThresholdBytes));
  o.Set("inUseBytes", s.in_use_bytes);
  o.Set("freeBytes", s.free_bytes);
  o.Set("topReleasableBytes", s.top_releasable_bytes);
  o.Set("untrimmedFreeBytes", s.untrimmed_free_bytes);
  o.Set("trims", s.trims);
  return o;
}

Napi::Value TrimAllocatorBeyondJs(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    if (!info[0].IsNumber() || !(info[0].As<Napi::Number>().DoubleValue() >= 0)) {
      throw Failure(ErrorCode::kInvalidArgument, "slackBytes: must be a number of bytes >= 0");
    }
    return Napi::Boolean::New(info.Env(), TrimAllocatorBeyond(info[0].As<Napi::Number>().Int64Value()));
  });
}

}  // namespace

void RegisterAllocatorExports(Napi::Env env, Napi::Object exports) {
  TuneAllocator();
  exports.Set("allocatorState", Napi::Function::New(env, AllocatorStateJs, "allocatorState"));
  exports.Set("trimAllocatorBeyond", Napi::Function::New(env, TrimAllocatorBeyondJs, "trimAllocatorBeyond"));
}

}  // namespace shoal
