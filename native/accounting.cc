// native/accounting.cc
//
// The counted allocation functions (see accounting.h and counted_alloc.h). Each calls the
// real allocator, then charges the chunk it got or gave back to the thread's current account,
// if any. With no scope active (node-addon-api's own objects, argument copies) nothing is
// charged.
#include "accounting.h"

#include <cstdlib>
#include <cstring>
#include <new>

#if defined(__GLIBC__)
#include <dlfcn.h>
#include <malloc.h>
#elif defined(__APPLE__)
#include <malloc/malloc.h>
#elif defined(_WIN32)
#include <malloc.h>
#else
#include <malloc.h>  // musl and the BSDs declare malloc_usable_size here
#endif

// This file calls the allocator itself: the renaming of counted_alloc.h stops here.
#undef malloc
#undef calloc
#undef realloc
#undef free

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
// (for the rare mmapped chunk it is 8 bytes short: those have a 16-byte header). Elsewhere
// the usable size the allocator reports for the block: a free subtracts exactly what the
// allocation added, so the count stays exact, though it leaves out headers the allocator
// does not disclose.
inline int64_t ChunkBytes(void* p) {
  if (p == nullptr) return 0;
#if defined(__GLIBC__)
  return static_cast<int64_t>(malloc_usable_size(p) + sizeof(size_t));
#elif defined(__APPLE__)
  return static_cast<int64_t>(malloc_size(p));
#elif defined(_WIN32)
  return static_cast<int64_t>(_msize(p));
#else
  return static_cast<int64_t>(malloc_usable_size(p));
#endif
}

// Whether glibc served the block by its own mmap (bit 1 of the chunk's size field): such a
// block goes back to the OS the moment it is freed. Not readable under ASan or TSan, whose
// allocators replace glibc's; there every block counts as heap.
inline bool IsMmappedChunk(void* p) {
#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  // The header lies before the block malloc returned; hide where the pointer came from so the
  // compiler, which sees the malloc call inlined here, does not call the read out of bounds.
  const char* block = static_cast<const char*>(p);
  __asm__("" : "+r"(block));
  size_t size_field = 0;
  std::memcpy(&size_field, block - sizeof(size_t), sizeof size_field);
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

#if defined(__GLIBC__)
namespace {
// glibc 2.33's mallinfo2, looked up at run time: the prebuilt binary is linked against an
// older glibc (2.28, for older distributions) and must still read it where the system's glibc
// has it. mallinfo's int fields would wrap at 2 GiB, so without mallinfo2 there are no counters.
struct MallInfo2 {
  size_t arena, ordblks, smblks, hblks, hblkhd, usmblks, fsmblks, uordblks, fordblks, keepcost;
};
using MallInfo2Fn = MallInfo2 (*)();
MallInfo2Fn FindMallInfo2() { return reinterpret_cast<MallInfo2Fn>(dlsym(RTLD_DEFAULT, "mallinfo2")); }
}  // namespace
#endif

AllocatorCounters ReadAllocatorCounters() {
#if defined(__GLIBC__)
  static const MallInfo2Fn mallinfo2_fn = FindMallInfo2();
  if (mallinfo2_fn != nullptr) {
    const MallInfo2 info = mallinfo2_fn();
    return {static_cast<double>(info.uordblks), static_cast<double>(info.hblkhd),
            static_cast<double>(info.fordblks), true, static_cast<double>(info.keepcost)};
  }
#endif
  return {0, 0, 0, false, 0};
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

// ---- the counted functions -----------------------------------------------------------
// counted_alloc.h renames the addon's malloc/calloc/realloc/free calls to these; the operators
// below route its new and delete here too.
extern "C" {

void* shoal_counted_malloc(size_t size) noexcept {
  void* p = std::malloc(size);
  shoal::ChargeNew(p);
  return p;
}

void* shoal_counted_calloc(size_t count, size_t size) noexcept {
  void* p = std::calloc(count, size);
  shoal::ChargeNew(p);
  return p;
}

void* shoal_counted_realloc(void* p, size_t size) noexcept {
  const int64_t before = shoal::t_current ? shoal::ChunkBytes(p) : 0;
  const int64_t heap_before = shoal::t_current ? shoal::HeapBytes(p) : 0;
  void* q = std::realloc(p, size);
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

void shoal_counted_free(void* p) noexcept {
  shoal::ChargeFree(p);
  std::free(p);
}

}  // extern "C"

// ---- the replaced global operator new and delete ----------------------------------------
// They replace the C++ library's only for code linked into this library: the symbols stay
// local to it (see counted_alloc.h), so Node's and other addons' allocations never come here.
// The C++ library's own operator new is malloc underneath on every target shoal builds for,
// so a block its out-of-line code allocated may be released here with free, and the other way
// round (ASan is told so: scripts/asan.sh). The over-aligned forms are not replaced: they pair
// with each other inside the C++ library and shoal allocates no over-aligned type.
namespace {

void* CountedNew(size_t size) {
  if (size == 0) size = 1;
  for (;;) {
    if (void* p = shoal_counted_malloc(size)) return p;
    std::new_handler handler = std::get_new_handler();
    if (handler == nullptr) throw std::bad_alloc();
    handler();
  }
}

void* CountedNewNothrow(size_t size) noexcept {
  try {
    return CountedNew(size);
  } catch (...) {
    return nullptr;
  }
}

}  // namespace

// The C++ library's <new> declares these with default visibility, which -fvisibility=hidden
// does not override. On Linux the version script (exports.map) makes them local; a macOS
// build from source is limited to the Node-API entry points by exports.txt, and a Windows
// DLL exports only what is marked. The macOS prebuilt binaries (zig's Mach-O linker takes no
// exported-symbols list, and clang refuses to hide these) export them: harmless, since dyld
// binds the other images loaded before the addon to their own allocator, and an allocation
// that did come here is charged only inside a ChargeScope, which only the addon's code sets.
void* operator new(size_t size) { return CountedNew(size); }
void* operator new[](size_t size) { return CountedNew(size); }
void* operator new(size_t size, const std::nothrow_t&) noexcept { return CountedNewNothrow(size); }
void* operator new[](size_t size, const std::nothrow_t&) noexcept { return CountedNewNothrow(size); }
void operator delete(void* p) noexcept { shoal_counted_free(p); }
void operator delete[](void* p) noexcept { shoal_counted_free(p); }
void operator delete(void* p, size_t) noexcept { shoal_counted_free(p); }
void operator delete[](void* p, size_t) noexcept { shoal_counted_free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { shoal_counted_free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { shoal_counted_free(p); }
