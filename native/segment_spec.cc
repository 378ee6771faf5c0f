// native/segment_spec.cc
//
// Checks a segment spec against the limits and words the cancellation failure.
#include "segment_spec.h"

#include <string>

#include "errors.h"

namespace shoal {
namespace {

std::string Str(uint64_t v) { return std::to_string(v); }

}  // namespace

void CheckSpec(const SegmentSpec& s) {
  if (s.dim < 1 || s.dim > kMaxDim) {
    throw Failure(ErrorCode::kInvalidArgument,
                  "dim: must be an integer from 1 to " + Str(kMaxDim) + ", got " + Str(s.dim));
  }
  if (s.m < 2 || s.m > kMaxM) {
    throw Failure(ErrorCode::kInvalidArgument,
                  "M: must be an integer from 2 to " + Str(kMaxM) + ", got " + Str(s.m));
  }
  if (s.ef_construction < 1 || s.ef_construction > kMaxEfConstruction) {
    throw Failure(ErrorCode::kInvalidArgument, "efConstruction: must be an integer from 1 to " +
                                                   Str(kMaxEfConstruction) + ", got " +
                                                   Str(s.ef_construction));
  }
  if (s.capacity < 1 || s.capacity > kMaxCapacity) {
    throw Failure(ErrorCode::kInvalidArgument, "capacity: must be an integer from 1 to " +
                                                   Str(kMaxCapacity) + ", got " + Str(s.capacity));
  }
  if (s.space != SpaceKind::kL2 && s.space != SpaceKind::kInnerProduct &&
      s.space != SpaceKind::kCosine) {
    throw Failure(ErrorCode::kInvalidArgument, "space: must be l2, ip or cosine");
  }
}

void CancelFlag::ThrowIfSet(const char* operation, size_t done, size_t total) const {
  if (!IsSet()) return;
  throw Failure(ErrorCode::kAborted,
                std::string(operation) + " cancelled after " + Str(done) + " of " + Str(total),
                {{"completed", static_cast<double>(done)}});
}

}  // namespace shoal
