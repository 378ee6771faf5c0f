// native/segment_spec.h
//
// The vocabulary a segment and its file share, with no behaviour behind it: a segment's shape
// (SegmentSpec) and its limits, the cancellation flag long loops poll, the "no label" marker,
// and the hnswlib index type. segment.h and segment_file.h both build on it, so neither needs
// the other's header.
#pragma once

#include <cstddef>
#include <cstdint>

#include "distance.h"

namespace hnswlib {
template <typename T>
class HierarchicalNSW;
}

namespace shoal {

using HnswIndex = hnswlib::HierarchicalNSW<float>;

constexpr uint32_t kMaxDim = 65536;
constexpr uint32_t kMaxM = 2048;
constexpr uint32_t kMaxEfConstruction = 1 << 20;
constexpr uint64_t kMaxCapacity = 0xFFFFFFFEull;  // hnswlib's internal ids are 32-bit

struct SegmentSpec {
  uint32_t dim = 0;
  SpaceKind space = SpaceKind::kL2;
  uint32_t m = 16;
  uint32_t ef_construction = 200;
  uint64_t capacity = 0;
  uint64_t seed = 100;
};

// Validates a spec; throws Failure(kInvalidArgument) naming the bad field.
void CheckSpec(const SegmentSpec& spec);

// A cooperative cancellation flag, typically an Int32Array on a SharedArrayBuffer that
// another thread sets to nonzero. Checked between elements inside long native loops.
class CancelFlag {
 public:
  CancelFlag() = default;
  explicit CancelFlag(const int32_t* word) : word_(word) {}
  bool IsSet() const { return word_ != nullptr && __atomic_load_n(word_, __ATOMIC_RELAXED) != 0; }
  void ThrowIfSet(const char* operation, size_t done, size_t total) const;

 private:
  const int32_t* word_ = nullptr;
};

// Labels at or above this are invalid; it marks "no result" in search output.
constexpr uint32_t kNoLabel = 0xFFFFFFFFu;

}  // namespace shoal
