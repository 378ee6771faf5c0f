// native/registry.cc
#include "registry.h"

#include <mutex>
#include <string>
#include <unordered_map>

#include "errors.h"

namespace shoal {
namespace {

struct Registry {
  std::mutex mutex;
  std::unordered_map<SegmentHandle, std::shared_ptr<Segment>> segments;
  SegmentHandle next = 1;
};

Registry& TheRegistry() {
  static Registry* registry = new Registry();  // leaked: see registry.h
  return *registry;
}

[[noreturn]] void ThrowUnknown(SegmentHandle handle) {
  throw Failure(ErrorCode::kClosed,
                "segment handle " + std::to_string(handle) + " is not open (freed or never created)",
                {{"handle", static_cast<double>(handle)}});
}

}  // namespace

SegmentLease::SegmentLease(std::shared_ptr<Segment> segment) : segment_(std::move(segment)) {
  segment_->AddLease();
  held_ = true;
}

SegmentLease::SegmentLease(SegmentLease&& other) noexcept
    : segment_(std::move(other.segment_)), held_(other.held_) {
  other.held_ = false;
}

SegmentLease& SegmentLease::operator=(SegmentLease&& other) noexcept {
  if (this != &other) {
    Release();
    segment_ = std::move(other.segment_);
    held_ = other.held_;
    other.held_ = false;
  }
  return *this;
}

void SegmentLease::Release() {
  if (held_) {
    held_ = false;
    segment_->DropLease();
  }
}

SegmentHandle RegisterSegment(std::shared_ptr<Segment> segment) {
  Registry& r = TheRegistry();
  std::lock_guard<std::mutex> guard(r.mutex);
  const SegmentHandle handle = r.next++;
  r.segments.emplace(handle, std::move(segment));
  return handle;
}

SegmentLease BorrowSegment(SegmentHandle handle) {
  Registry& r = TheRegistry();
  std::lock_guard<std::mutex> guard(r.mutex);
  auto found = r.segments.find(handle);
  if (found == r.segments.end()) ThrowUnknown(handle);
  return SegmentLease(found->second);
}

std::shared_ptr<Segment> UnregisterSegment(SegmentHandle handle) {
  std::shared_ptr<Segment> out;
  Registry& r = TheRegistry();
  {
    std::lock_guard<std::mutex> guard(r.mutex);
    auto found = r.segments.find(handle);
    if (found == r.segments.end()) ThrowUnknown(handle);
    out = std::move(found->second);
    r.segments.erase(found);
  }
  return out;  // released by the caller, outside the registry lock
}

uint64_t LiveSegmentCount() {
  Registry& r = TheRegistry();
  std::lock_guard<std::mutex> guard(r.mutex);
  return r.segments.size();
}

}  // namespace shoal
