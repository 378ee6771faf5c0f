// native/memory_estimate.h
//
// Predicts what a segment will hold before it is allocated, so the coordinator can reserve
// budget first. The prediction is an upper bound of the exact count in accounting.h (tests
// check both against each other and against the allocator): it follows every allocation
// hnswlib 0.8.0 makes, priced in glibc chunk sizes.
// Does not own: the exact count (accounting.h) or any policy about what to admit.
#pragma once

#include <cstddef>
#include <cstdint>

namespace shoal {

struct EstimateInput {
  uint32_t dim;
  uint32_t m;
  uint64_t capacity;         // slots allocated (hnswlib's max_elements)
  uint64_t element_count;    // slots in use
  uint64_t deleted_count;    // of which deleted
  uint32_t concurrent_searches;  // peak searches running at once: each keeps a visited list
};

struct ByteEstimate {
  double capacity_bytes;  // proportional to capacity: vectors, links, labels, levels, locks
  double element_bytes;   // proportional to elements in use: upper layers, the label map
  // Per segment regardless of size: the objects, and hnswlib's 65,536 label locks, which a
  // loaded segment holds only once written (segment.h).
  double fixed_bytes;
  double label_lock_bytes;  // that lock table, included in fixed_bytes
  double visited_bytes;   // visited lists, one per concurrent search, 2 bytes per slot
  double total_bytes;
};

ByteEstimate EstimateSegmentBytes(const EstimateInput& in);

// What allocating hnswlib's per-label lock table costs (part of fixed_bytes), an upper bound.
double LabelLockTableBytes();

}  // namespace shoal
