// native/accounting.h
//
// Exact native byte accounting. counted_alloc.h, forced into every translation unit, renames
// the malloc, calloc, realloc and free calls of code compiled into this library -- hnswlib's
// templates included -- to counted functions in accounting.cc, which also replaces the global
// operator new and delete inside the library; so every allocation that code makes passes
// through accounting.cc, with any compiler, linker and C library. While a ChargeScope is active on a thread, each allocation and free is
// charged to that scope's AllocAccount at the allocator's own chunk size, and to the
// process-wide total. Nothing else in shoal counts native bytes; memory_estimate.h predicts
// them before they are allocated, for admission.
//
// Invariant: every byte charged to an account is allocated and freed under a scope of that
// same account (segment.cc runs all index work, including destruction, inside one), so an
// account returns exactly to zero when its segment is destroyed.
//
// Rule for code inside a scope: build no std::string (throw Failure with a literal message,
// or validate before entering the scope). A shared libstdc++ builds strings in its own
// out-of-line code, which is not counted, while our inline code frees them: inside a scope
// that frees bytes that were never charged.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace shoal {

class AllocAccount {
 public:
  // Bytes currently charged. Lock-free; may be read from any thread. Exact once every scope
  // charging this account has ended; while one is active, each such thread's share may lag
  // by less than 256 KiB (its charges are tallied per thread and flushed in bulk).
  int64_t Bytes() const { return bytes_.load(std::memory_order_relaxed); }
  // The highest value Bytes() has had.
  int64_t PeakBytes() const { return peak_bytes_.load(std::memory_order_relaxed); }

  // Adds `delta`; `high` is the most the charge reached on its way there (>= delta and >= 0),
  // which the peak takes into account.
  void Charge(int64_t delta, int64_t high);

 private:
  std::atomic<int64_t> bytes_{0};
  std::atomic<int64_t> peak_bytes_{0};
};

// Charges this thread's allocations to `account` until destroyed. Scopes nest; the innermost
// wins. Construct it narrowly: only around work whose allocations belong to the account.
class ChargeScope {
 public:
  explicit ChargeScope(AllocAccount* account);
  ~ChargeScope();
  ChargeScope(const ChargeScope&) = delete;
  ChargeScope& operator=(const ChargeScope&) = delete;

 private:
  AllocAccount* previous_;
};

// Sum of every live account's bytes: the native memory held by all segments of the process.
int64_t TotalTrackedBytes();
// The highest value TotalTrackedBytes() has had since the addon loaded.
int64_t PeakTotalTrackedBytes();

// The allocator's own process-wide counters (glibc mallinfo2, looked up at run time), for
// tests that check AllocAccount against the allocator. available = false, and zeros, where
// the allocator offers none (musl, macOS, Windows, glibc before 2.33).
struct AllocatorCounters {
  double in_use_bytes;    // bytes in chunks in use, heap arenas (uordblks)
  double mmapped_bytes;   // bytes in chunks served by mmap (hblkhd)
  double free_bytes;      // free bytes held in arenas (fordblks)
  bool available;
  double top_releasable_bytes;  // free bytes at the top of the main arena (keepcost)
};
AllocatorCounters ReadAllocatorCounters();

// Returns free heap memory to the operating system (glibc malloc_trim), at once.
void ReturnFreeMemoryToOs();

// Called after a segment is destroyed or resized: returns free heap memory to the operating
// system only once segments have freed more than the slack of heap memory since the last trim
// (RetainedHeapBytes: mmapped blocks are returned when freed and do not count), so
// freeing a segment lowers RSS, not just the accounting, yet a reload that follows an
// eviction reuses pages that are still mapped. Trimming after every free made the next load
// fault every page back in: reloading a 10,000 x 128 collection took 7.2 ms with it and 5.1 ms
// without (bench/diag/reload-trim.mjs).
void ReturnFreeMemoryBeyondSlack();

// Free heap bytes the allocator may keep mapped before they are returned (default 64 MiB; the
// budget lowers it for small limits).
constexpr int64_t kDefaultAllocatorSlackBytes = int64_t{64} << 20;
void SetAllocatorSlack(int64_t bytes);
int64_t AllocatorSlack();
// The most heap bytes segments held since the last trim, less what they hold now.
int64_t RetainedHeapBytes();
// Trims so far (ReturnFreeMemoryToOs calls).
int64_t AllocatorTrims();

}  // namespace shoal
