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

// The allowed set over hnswlib's internal ids, live elements only, built once per search call
// from the label bitset: one pass over the elements' labels, after which testing a node is a
// bit in a small array (n / 8 bytes) rather than a read of its label beside its vector.
class ElementBits {
 public:
  ElementBits(const HnswIndex& index, const LabelBits& labels);
  bool Has(uint32_t id) const { return ((words_[id >> 6] >> (id & 63)) & 1u) != 0; }
  size_t count() const { return count_; }
  // Calls f(id) for each allowed element, ascending.
  template <typename F>
  void ForEach(F&& f) const {
    for (size_t w = 0; w < words_.size(); ++w) {
      for (uint64_t word = words_[w]; word != 0; word &= word - 1) {
        f(static_cast<uint32_t>(w * 64 + static_cast<size_t>(__builtin_ctzll(word))));
      }
    }
  }

 private:
  std::vector<uint64_t> words_;
  size_t count_ = 0;
};

// At or below this many allowed elements per unit of search breadth (max(ef, k)), the exact scan
// is taken. Measured in bench/scenarios/filtered.mjs (docs/internals.md, "Filtered search").
constexpr size_t kBitsExactPerEf = 32;
// Below this fraction of live elements allowed, the walk passes through filtered-out nodes
// unscored (two hops); at or above it, scoring them costs less than the second hop's extra
// candidates. docs/internals.md, "Filtered search".
constexpr double kTwoHopBelow = 0.4;

// The k nearest allowed elements by distance, exactly; missing results are kNoLabel / inf.
void ExactBitsSearch(const HnswIndex& index, const Space& space, const float* query, size_t k,
                     const ElementBits& allow, uint32_t* out_labels, float* out_distances);

using ScoredQueue = std::priority_queue<std::pair<float, uint32_t>>;

// Layer-0 walk from `entry` keeping the ef nearest allowed elements found (a max-heap of
// distance and internal id). Runs under the caller's shared segment lock. `two_hop`: filtered-out
// neighbours are passed through unscored (ACORN-1); otherwise they are scored and walked like
// any node but never returned (hnswlib's way, cheaper when most nodes pass).
ScoredQueue FilteredBaseSearch(const HnswIndex& index, const Space& space, uint32_t entry,
                               const float* query, size_t ef, const ElementBits& allow,
                               bool two_hop);

}  // namespace shoal
