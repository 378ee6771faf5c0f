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

SegmentHandle RegisterSegment(std::shared_ptr<Segment> segment);
// Throws Failure(kClosed) for a handle that was freed or never issued.
std::shared_ptr<Segment> BorrowSegment(SegmentHandle handle);
// Removes the handle; later borrows throw kClosed. Returns the segment so the caller decides
// where its memory is released. Throws kClosed if the handle is not registered.
std::shared_ptr<Segment> UnregisterSegment(SegmentHandle handle);
uint64_t LiveSegmentCount();

}  // namespace shoal
