// native/segment.h
//
// One HNSW index (hnswlib) and what makes it safe to share across threads.
// Owns: the index, its space, its lock, its byte account.
// Does not own: handles (registry.h), files (segment_file.h), JS values (segment_exports.cc).
//
// hnswlib's per-label lock table (65,536 mutexes, 2.6 MB) serves only writes, which here run
// one at a time under the exclusive lock anyway. A loaded segment is built without it
// (segment_format.cc) and allocates it at its first write, so a segment that is only searched
// is that much smaller (a quarter of a 10,000 x 128 segment) and loads without zeroing it.
//
// Locking: searches, reads and saves take the lock shared and run beside each other; add,
// delete, resize and close take it exclusive (hnswlib is not safe to search while it inserts).
// Every call validates its whole input before it changes anything, so a call that fails
// leaves the segment as it was.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "accounting.h"
#include "distance.h"
#include "filter_search.h"
#include "rw_lock.h"
#include "segment_spec.h"

namespace shoal {

struct SegmentInfo {
  SegmentSpec spec;
  uint64_t count;          // live elements
  uint64_t deleted_count;  // deleted elements still holding a slot (reused by later adds)
  uint64_t slots_used;     // count + deleted_count
  int64_t bytes;           // exact native bytes held now
  int64_t peak_bytes;
  // Bytes the next add or delete allocates for hnswlib's per-label lock table; 0 once it exists.
  int64_t label_lock_bytes;
  uint32_t concurrent_searches_peak;
  bool closed;
};

class Segment {
 public:
  using Index = HnswIndex;

  static std::shared_ptr<Segment> Create(const SegmentSpec& spec);
  // Loads a segment file (segment_file.h) with `capacity` slots (0: the saved capacity).
  static std::shared_ptr<Segment> Load(const std::string& path, uint64_t capacity,
                                       const CancelFlag& cancel);
  // Builds a segment around an index already filled in; takes over its account.
  Segment(const SegmentSpec& spec, std::unique_ptr<Space> space, std::unique_ptr<Index> index,
          std::unique_ptr<AllocAccount> account);
  ~Segment();
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;

  enum class WriteMode { kAdd, kUpsert };
  // Adds n vectors (n x dim, row-major) under the given labels. kAdd rejects a label that is
  // present; kUpsert replaces its vector. Throws kCapacityExceeded when the new labels do not
  // fit (grow with Resize first). A cancel stops between elements; those before it stay.
  // `threads` > 1 inserts on that many threads at once (the calling one and helpers), which
  // hnswlib's per-element and per-label locks allow while this call holds the segment
  // exclusively; batches too small to share run on the calling thread alone.
  void AddBatch(const float* vectors, const uint32_t* labels, size_t n, WriteMode mode,
                const CancelFlag& cancel, size_t threads = 1);
  // Deletes all labels or none: throws kNotFound if any is absent.
  void DeleteBatch(const uint32_t* labels, size_t n);
  // For each of nq queries writes k labels and distances, nearest first; missing results are
  // kNoLabel / +inf. `allow` (sorted or not, may be null) restricts results to those labels;
  // so does `bits` (a bitset over labels, may be null; filter_search.h), instead of `allow`.
  void SearchBatch(const float* queries, size_t nq, size_t k, size_t ef, const uint32_t* allow,
                   size_t allow_count, uint32_t* out_labels, float* out_distances,
                   const CancelFlag& cancel, const LabelBits* bits = nullptr) const;
  // Copies the stored vectors of n labels (cosine: the normalised ones). Throws kNotFound.
  void GetVectors(const uint32_t* labels, size_t n, float* out) const;
  // Sets capacity (slots). Throws kInvalidArgument below the slots in use.
  void Resize(uint64_t capacity);
  // Writes the segment file atomically (segment_file.h). Runs beside searches.
  void Save(const std::string& path, const CancelFlag& cancel) const;
  // Frees the index once every lease is released (calls that borrowed the segment before it
  // was unregistered finish first); later calls throw kClosed.
  void Close();

  // Leases count the calls that borrowed this segment (registry.h). Close() waits for zero.
  void AddLease();
  void DropLease();

  SegmentInfo Info() const;  // lock-free
  int64_t Bytes() const { return account_->Bytes(); }
  const SegmentSpec& spec() const { return spec_; }

 private:
  void ThrowIfClosed() const;  // caller holds the lock
  void CheckVectors(const float* vectors, size_t n, const char* what) const;
  void RefreshCounts();
  // Caller holds the lock exclusively, inside the account's ChargeScope.
  void EnsureLabelLocks();
  void SearchOne(const float* query, size_t k, size_t ef, const uint32_t* allow_sorted,
                 size_t allow_count, uint32_t* out_labels, float* out_distances) const;
  void SearchBits(const float* query, size_t k, size_t ef, const ElementBits& bits,
                  uint32_t* out_labels, float* out_distances) const;
  // Greedy descent through the upper layers: the layer-0 entry for `query`.
  uint32_t Descend(const float* query) const;
  void SearchExact(const float* query, size_t k, const uint32_t* allow, size_t allow_count,
                   uint32_t* out_labels, float* out_distances) const;

  SegmentSpec spec_;
  mutable RwLock lock_;
  // The account outlives the index and the space: their destruction is charged to it.
  std::unique_ptr<AllocAccount> account_;
  std::unique_ptr<Space> space_;
  std::unique_ptr<Index> index_;  // null once closed
  std::atomic<uint64_t> capacity_{0};
  std::atomic<uint64_t> slots_used_{0};
  std::atomic<uint64_t> deleted_count_{0};
  std::atomic<bool> closed_{false};
  std::mutex lease_mutex_;
  std::condition_variable leases_released_;
  int leases_ = 0;
  std::atomic<bool> label_locks_held_{true};
  mutable std::atomic<uint32_t> searches_running_{0};
  mutable std::atomic<uint32_t> searches_peak_{0};
};

}  // namespace shoal
