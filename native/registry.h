// native/registry.h
//
// Process-wide map from handle (a small integer, safe as a JS number) to a segment. Every
// thread -- the main thread and each worker -- reaches a segment through it; a call borrows
// the segment by copying its shared_ptr and holds it for the whole call, so a segment is
// destroyed only after its last call returns. The registry is never destroyed (it is leaked
// on purpose) so no static destructor races threads still running at process exit.
#pragma once

#include <cstdint>
#include <memory>

#include "segment.h"

namespace shoal {

using SegmentHandle = uint64_t;

// A borrowed segment: keeps it alive and counts as a call in flight until Release() (or
// destruction). Taken under the registry lock, so a free that unregisters the handle either
// sees the lease and waits for it, or the borrow fails with kClosed -- never a call that
// starts on a segment being freed.
class SegmentLease {
 public:
  SegmentLease() = default;
  explicit SegmentLease(std::shared_ptr<Segment> segment);
  ~SegmentLease() { Release(); }
  SegmentLease(SegmentLease&& other) noexcept;
  SegmentLease& operator=(SegmentLease&& other) noexcept;
  SegmentLease(const SegmentLease&) = delete;
  SegmentLease& operator=(const SegmentLease&) = delete;

  Segment* operator->() const { return segment_.get(); }
  Segment& operator*() const { return *segment_; }
  // Ends the lease early: asynchronous work calls this when its native part is done, so a
  // free waiting on the JS thread is not blocked behind the JS callback that follows.
  void Release();

 private:
  std::shared_ptr<Segment> segment_;
  bool held_ = false;
};

SegmentHandle RegisterSegment(std::shared_ptr<Segment> segment);
// Throws Failure(kClosed) for a handle that was freed or never issued.
SegmentLease BorrowSegment(SegmentHandle handle);
// Removes the handle; later borrows throw kClosed. Returns the segment so the caller decides
// where and when it is closed (Segment::Close waits for outstanding leases). Throws kClosed
// if the handle is not registered.
std::shared_ptr<Segment> UnregisterSegment(SegmentHandle handle);
uint64_t LiveSegmentCount();

}  // namespace shoal
