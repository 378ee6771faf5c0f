// native/accounting.cc
//
// The --wrap targets (see accounting.h). Each wrapper calls the real allocator, then
// charges the chunk it got or gave back to the thread's current account, if any. With no
// scope active (node-addon-api's own objects, argument copies) nothing is charged.
#include "accounting.h"

#include <malloc.h>

#include <cstdlib>
#include <cstring>
#include <new>

namespace shoal {
namespace {

thread_local AllocAccount* t_current = nullptr;
std::atomic<int64_t> g_total_bytes{0};
std::atomic<int64_t> g_peak_total_bytes{0};

void RaiseTo(std::atomic<int64_t>* peak, int64_t value) {
  int64_t seen = peak->load(std::memory_order_relaxed);
  while (value > seen && !peak->compare_exchange_weak(seen, value, std::memory_order_relaxed)) {
  }
}

// What a block costs the allocator. glibc keeps an 8-byte size field in front of every chunk
// and malloc_usable_size reports the rest, so usable + 8 is the chunk size mallinfo2 counts
// (for the rare mmapped chunk it is 8 bytes short: those have a 16-byte header).
inline int64_t ChunkBytes(void* p) {
  if (p == nullptr) return 0;
#if defined(__GLIBC__)
  return static_cast<int64_t>(malloc_usable_size(p) + sizeof(size_t));
#else
  return static_cast<int64_t>(malloc_usable_size(p));
#endif
}

// Whether glibc served the block by its own mmap (bit 1 of the chunk's size field): such a
// block goes back to the OS the moment it is freed. Not readable under ASan or TSan, whose
// allocators replace glibc's; there every block counts as heap.
inline bool IsMmappedChunk(void* p) {
#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  size_t size_field = 0;
  std::memcpy(&size_field, static_cast<char*>(p) - sizeof(size_t), sizeof size_field);
  return (size_field & 2) != 0;
#else
  (void)p;
  return false;
#endif
}

// Accounted bytes in heap (not mmapped) chunks, and their most since the last trim: the
// difference is an upper bound of the heap memory segments freed that may still be mapped.
std::atomic<int64_t> g_heap_bytes{0};
std::atomic<int64_t> g_heap_peak_since_trim{0};
std::atomic<int64_t> g_trims{0};

inline int64_t HeapBytes(void* p) { return p == nullptr || IsMmappedChunk(p) ? 0 : ChunkBytes(p); }

// `high`: the most the tally being flushed reached on its way to `delta` (>= delta, >= 0), so a
// peak between flushes is still seen, as this thread saw it.
inline void ChargeHeap(int64_t delta, int64_t high) {
  if (delta == 0 && high == 0) return;
  const int64_t now = g_heap_bytes.fetch_add(delta, std::memory_order_relaxed) + delta;
  if (high > 0) RaiseTo(&g_heap_peak_since_trim, now - delta + high);
}

// Charges wait in a per-thread tally and reach the shared counters only when the tally passes
// kFlushBytes either way or the thread's scope ends or changes. hnswlib allocates and frees
// small priority-queue and neighbour buffers dozens of times per insert and per query; when
// every one of those updated the same few atomics, 16 threads spent their time moving those
// cache lines between cores (ingest into one shard stopped scaling at ~4 threads on a 16-core
// machine). The price: while a scope is active its account may lag by less than kFlushBytes.
constexpr int64_t kFlushBytes = 256 * 1024;

struct PendingCharges {
  int64_t bytes = 0;
  int64_t heap = 0;
  int64_t bytes_high = 0;  // the most `bytes` reached since the last flush
  int64_t heap_high = 0;
};
thread_local PendingCharges t_pending;

inline void FlushPending() {
  PendingCharges& p = t_pending;
  if (t_current != nullptr) t_current->Charge(p.bytes, p.bytes_high);
  ChargeHeap(p.heap, p.heap_high);
  p = PendingCharges{};
}

inline void AddPending(int64_t bytes, int64_t heap) {
  PendingCharges& p = t_pending;
  p.bytes += bytes;
  p.heap += heap;
  if (p.bytes > p.bytes_high) p.bytes_high = p.bytes;
  if (p.heap > p.heap_high) p.heap_high = p.heap;
  if (p.bytes >= kFlushBytes || p.bytes <= -kFlushBytes || p.heap >= kFlushBytes || p.heap <= -kFlushBytes) {
    FlushPending();
  }
}

inline void ChargeNew(void* p) {
  if (t_current == nullptr || p == nullptr) return;
  const int64_t bytes = ChunkBytes(p);
  AddPending(bytes, IsMmappedChunk(p) ? 0 : bytes);
}

inline void ChargeFree(void* p) {
  if (t_current == nullptr || p == nullptr) return;
  const int64_t bytes = ChunkBytes(p);
  AddPending(-bytes, IsMmappedChunk(p) ? 0 : -bytes);
}

}  // namespace

void AllocAccount::Charge(int64_t delta, int64_t high) {
  if (delta == 0 && high == 0) return;
  const int64_t now = bytes_.fetch_add(delta, std::memory_order_relaxed) + delta;
  const int64_t total = g_total_bytes.fetch_add(delta, std::memory_order_relaxed) + delta;
  if (high > 0) {
    RaiseTo(&peak_bytes_, now - delta + high);
    RaiseTo(&g_peak_total_bytes, total - delta + high);
  }
}

ChargeScope::ChargeScope(AllocAccount* account) : previous_(t_current) {
  FlushPending();
  t_current = account;
}
ChargeScope::~ChargeScope() {
  FlushPending();
  t_current = previous_;
}

int64_t TotalTrackedBytes() { return g_total_bytes.load(std::memory_order_relaxed); }
int64_t PeakTotalTrackedBytes() { return g_peak_total_bytes.load(std::memory_order_relaxed); }

AllocatorCounters ReadAllocatorCounters() {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
  struct mallinfo2 info = mallinfo2();
  return {static_cast<double>(info.uordblks), static_cast<double>(info.hblkhd),
          static_cast<double>(info.fordblks), true};
#else
  return {0, 0, 0, false};
#endif
}

int64_t AllocatorTrims() { return g_trims.load(std::memory_order_relaxed); }

void ReturnFreeMemoryToOs() {
  g_trims.fetch_add(1, std::memory_order_relaxed);
  g_heap_peak_since_trim.store(g_heap_bytes.load(std::memory_order_relaxed), std::memory_order_relaxed);
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

namespace {
std::atomic<int64_t> g_allocator_slack_bytes{kDefaultAllocatorSlackBytes};
}  // namespace

void SetAllocatorSlack(int64_t bytes) {
  g_allocator_slack_bytes.store(bytes < 0 ? 0 : bytes, std::memory_order_relaxed);
}

int64_t AllocatorSlack() { return g_allocator_slack_bytes.load(std::memory_order_relaxed); }

int64_t RetainedHeapBytes() {
  return g_heap_peak_since_trim.load(std::memory_order_relaxed) - g_heap_bytes.load(std::memory_order_relaxed);
}

void ReturnFreeMemoryBeyondSlack() {
  // mallinfo2's free bytes would not do: they still count free chunks whose pages a trim
  // already returned, so once high they would call for a trim after every free.
  if (RetainedHeapBytes() > AllocatorSlack()) ReturnFreeMemoryToOs();
}

}  // namespace shoal

// ---- the wrapped symbols -------------------------------------------------------------
// Declared extern "C" with the mangled names of the global operators, which is what
// `--wrap=_Znwm` and friends redirect references to.
extern "C" {
void* __real_malloc(size_t size);
void* __real_calloc(size_t count, size_t size);
void* __real_realloc(void* p, size_t size);
void __real_free(void* p);
void* __real__Znwm(size_t size);
void* __real__Znam(size_t size);
void* __real__ZnwmRKSt9nothrow_t(size_t size, const std::nothrow_t&) noexcept;
void* __real__ZnamRKSt9nothrow_t(size_t size, const std::nothrow_t&) noexcept;
void __real__ZdlPv(void* p) noexcept;
void __real__ZdaPv(void* p) noexcept;
void __real__ZdlPvm(void* p, size_t size) noexcept;
void __real__ZdaPvm(void* p, size_t size) noexcept;

void* __wrap_malloc(size_t size) {
  void* p = __real_malloc(size);
  shoal::ChargeNew(p);
  return p;
}
void* __wrap_calloc(size_t count, size_t size) {
  void* p = __real_calloc(count, size);
  shoal::ChargeNew(p);
  return p;
}
void* __wrap_realloc(void* p, size_t size) {
  const int64_t before = shoal::t_current ? shoal::ChunkBytes(p) : 0;
  const int64_t heap_before = shoal::t_current ? shoal::HeapBytes(p) : 0;
  void* q = __real_realloc(p, size);
  if (shoal::t_current != nullptr) {
    // A failed realloc leaves p untouched; a realloc to size 0 may free it and return null.
    if (q != nullptr) {
      shoal::AddPending(shoal::ChunkBytes(q) - before, shoal::HeapBytes(q) - heap_before);
    } else if (size == 0) {
      shoal::AddPending(-before, -heap_before);
    }
  }
  return q;
}
void __wrap_free(void* p) {
  shoal::ChargeFree(p);
  __real_free(p);
}
void* __wrap__Znwm(size_t size) {
  void* p = __real__Znwm(size);
  shoal::ChargeNew(p);
  return p;
}
void* __wrap__Znam(size_t size) {
  void* p = __real__Znam(size);
  shoal::ChargeNew(p);
  return p;
}
void* __wrap__ZnwmRKSt9nothrow_t(size_t size, const std::nothrow_t& tag) noexcept {
  void* p = __real__ZnwmRKSt9nothrow_t(size, tag);
  shoal::ChargeNew(p);
  return p;
}
void* __wrap__ZnamRKSt9nothrow_t(size_t size, const std::nothrow_t& tag) noexcept {
  void* p = __real__ZnamRKSt9nothrow_t(size, tag);
  shoal::ChargeNew(p);
  return p;
}
void __wrap__ZdlPv(void* p) noexcept {
  shoal::ChargeFree(p);
  __real__ZdlPv(p);
}
void __wrap__ZdaPv(void* p) noexcept {
  shoal::ChargeFree(p);
  __real__ZdaPv(p);
}
void __wrap__ZdlPvm(void* p, size_t size) noexcept {
  shoal::ChargeFree(p);
  __real__ZdlPvm(p, size);
}
void __wrap__ZdaPvm(void* p, size_t size) noexcept {
  shoal::ChargeFree(p);
  __real__ZdaPvm(p, size);
}
}  // extern "C"
