// native/memory_estimate.cc
//
// Allocation map of hnswlib 0.8.0 (shared/research/hnswlib-and-peers.md §1.2) in glibc chunk
// sizes. Element counts are expectations: an element reaches level l with probability M^-l,
// so upper-layer lists are priced from that distribution with a margin; the label map's
// bucket array is priced at its largest size before the next rehash (2 buckets per element).
#include "memory_estimate.h"

#include <algorithm>
#include <cmath>
#include <mutex>

#include "distance.h"
#include "hnswlib.h"

namespace shoal {
namespace {

constexpr double kMmapThresholdBytes = 128 * 1024;  // glibc's default M_MMAP_THRESHOLD
constexpr double kPageBytes = 4096;
constexpr double kLabelLockCount = 65536;           // hnswlib MAX_LABEL_OPERATION_LOCKS
constexpr double kUpperLayerMargin = 1.03;          // covers sampling noise of the level draw

// Chunk bytes as accounting.cc charges them for a request of `request` bytes. glibc sizes a
// chunk as the request plus its 8-byte header, rounded up to 16 (at least 32). A chunk that
// size or larger than the mmap threshold may be mmapped: then it is that plus 8, rounded up
// to a page, and accounting.cc charges 8 bytes less than the mapping. Above the threshold
// the larger (mmapped) price is taken, so the estimate stays an upper bound whichever way
// glibc serves it.
double Chunk(double request) {
  if (request <= 0) return 0;
  const double heap = std::max(32.0, std::ceil((request + 8) / 16) * 16);
  if (heap >= kMmapThresholdBytes) return std::ceil((heap + 8) / kPageBytes) * kPageBytes - 8;
  return heap;
}

}  // namespace

ByteEstimate EstimateSegmentBytes(const EstimateInput& in) {
  const double c = static_cast<double>(in.capacity);
  const double n = static_cast<double>(in.element_count);
  const double d = static_cast<double>(in.deleted_count);
  const double m = std::max<double>(2, in.m);
  const double mutex_bytes = sizeof(std::mutex);
  const double links0 = 4 + 8 * m;                    // count word + 2M neighbour ids
  const double per_slot = links0 + 4.0 * in.dim + 8;  // + vector + label
  const double links_upper = 4 + 4 * m;

  ByteEstimate e{};
  e.capacity_bytes = Chunk(c * per_slot)   // layer 0
                     + Chunk(8 * c)        // upper-layer list pointers
                     + Chunk(4 * c)        // element levels
                     + Chunk(mutex_bytes * c);  // per-element link locks

  double upper = 0;
  double upper_sq = 0;
  for (int level = 1; level <= 12; ++level) {
    const double p_exactly = std::pow(m, -level) * (1 - 1 / m);
    upper += p_exactly * Chunk(level * links_upper + 1);
    upper_sq += p_exactly * Chunk(level * links_upper + 1) * Chunk(level * links_upper + 1);
  }
  // The level draw's noise: 4 standard deviations of the sum over n elements. The relative
  // margin alone fell short at a few thousand elements (2,500 at M 16 drew 1.2 KB more than it
  // covers), which the allocator's moving mmap threshold used to hide by pricing large
  // blocks below the estimate's mmapped price.
  const double upper_noise = 4 * std::sqrt(n * upper_sq);
  // A hash node is the next pointer and the value; libc++ (the prebuilt binaries link it
  // statically) also keeps the hash in every node, and pads the pair<size_t, uint32_t> to 16.
#if defined(_LIBCPP_VERSION)
  const double label_node = Chunk(8 + sizeof(size_t) + 2 * sizeof(size_t));
  const double deleted_node = Chunk(8 + sizeof(size_t) + sizeof(uint32_t));
#else
  const double label_node = Chunk(8 + sizeof(size_t) + sizeof(uint32_t));
  const double deleted_node = Chunk(8 + sizeof(uint32_t));
#endif
  e.element_bytes = n * upper * kUpperLayerMargin + upper_noise   // upper-layer lists
                    + n * label_node + Chunk(8 * std::max(2.0 * n, 1.0))  // label map
                    + d * deleted_node + (d > 0 ? Chunk(8 * 2 * d) : 0);  // deleted set

  // The visited-list pool's deque gets a map (8 node pointers) and, because its constructor
  // pushes to the front of a fresh deque, two 512-byte nodes with libstdc++; libc++'s deque
  // allocates one 4 KiB block and a smaller map.
#if defined(_LIBCPP_VERSION)
  const double deque_bytes = Chunk(8 * sizeof(void*)) + Chunk(4096);
#else
  const double deque_bytes = Chunk(8 * sizeof(void*)) + 2 * Chunk(512);
#endif
  e.label_lock_bytes = LabelLockTableBytes();
  e.fixed_bytes = e.label_lock_bytes +
                  Chunk(sizeof(hnswlib::HierarchicalNSW<float>)) + Chunk(sizeof(Space)) +
                  Chunk(sizeof(hnswlib::VisitedListPool)) + deque_bytes;

  const double lists = std::max<uint32_t>(1, in.concurrent_searches);
  e.visited_bytes = lists * (Chunk(2 * c) + Chunk(sizeof(hnswlib::VisitedList)));

  e.total_bytes = e.capacity_bytes + e.element_bytes + e.fixed_bytes + e.visited_bytes;
  return e;
}

double LabelLockTableBytes() { return Chunk(sizeof(std::mutex) * kLabelLockCount); }

}  // namespace shoal
