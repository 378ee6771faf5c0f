// native/allocator.h
//
// The process allocator's settings and state, beside the exact per-segment counts of
// accounting.h: glibc's thresholds fixed at addon load, its free bytes, and trimming by those
// free bytes. Everything glibc-specific is behind __GLIBC__; elsewhere the state reads as
// unavailable (null in JS) and trimming does nothing.
#pragma once

#include <napi.h>

#include <cstdint>

namespace shoal {

// Blocks at or above this size are served by mmap and returned to the OS when freed. glibc's
// own threshold starts here but moves up (to 32 MiB) after the first mmapped block is freed,
// which put freed batch copies and query outputs into arenas that kept them; mallopt fixes it.
constexpr int64_t kMmapThresholdBytes = int64_t{128} << 10;
// Free memory at the top of an arena above this is returned at once by free().
constexpr int64_t kTrimThresholdBytes = int64_t{1} << 20;

// Sets the thresholds above once per process (every environment loading the addon calls it).
void TuneAllocator();

struct AllocatorState {
  bool available;       // false where the allocator is not glibc's
  bool tuned;           // whether mallopt accepted the thresholds
  double in_use_bytes;  // bytes in chunks in use, arenas and mmapped (uordblks + hblkhd)
  double free_bytes;    // free bytes held in arenas (fordblks), pages returned or not
  double top_releasable_bytes;  // free bytes at the top of the main arena (keepcost)
  // Free bytes the arenas gained since the last trim (a trim returns the pages of free chunks,
  // yet fordblks still counts them): what a trim would return now, an estimate.
  double untrimmed_free_bytes;
  double trims;
};
AllocatorState ReadAllocatorState();

// Trims (malloc_trim) when untrimmed free bytes exceed `slack_bytes`; returns whether it did.
bool TrimAllocatorBeyond(int64_t slack_bytes);

void RegisterAllocatorExports(Napi::Env env, Napi::Object exports);

}  // namespace shoal
