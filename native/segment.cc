// native/segment.cc
//
// All index work runs inside ChargeScope(account_), destruction included, so the account is
// the exact native size of this segment (accounting.h). Scratch buffers that are not part of
// the index (normalised copies, sorted allow-lists, output) are allocated outside the scope.
#include "segment.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>
#include <limits>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "errors.h"
#include "hnswlib.h"
#include "memory_estimate.h"
#include "segment_file.h"

namespace shoal {

namespace {
// A parallel insert gives each thread at least this many rows: below it, starting threads costs
// more than it saves (an insert takes tens to hundreds of microseconds).
constexpr size_t kMinRowsPerInsertThread = 32;
constexpr size_t kMaxInsertThreads = 64;
}  // namespace
namespace {

using hnswlib::tableint;

// An allow-list this short (relative to the search breadth) is scanned exactly: it costs
// fewer distance computations than a filtered graph walk of breadth ef (about ef x 2M), and
// it never returns fewer than k results because the filter starved the walk.
constexpr size_t kExactScanPerEf = 32;

class AllowFilter final : public hnswlib::BaseFilterFunctor {
 public:
  AllowFilter(const uint32_t* sorted, size_t count) : sorted_(sorted), count_(count) {}
  bool operator()(hnswlib::labeltype label) override {
    return std::binary_search(sorted_, sorted_ + count_, static_cast<uint32_t>(label));
  }

