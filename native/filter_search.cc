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

ElementBits::ElementBits(const HnswIndex& index, const LabelBits& labels) {
  const size_t slots = index.cur_element_count;
  words_.assign((slots + 63) / 64, 0);
  if (labels.count == 0) return;
  const bool has_deleted = index.num_deleted_ > 0;
  for (size_t id = 0; id < slots; ++id) {
    const tableint i = static_cast<tableint>(id);
    if (!labels.Has(index.getExternalLabel(i)) || (has_deleted && index.isMarkedDeleted(i))) continue;
    words_[id >> 6] |= uint64_t{1} << (id & 63);
    ++count_;
  }
}

void ExactBitsSearch(const HnswIndex& index, const Space& space, const float* query, size_t k,
                     const ElementBits& allow, uint32_t* out_labels, float* out_distances) {
  // The k nearest in a bounded max-heap: no buffer of every allowed element's distance.
  ScoredQueue top;
  allow.ForEach([&](uint32_t id) {
    const float d = space.Distance(query, reinterpret_cast<const float*>(index.getDataByInternalId(id)));
    if (top.size() < k) {
      top.emplace(d, id);
    } else if (d < top.top().first) {
      top.pop();
      top.emplace(d, id);
    }
  });
  size_t found = top.size();
  for (size_t j = found; j < k; ++j) {
    out_labels[j] = kNoLabel;
    out_distances[j] = std::numeric_limits<float>::infinity();
  }
  while (!top.empty()) {
    --found;
    out_labels[found] = static_cast<uint32_t>(index.getExternalLabel(top.top().second));
    out_distances[found] = top.top().first;
    top.pop();
  }
}

ScoredQueue FilteredBaseSearch(const HnswIndex& index, const Space& space, uint32_t entry,
                               const float* query, size_t ef, const ElementBits& allow,
                               bool two_hop) {
  hnswlib::VisitedList* visited_list = index.visited_list_pool_->getFreeVisitedList();
  hnswlib::vl_type* visited = visited_list->mass;
  const hnswlib::vl_type tag = visited_list->curV;
  const size_t slots = index.cur_element_count;
  auto distance = [&](tableint id) {
    return space.Distance(query, reinterpret_cast<const float*>(index.getDataByInternalId(id)));
  };

  ScoredQueue top;  // the ef nearest allowed found so far; the farthest on top
  std::priority_queue<std::pair<float, tableint>, std::vector<std::pair<float, tableint>>, Nearer>
      candidates;  // to expand, nearest first
  float bound = std::numeric_limits<float>::max();
  std::vector<tableint> gathered;  // one step's allowed nodes to score
  std::vector<tableint> passed;    // one step's filtered-out neighbours
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
  if (allow.Has(entry)) {
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
    if (!two_hop) {
      for (int i = 0; i < size; ++i) {
        const tableint n = neighbours[i];
        if (n >= slots || visited[n] == tag) continue;
        visited[n] = tag;
        if (allow.Has(n)) {
          consider(n);
        } else {
          // Walked through, scored, never a result.
          const float dn = distance(n);
          if (top.size() < ef || dn < bound) candidates.emplace(dn, n);
        }
      }
      continue;
    }
    // ACORN-1: the allowed neighbours, then the allowed neighbours of filtered-out ones, up to
    // as many as a node has links (the walk then scores as many nodes per step as an
    // unfiltered one; without the cap a sparse filter makes each step score hundreds).
    const size_t cap = static_cast<size_t>(size);
    gathered.clear();
    passed.clear();
    for (int i = 0; i < size; ++i) {
      const tableint n = neighbours[i];
      if (n >= slots || visited[n] == tag) continue;
      if (allow.Has(n)) {
        visited[n] = tag;
        gathered.push_back(n);
      } else {
        passed.push_back(n);
      }
    }
    for (size_t p = 0; p < passed.size() && gathered.size() < cap; ++p) {
      const tableint n = passed[p];
      visited[n] = tag;
      const unsigned int* list2 = index.get_linklist0(n);
      const int size2 = index.getListCount(const_cast<unsigned int*>(list2));
      const tableint* second = reinterpret_cast<const tableint*>(list2 + 1);
      for (int j = 0; j < size2 && gathered.size() < cap; ++j) {
        const tableint m = second[j];
        if (m >= slots || visited[m] == tag || !allow.Has(m)) continue;
        visited[m] = tag;
        gathered.push_back(m);
      }
    }
    for (const tableint n : gathered) consider(n);
  }
  index.visited_list_pool_->releaseVisitedList(visited_list);
  return top;
}

}  // namespace shoal
