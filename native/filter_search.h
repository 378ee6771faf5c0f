// native/filter_search.h
//
// Search restricted to an allowed set of labels given as a bitset (bit l of word l >> 5), the
// form the coordinator builds from a metadata filter (src/coordinator/filtering.ts). Two ways,
// chosen per query by how many labels are allowed:
// - exact: the distance to every allowed, live element; a few allowed labels cost fewer
//   distance computations than any graph walk, and the result is exact.
// - a filtered graph walk (ACORN-1): only allowed elements are scored and enter the candidate
//   and result queues; a neighbour that is filtered out is not scored but its own neighbours
//   are looked at (two hops), so the walk stays connected through filtered-out nodes. hnswlib's
//   own filter functor instead scores every visited node and keeps walking until ef allowed
//   ones are found, which visits a large part of the graph when few pass.
// Testing a bit costs one load; no JS call is made per node.
// Does not own: locking and the upper-layer descent (segment.cc).
#pragma once

#include <cstddef>
#include <cstdint>
#include <queue>
#include <utility>
#include <vector>

#include "distance.h"
#include "segment_spec.h"

namespace shoal {

struct LabelBits {
  const uint32_t* words = nullptr;
  size_t word_count = 0;
  size_t count = 0;  // bits set
  bool Has(uint64_t label) const {
    const uint64_t w = label >> 5;
    return w < word_count && ((words[w] >> (label & 31)) & 1u) != 0;
  }
};

// Bits set in n words.
size_t CountBits(const uint32_t* words, size_t n);

// At or below this many allowed labels per unit of search breadth (max(ef, k)), the exact scan
// is taken. Measured in bench/scenarios/filtered.mjs (docs/internals.md, "Filtered search").
constexpr size_t kBitsExactPerEf = 32;

// The k nearest allowed, live elements by distance, exactly; missing results are kNoLabel / inf.
void ExactBitsSearch(const HnswIndex& index, const Space& space, const float* query, size_t k,
                     const LabelBits& allow, uint32_t* out_labels, float* out_distances);

using ScoredQueue = std::priority_queue<std::pair<float, uint32_t>>;

// Layer-0 walk from `entry` keeping the ef nearest allowed, live elements found (a max-heap of
// distance and internal id). Runs under the caller's shared segment lock.
ScoredQueue FilteredBaseSearch(const HnswIndex& index, const Space& space, uint32_t entry,
                               const float* query, size_t ef, const LabelBits& allow);

}  // namespace shoal