 private:
  const uint32_t* sorted_;
  size_t count_;
};

std::string Str(uint64_t v) { return std::to_string(v); }

void FillEmpty(uint32_t* labels, float* distances, size_t from, size_t k) {
  for (size_t j = from; j < k; ++j) {
    labels[j] = kNoLabel;
    distances[j] = std::numeric_limits<float>::infinity();
  }
}

// Writes the k nearest of a max-heap of (distance, internal id), nearest first; the rest empty.
template <typename Queue>
void EmitNearest(const HnswIndex& index, Queue& top, size_t k, uint32_t* out_labels,
                 float* out_distances) {
  while (top.size() > k) top.pop();
  size_t found = top.size();
  FillEmpty(out_labels, out_distances, found, k);
  while (!top.empty()) {
    --found;
    out_labels[found] = static_cast<uint32_t>(index.getExternalLabel(top.top().second));
    out_distances[found] = top.top().first;
    top.pop();
  }
}

}  // namespace

std::shared_ptr<Segment> Segment::Create(const SegmentSpec& spec) {
  CheckSpec(spec);
  auto account = std::make_unique<AllocAccount>();
  std::unique_ptr<Space> space;
  std::unique_ptr<Index> index;
  {
    ChargeScope scope(account.get());
    space = std::make_unique<Space>(spec.space, spec.dim);
    index = std::make_unique<Index>(space.get(), spec.capacity, spec.m, spec.ef_construction,
                                    spec.seed, /*allow_replace_deleted=*/true);
  }
  return std::make_shared<Segment>(spec, std::move(space), std::move(index), std::move(account));
}

std::shared_ptr<Segment> Segment::Load(const std::string& path, uint64_t capacity,
                                       const CancelFlag& cancel) {
  LoadedIndex loaded = LoadSegmentFile(path, capacity, cancel);
  return std::make_shared<Segment>(loaded.spec, std::move(loaded.space), std::move(loaded.index),
                                   std::move(loaded.account));
}

Segment::Segment(const SegmentSpec& spec, std::unique_ptr<Space> space,
                 std::unique_ptr<Index> index, std::unique_ptr<AllocAccount> account)
    : spec_(spec),
      account_(std::move(account)),
      space_(std::move(space)),
      index_(std::move(index)) {
  RefreshCounts();
  label_locks_held_.store(!index_->label_op_locks_.empty(), std::memory_order_relaxed);
}

void Segment::EnsureLabelLocks() {
  if (!index_->label_op_locks_.empty()) return;
  std::vector<std::mutex>(Index::MAX_LABEL_OPERATION_LOCKS).swap(index_->label_op_locks_);
  label_locks_held_.store(true, std::memory_order_relaxed);
}

Segment::~Segment() {
  if (index_ != nullptr || space_ != nullptr) {
    {
      ChargeScope scope(account_.get());
      index_.reset();
      space_.reset();
    }
    ReturnFreeMemoryBeyondSlack();
  }
}

void Segment::ThrowIfClosed() const {
  if (index_ == nullptr) {
    throw Failure(ErrorCode::kClosed, "segment is closed: it was freed and can no longer be used");
  }
}

void Segment::RefreshCounts() {
  if (index_ == nullptr) return;
  capacity_.store(index_->max_elements_, std::memory_order_relaxed);
  slots_used_.store(index_->cur_element_count, std::memory_order_relaxed);
  deleted_count_.store(index_->num_deleted_, std::memory_order_relaxed);
}

void Segment::CheckVectors(const float* vectors, size_t n, const char* what) const {
  const size_t dim = spec_.dim;
  for (size_t i = 0; i < n; ++i) {
    const float* v = vectors + i * dim;
    double norm = 0;
    for (size_t j = 0; j < dim; ++j) {
      if (!std::isfinite(v[j])) {
        throw Failure(ErrorCode::kInvalidVector,
                      std::string(what) + "[" + Str(i) + "][" + Str(j) + "]: must be a finite number, got " +
                          (std::isnan(v[j]) ? "NaN" : (v[j] > 0 ? "Infinity" : "-Infinity")),
                      {{"row", static_cast<double>(i)}, {"column", static_cast<double>(j)}});
      }
      norm += static_cast<double>(v[j]) * v[j];
    }
    if (spec_.space == SpaceKind::kCosine && !(norm > 0)) {
      throw Failure(ErrorCode::kInvalidVector,
                    std::string(what) + "[" + Str(i) +
                        "]: cosine space needs a nonzero vector, got all zeros",
                    {{"row", static_cast<double>(i)}});
    }
  }
}

void Segment::AddBatch(const float* vectors, const uint32_t* labels, size_t n, WriteMode mode,
                       const CancelFlag& cancel, size_t threads) {
  CheckVectors(vectors, n, "vectors");
  {
    std::vector<uint32_t> sorted(labels, labels + n);
    std::sort(sorted.begin(), sorted.end());
    for (size_t i = 0; i < n; ++i) {
      if (sorted[i] == kNoLabel) {
        throw Failure(ErrorCode::kInvalidLabel,
                      "labels: must be integers from 0 to 4294967294, got 4294967295");
      }
      if (i > 0 && sorted[i] == sorted[i - 1]) {
        throw Failure(ErrorCode::kInvalidLabel,
                      "labels: each label may appear once per call, " + Str(sorted[i]) +
                          " appears more than once",
                      {{"label", static_cast<double>(sorted[i])}});
      }
    }
  }

  std::unique_lock<RwLock> guard(lock_);
  ThrowIfClosed();
  Index& index = *index_;

  enum State : uint8_t { kNew, kLive, kDeleted };
  std::vector<uint8_t> state(n);
  size_t brand_new = 0;
  size_t revived = 0;
  for (size_t i = 0; i < n; ++i) {
    auto found = index.label_lookup_.find(labels[i]);
    if (found == index.label_lookup_.end()) {
      state[i] = kNew;
      ++brand_new;
    } else if (index.isMarkedDeleted(found->second)) {
      state[i] = kDeleted;
      ++revived;
    } else {
      state[i] = kLive;
      if (mode == WriteMode::kAdd) {
        throw Failure(ErrorCode::kAlreadyExists,
                      "labels[" + Str(i) + "]: label " + Str(labels[i]) +
                          " is already present (use upsert to replace its vector)",
                      {{"row", static_cast<double>(i)}, {"label", static_cast<double>(labels[i])}});
      }
    }
  }
  const size_t vacancies = index.deleted_elements.size() - revived;
  const size_t slots_needed = brand_new > vacancies ? brand_new - vacancies : 0;
  const size_t slots_free = index.max_elements_ - index.cur_element_count;
  if (slots_needed > slots_free) {
    throw Failure(ErrorCode::kCapacityExceeded,
                  "capacity: " + Str(slots_needed) + " new slots needed, " + Str(slots_free) +
                      " free of " + Str(index.max_elements_) + "; resize the segment first",
                  {{"needed", static_cast<double>(slots_needed)},
                   {"available", static_cast<double>(slots_free)},
                   {"capacity", static_cast<double>(index.max_elements_)}});
  }

  const bool cosine = spec_.space == SpaceKind::kCosine;
  {
    ChargeScope scope(account_.get());
    EnsureLabelLocks();
  }
  // Labels that already own a slot go first: a brand-new label may take over any deleted
  // slot, and must not take the slot of a deleted label this batch brings back.
  std::vector<uint32_t> order;
  order.reserve(n);
  for (size_t i = 0; i < n; ++i) if (state[i] != kNew) order.push_back(static_cast<uint32_t>(i));
  const size_t first_pass = order.size();
  for (size_t i = 0; i < n; ++i) if (state[i] == kNew) order.push_back(static_cast<uint32_t>(i));

  std::atomic<size_t> done{0};
  // Inserts order[from, to) on the calling thread, each thread taking the next row as it goes.
  // Every thread charges its own allocations to this segment's account under its own scope.
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto insert_rows = [&](size_t to) {
    ChargeScope scope(account_.get());
    std::vector<float> unit(cosine ? spec_.dim : 0);
    for (;;) {
      if (failed.load(std::memory_order_relaxed) || cancel.IsSet()) return;
      const size_t k = next.fetch_add(1, std::memory_order_relaxed);
      if (k >= to) return;
      const size_t i = order[k];
      try {
        const float* v = vectors + i * spec_.dim;
        if (cosine) {
          std::copy(v, v + spec_.dim, unit.begin());
          NormalizeInPlace(unit.data(), spec_.dim);
          v = unit.data();
        }
        if (state[i] == kDeleted) index.unmarkDelete(labels[i]);
        index.addPoint(v, labels[i], /*replace_deleted=*/state[i] == kNew);
        done.fetch_add(1, std::memory_order_relaxed);
      } catch (...) {
        std::lock_guard<std::mutex> hold(error_mutex);
        if (!error) error = std::current_exception();
        failed.store(true);
        return;
      }
    }
  };
  // Only rows that take a fresh slot run in parallel. Reviving a deleted label, replacing a live
  // one's vector or reusing a deleted slot rewrites an element other inserts may be reading
  // (its delete mark, its links, the update sampler) without a lock hnswlib provides, so those
  // run first on this thread alone. Fresh inserts share only hnswlib's level generator, whose
  // unsynchronised draws can at worst repeat a level (ThreadSanitizer reports it; see
  // docs/internals.md).
  const size_t vacant = std::min(vacancies, n - first_pass);
  const size_t alone = first_pass + vacant;
  for (const size_t to : {first_pass, alone, n}) {
    const size_t rows = to - next.load();
    const size_t workers =
        to <= alone ? 1 : std::max<size_t>(1, std::min<size_t>({threads, kMaxInsertThreads, rows / kMinRowsPerInsertThread}));
    if (workers == 1) {
      insert_rows(to);
    } else {
      // Helpers are made and joined outside any charge scope: a thread's own bookkeeping is
      // allocated by its parent and freed by itself, which no scope could pair up.
      std::vector<std::thread> helpers;
      helpers.reserve(workers - 1);
      for (size_t t = 1; t < workers; ++t) helpers.emplace_back(insert_rows, to);
      insert_rows(to);
      for (std::thread& helper : helpers) helper.join();
    }
    next.store(to);
    if (failed.load() || cancel.IsSet()) break;
  }
  RefreshCounts();
  if (error) std::rethrow_exception(error);
  cancel.ThrowIfSet("add", done.load(), n);
}

void Segment::DeleteBatch(const uint32_t* labels, size_t n) {
  std::unique_lock<RwLock> guard(lock_);
  ThrowIfClosed();
  Index& index = *index_;
  std::vector<uint32_t> sorted(labels, labels + n);
  std::sort(sorted.begin(), sorted.end());
  for (size_t i = 0; i < n; ++i) {
    if (i > 0 && sorted[i] == sorted[i - 1]) {
      throw Failure(ErrorCode::kInvalidLabel,
                    "labels: each label may appear once per call, " + Str(sorted[i]) +
                        " appears more than once",
                    {{"label", static_cast<double>(sorted[i])}});
    }
    auto found = index.label_lookup_.find(sorted[i]);
    if (found == index.label_lookup_.end() || index.isMarkedDeleted(found->second)) {
      throw Failure(ErrorCode::kNotFound, "labels: label " + Str(sorted[i]) + " is not present",
                    {{"label", static_cast<double>(sorted[i])}});
    }
  }
  {
    ChargeScope scope(account_.get());
    EnsureLabelLocks();
    for (size_t i = 0; i < n; ++i) index.markDelete(labels[i]);
  }
  RefreshCounts();
}

void Segment::SearchBatch(const float* queries, size_t nq, size_t k, size_t ef,
                          const uint32_t* allow, size_t allow_count, uint32_t* out_labels,
                          float* out_distances, const CancelFlag& cancel,
                          const LabelBits* bits) const {
  if (k < 1) throw Failure(ErrorCode::kInvalidArgument, "k: must be an integer >= 1, got 0");
  if (ef < 1) throw Failure(ErrorCode::kInvalidArgument, "ef: must be an integer >= 1, got 0");
  CheckVectors(queries, nq, "queries");

  std::vector<uint32_t> allow_sorted;
  if (allow != nullptr) {
    allow_sorted.assign(allow, allow + allow_count);
    std::sort(allow_sorted.begin(), allow_sorted.end());
    allow_sorted.erase(std::unique(allow_sorted.begin(), allow_sorted.end()), allow_sorted.end());
  }
  const bool cosine = spec_.space == SpaceKind::kCosine;
  std::vector<float> unit(cosine ? spec_.dim : 0);

  std::shared_lock<RwLock> guard(lock_);
  ThrowIfClosed();
  // Outside the account's scope, like the sorted allow-list: scratch of this call, not the index.
  std::unique_ptr<ElementBits> elements;
  if (bits != nullptr) elements = std::make_unique<ElementBits>(*index_, *bits);
  const uint32_t running = searches_running_.fetch_add(1, std::memory_order_relaxed) + 1;
  uint32_t peak = searches_peak_.load(std::memory_order_relaxed);
  while (running > peak && !searches_peak_.compare_exchange_weak(peak, running)) {
  }
  // Decrements searches_running_ however the loop ends.
  struct Running {
    std::atomic<uint32_t>& count;
    ~Running() { count.fetch_sub(1, std::memory_order_relaxed); }
  } running_guard{searches_running_};
  size_t done = 0;
  {
    ChargeScope scope(account_.get());
    for (; done < nq; ++done) {
      if (cancel.IsSet()) break;
      const float* q = queries + done * spec_.dim;
      if (cosine) {
        std::copy(q, q + spec_.dim, unit.begin());
        NormalizeInPlace(unit.data(), spec_.dim);
        q = unit.data();
      }
      if (elements != nullptr) {
        SearchBits(q, k, ef, *elements, out_labels + done * k, out_distances + done * k);
      } else {
        SearchOne(q, k, ef, allow != nullptr ? allow_sorted.data() : nullptr, allow_sorted.size(),
                  out_labels + done * k, out_distances + done * k);
      }
    }
  }
  cancel.ThrowIfSet("search", done, nq);
}

void Segment::SearchOne(const float* query, size_t k, size_t ef, const uint32_t* allow_sorted,
                        size_t allow_count, uint32_t* out_labels, float* out_distances) const {
  const Index& index = *index_;
  const size_t slots = index.cur_element_count;
  if (slots == 0) {
    FillEmpty(out_labels, out_distances, 0, k);
    return;
  }
  const size_t breadth = std::max(ef, k);
  if (allow_sorted != nullptr && allow_count <= kExactScanPerEf * breadth) {
    SearchExact(query, k, allow_sorted, allow_count, out_labels, out_distances);
    return;
  }
  const tableint current = Descend(query);
  AllowFilter filter(allow_sorted, allow_count);
  auto top = (index.num_deleted_ == 0 && allow_sorted == nullptr)
                 ? index.searchBaseLayerST<true>(current, query, breadth)
                 : index.searchBaseLayerST<false>(current, query, breadth,
                                                  allow_sorted != nullptr ? &filter : nullptr);
  EmitNearest(index, top, k, out_labels, out_distances);
}

void Segment::SearchBits(const float* query, size_t k, size_t ef, const ElementBits& bits,
                         uint32_t* out_labels, float* out_distances) const {
  const Index& index = *index_;
  const size_t breadth = std::max(ef, k);
  if (index.cur_element_count == 0 || bits.count() == 0) {
    FillEmpty(out_labels, out_distances, 0, k);
    return;
  }
  if (bits.count() <= kBitsExactPerEf * breadth) {
    ExactBitsSearch(index, *space_, query, k, bits, out_labels, out_distances);
    return;
  }
  const size_t live = index.cur_element_count - index.num_deleted_;
  const bool two_hop = static_cast<double>(bits.count()) < kTwoHopBelow * static_cast<double>(live);
  auto top = FilteredBaseSearch(index, *space_, Descend(query), query, breadth, bits, two_hop);
  // A walk that found fewer than k although more are allowed (the allowed elements it could
  // reach ran out) falls back to the exact scan: fewer than k only when fewer than k match.
  if (top.size() < std::min(k, bits.count())) {
    ExactBitsSearch(index, *space_, query, k, bits, out_labels, out_distances);
    return;
  }
  EmitNearest(index, top, k, out_labels, out_distances);
}

uint32_t Segment::Descend(const float* query) const {
  const Index& index = *index_;
  const size_t slots = index.cur_element_count;
  // Greedy descent through the upper layers (as hnswlib's searchKnn, but with the caller's
  // ef rather than the index-wide ef_ that every thread would share).
  tableint current = index.enterpoint_node_;
  float current_distance =
      space_->Distance(query, reinterpret_cast<const float*>(index.getDataByInternalId(current)));
  for (int level = index.maxlevel_; level > 0; --level) {
    bool changed = true;
    while (changed) {
      changed = false;
      const unsigned int* list = index.get_linklist(current, level);
      const int size = index.getListCount(const_cast<unsigned int*>(list));
      const tableint* neighbours = reinterpret_cast<const tableint*>(list + 1);
      for (int i = 0; i < size; ++i) {
        const tableint candidate = neighbours[i];
        if (candidate >= slots) {
          throw Failure(ErrorCode::kInternal, static_cast<const char*>("graph links point past the last element"));
        }
        const float d = space_->Distance(
            query, reinterpret_cast<const float*>(index.getDataByInternalId(candidate)));
        if (d < current_distance) {
          current_distance = d;
          current = candidate;
          changed = true;
        }
      }
    }
  }
  return current;
}

void Segment::SearchExact(const float* query, size_t k, const uint32_t* allow, size_t allow_count,
                          uint32_t* out_labels, float* out_distances) const {
  const Index& index = *index_;
  std::vector<std::pair<float, uint32_t>> scored;
  scored.reserve(allow_count);
  for (size_t i = 0; i < allow_count; ++i) {
    auto found = index.label_lookup_.find(allow[i]);
    if (found == index.label_lookup_.end() || index.isMarkedDeleted(found->second)) continue;
    const float* v = reinterpret_cast<const float*>(index.getDataByInternalId(found->second));
    scored.emplace_back(space_->Distance(query, v), allow[i]);
  }
  const size_t take = std::min(k, scored.size());
  std::partial_sort(scored.begin(), scored.begin() + take, scored.end());
  for (size_t j = 0; j < take; ++j) {
    out_labels[j] = scored[j].second;
    out_distances[j] = scored[j].first;
  }
  FillEmpty(out_labels, out_distances, take, k);
}

void Segment::GetVectors(const uint32_t* labels, size_t n, float* out) const {
  std::shared_lock<RwLock> guard(lock_);
  ThrowIfClosed();
  const Index& index = *index_;
  std::vector<tableint> ids(n);
  for (size_t i = 0; i < n; ++i) {
    auto found = index.label_lookup_.find(labels[i]);
    if (found == index.label_lookup_.end() || index.isMarkedDeleted(found->second)) {
      throw Failure(ErrorCode::kNotFound,
                    "labels[" + Str(i) + "]: label " + Str(labels[i]) + " is not present",
                    {{"row", static_cast<double>(i)}, {"label", static_cast<double>(labels[i])}});
    }
    ids[i] = found->second;
  }
  for (size_t i = 0; i < n; ++i) {
    const float* v = reinterpret_cast<const float*>(index.getDataByInternalId(ids[i]));
    std::copy(v, v + spec_.dim, out + i * spec_.dim);
  }
}

void Segment::Resize(uint64_t capacity) {
  std::unique_lock<RwLock> guard(lock_);
  ThrowIfClosed();
  const uint64_t used = index_->cur_element_count;
  if (capacity < used || capacity < 1 || capacity > kMaxCapacity) {
    throw Failure(ErrorCode::kInvalidArgument,
                  "capacity: must be an integer from " + Str(std::max<uint64_t>(used, 1)) +
                      " (slots in use) to " + Str(kMaxCapacity) + ", got " + Str(capacity));
  }
  if (capacity == index_->max_elements_) return;
  {
    ChargeScope scope(account_.get());
    index_->resizeIndex(capacity);
  }
  searches_peak_.store(0, std::memory_order_relaxed);  // resize starts a fresh visited pool
  RefreshCounts();
  ReturnFreeMemoryBeyondSlack();
}

void Segment::Save(const std::string& path, const CancelFlag& cancel) const {
  std::shared_lock<RwLock> guard(lock_);
  ThrowIfClosed();
  SegmentSpec spec = spec_;
  spec.capacity = index_->max_elements_;
  WriteSegmentFile(path, spec, *index_, cancel);
}

void Segment::AddLease() {
  std::lock_guard<std::mutex> guard(lease_mutex_);
  ++leases_;
}

void Segment::DropLease() {
  std::lock_guard<std::mutex> guard(lease_mutex_);
  if (--leases_ == 0) leases_released_.notify_all();
}

void Segment::Close() {
  {
    std::unique_lock<std::mutex> leases(lease_mutex_);
    leases_released_.wait(leases, [this] { return leases_ == 0; });
  }
  std::unique_lock<RwLock> guard(lock_);
  if (index_ == nullptr) return;
  closed_.store(true);
  {
    ChargeScope scope(account_.get());
    index_.reset();
    space_.reset();
  }
  ReturnFreeMemoryBeyondSlack();
}

SegmentInfo Segment::Info() const {
  SegmentInfo info{};
  info.spec = spec_;
  info.spec.capacity = capacity_.load(std::memory_order_relaxed);
  info.slots_used = slots_used_.load(std::memory_order_relaxed);
  info.deleted_count = deleted_count_.load(std::memory_order_relaxed);
  info.count = info.slots_used - info.deleted_count;
  info.bytes = account_->Bytes();
  info.peak_bytes = account_->PeakBytes();
  info.label_lock_bytes =
      label_locks_held_.load(std::memory_order_relaxed) ? 0 : static_cast<int64_t>(LabelLockTableBytes());
  info.concurrent_searches_peak = searches_peak_.load(std::memory_order_relaxed);
  info.closed = closed_.load();
  return info;
}

}  // namespace shoal
