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

SegmentHandle RegisterSegment(std::shared_ptr<Segment> segment) {
  Registry& r = TheRegistry();
  std::lock_guard<std::mutex> guard(r.mutex);
  const SegmentHandle handle = r.next++;
  r.segments.emplace(handle, std::move(segment));
  return handle;
}

std::shared_ptr<Segment> BorrowSegment(SegmentHandle handle) {
  Registry& r = TheRegistry();
  std::lock_guard<std::mutex> guard(r.mutex);
  auto found = r.segments.find(handle);
  if (found == r.segments.end()) ThrowUnknown(handle);
  return found->second;
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
