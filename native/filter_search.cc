// native/filter_search.cc
#include "filter_search.h"

#include <algorithm>
#include <limits>

#include "hnswlib.h"

namespace shoal {

namespace {
using hnswlib::tableint;

struct Nearer {
  bool operator()(const std::pair<float, tableint>& a, const std::pair<float, tableint>& b) const {
    return a.first > b.first;
  }
};
}  // namespace

size_t CountBits(const uint32_t* words, size_t n) {
  size_t count = 0;
  for (size_t i = 0; i < n; ++i) count += static_cast<size_t>(__builtin_popcount(words[i]));
  return count;
}

void ExactBitsSearch(const HnswIndex& index, const Space& space, const float* query, size_t k,
                     const LabelBits& allow, uint32_t* out_labels, float* out_distances) {
  std::vector<std::pair<float, uint32_t>> scored;
  scored.reserve(allow.count);
  for (size_t w = 0; w < allow.word_count; ++w) {
    for (uint32_t word = allow.words[w]; word != 0; word &= word - 1) {
      const uint32_t label = static_cast<uint32_t>(w * 32 + static_cast<size_t>(__builtin_ctz(word)));
      auto found = index.label_lookup_.find(label);
      if (found == index.label_lookup_.end() || index.isMarkedDeleted(found->second)) continue;
      const float* v = reinterpret_cast<const float*>(index.getDataByInternalId(found->second));
      scored.emplace_back(space.Distance(query, v), label);
    }
  }
  const size_t take = std::min(k, scored.size());
  std::partial_sort(scored.begin(), scored.begin() + take, scored.end());
  for (size_t j = 0; j < take; ++j) {
    out_labels[j] = scored[j].second;
    out_distances[j] = scored[j].first;
  }
  for (size_t j = take; j < k; ++j) {
    out_labels[j] = kNoLabel;
    out_distances[j] = std::numeric_limits<float>::infinity();
  }
}

ScoredQueue FilteredBaseSearch(const HnswIndex& index, const Space& space, uint32_t entry,
                               const float* query, size_t ef, const LabelBits& allow) {
  hnswlib::VisitedList* visited_list = index.visited_list_pool_->getFreeVisitedList();
  hnswlib::vl_type* visited = visited_list->mass;
  const hnswlib::vl_type tag = visited_list->curV;
  const bool has_deleted = index.num_deleted_ > 0;
  const size_t slots = index.cur_element_count;
  auto allowed = [&](tableint id) {
    return allow.Has(index.getExternalLabel(id)) && !(has_deleted && index.isMarkedDeleted(id));
  };
  auto distance = [&](tableint id) {
    return space.Distance(query, reinterpret_cast<const float*>(index.getDataByInternalId(id)));
  };

  ScoredQueue top;  // the ef nearest allowed found so far; the farthest on top
  std::priority_queue<std::pair<float, tableint>, std::vector<std::pair<float, tableint>>, Nearer>
      candidates;  // to expand, nearest first
  float bound = std::numeric_limits<float>::max();
  auto consider = [&](tableint id) {
    const float d = distance(id);
    if (top.size() < ef || d < bound) {
      candidates.emplace(d, id);
      top.emplace(d, id);
      if (top.size() > ef) top.pop();
      bound = top.top().first;
    }
  };

  // The entry point (the upper layers' nearest) is expanded whether it passes or not.
  visited[entry] = tag;
  const float entry_distance = distance(entry);
  candidates.emplace(entry_distance, entry);
  if (allowed(entry)) {
    top.emplace(entry_distance, entry);
    bound = entry_distance;
  }
  while (!candidates.empty()) {
    const auto [d, current] = candidates.top();
    if (d > bound && top.size() >= ef) break;
    candidates.pop();
    const unsigned int* list = index.get_linklist0(current);
    const int size = index.getListCount(const_cast<unsigned int*>(list));
    const tableint* neighbours = reinterpret_cast<const tableint*>(list + 1);
    for (int i = 0; i < size; ++i) {
      const tableint n = neighbours[i];
      if (n >= slots || visited[n] == tag) continue;
      visited[n] = tag;
      if (allowed(n)) {
        consider(n);
        continue;
      }
      // Filtered out: not scored, but its neighbours are candidates (the second hop).
      const unsigned int* list2 = index.get_linklist0(n);
      const int size2 = index.getListCount(const_cast<unsigned int*>(list2));
      const tableint* second = reinterpret_cast<const tableint*>(list2 + 1);
      for (int j = 0; j < size2; ++j) {
        const tableint m = second[j];
        if (m >= slots || visited[m] == tag || !allowed(m)) continue;
        visited[m] = tag;
        consider(m);
      }
    }
  }
  index.visited_list_pool_->releaseVisitedList(visited_list);
  return top;
}

}  // namespace shoal
