// native/segment_format.cc
//
// Encodes and decodes segment-file bytes (segment_format.h); performs no I/O.
#include "segment_format.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>

#include "crc32c.h"
#include "errors.h"
#include "hnswlib.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "segment files are little-endian");

namespace shoal {
namespace {

std::string Str(uint64_t v) { return std::to_string(v); }

// Checks the fields the payload size depends on and everything the loader will trust.
void CheckFields(const std::string& path, const FileHeader& h, uint64_t file_bytes) {
  if (h.header_bytes != sizeof(FileHeader)) ThrowCorrupt(path, "header size is wrong");
  if (Crc32cExtend(0, &h, offsetof(FileHeader, header_crc)) != h.header_crc) {
    ThrowCorrupt(path, "header checksum mismatch");
  }
  try {
    CheckSpec(SpecOfHeader(h));
  } catch (const Failure& f) {
    ThrowCorrupt(path, std::string("header field ") + f.what());
  }
  if (h.slots_used > h.capacity || h.deleted_count > h.slots_used) {
    ThrowCorrupt(path, "element counts exceed capacity");
  }
  const uint64_t fixed_payload = h.slots_used * (SlotBytes(h.dim, h.m) + 4);
  if (h.payload_bytes < fixed_payload) ThrowCorrupt(path, "payload size is too small");
  const uint64_t expected = sizeof(FileHeader) + h.payload_bytes;
  if (file_bytes < expected) {
    throw Failure(ErrorCode::kCorrupt,
                  path + ": truncated segment file: " + Str(file_bytes) + " bytes, expected " +
                      Str(expected),
                  {{"expectedBytes", static_cast<double>(expected)},
                   {"actualBytes", static_cast<double>(file_bytes)}});
  }
  if (file_bytes > expected) {
    ThrowCorrupt(path, Str(file_bytes - expected) + " unexpected bytes after the payload");
  }
}

}  // namespace

[[noreturn]] void ThrowCorrupt(const std::string& path, const std::string& why) {
  throw Failure(ErrorCode::kCorrupt, path + ": not a valid segment file: " + why);
}

size_t SlotBytes(uint32_t dim, uint32_t m) { return 4 + 8ull * m + 4ull * dim + 8; }

void CheckHeader(const std::string& path, const FileHeader& h, size_t have, uint64_t file_bytes) {
  if (have < sizeof h.magic || std::memcmp(h.magic, kSegmentMagic, sizeof kSegmentMagic) != 0) {
    throw Failure(ErrorCode::kNotASegment,
                  path + ": not a shoal segment file (expected the magic bytes SHOALSEG)");
  }
  if (have >= offsetof(FileHeader, header_bytes) && h.version != kSegmentFormatVersion) {
    throw Failure(ErrorCode::kUnsupportedVersion,
                  path + ": segment file format version " + Str(h.version) +
                      " is not supported (this build reads version " +
                      Str(kSegmentFormatVersion) + ")",
                  {{"version", static_cast<double>(h.version)},
                   {"supported", static_cast<double>(kSegmentFormatVersion)}});
  }
  if (have < sizeof h) {
    throw Failure(ErrorCode::kCorrupt,
                  path + ": truncated segment file: " + Str(file_bytes) +
                      " bytes, shorter than the 128-byte header",
                  {{"actualBytes", static_cast<double>(file_bytes)}});
  }
  CheckFields(path, h, file_bytes);
}

SegmentSpec SpecOfHeader(const FileHeader& h) {
  SegmentSpec spec;
  spec.dim = h.dim;
  spec.space = static_cast<SpaceKind>(h.space);
  spec.m = h.m;
  spec.ef_construction = h.ef_construction;
  spec.capacity = h.capacity;
  spec.seed = h.seed;
  return spec;
}

FileHeader EncodeHeader(const SegmentSpec& spec, const HnswIndex& index, size_t upper_bytes) {
  const uint64_t slots = index.cur_element_count;
  FileHeader h;
  std::memset(&h, 0, sizeof h);
  std::memcpy(h.magic, kSegmentMagic, sizeof kSegmentMagic);
  h.version = kSegmentFormatVersion;
  h.header_bytes = sizeof(FileHeader);
  h.dim = spec.dim;
  h.space = static_cast<uint32_t>(spec.space);
  h.m = spec.m;
  h.ef_construction = spec.ef_construction;
  h.slots_used = slots;
  h.deleted_count = index.num_deleted_;
  h.capacity = index.max_elements_;
  h.max_level = slots == 0 ? 0 : index.maxlevel_;
  h.entry_point = slots == 0 ? 0 : index.enterpoint_node_;
  h.payload_bytes = slots * (index.size_data_per_element_ + 4) + upper_bytes;
  h.seed = spec.seed;
  return h;
}

void SealHeader(FileHeader* h, uint32_t payload_crc) {
  h->payload_crc = payload_crc;
  h->header_crc = Crc32cExtend(0, h, offsetof(FileHeader, header_crc));
}

std::vector<char> CollectUpperLists(const HnswIndex& index) {
  const uint64_t slots = index.cur_element_count;
  const size_t list_bytes = index.size_links_per_element_;
  std::vector<char> upper;
  for (uint64_t i = 0; i < slots; ++i) {
    const int level = index.element_levels_[i];
    if (level > 0) {
      const char* list = index.linkLists_[i];
      upper.insert(upper.end(), list, list + list_bytes * static_cast<size_t>(level));
    }
  }
  return upper;
}

// Runs on each read step while its bytes are still in the core's cache.
void CheckLayer0(const HnswIndex& index, uint64_t first, uint64_t end, uint64_t slots,
                 Layer0Scan* scan) {
  for (uint64_t i = first; i < end; ++i) {
    const auto id = static_cast<hnswlib::tableint>(i);
    const unsigned int* list0 = index.get_linklist0(id);
    const unsigned int count0 = index.getListCount(const_cast<unsigned int*>(list0));
    const char* damage = nullptr;
    if (count0 > index.maxM0_) {
      damage = "a layer-0 neighbour list is too long";
    } else {
      unsigned int past_end = 0;
      for (unsigned int j = 0; j < count0; ++j) past_end |= list0[1 + j] >= slots;
      if (past_end != 0) damage = "a layer-0 link points past the last element";
    }
    if (index.getExternalLabel(id) >= kNoLabel) damage = "a label is out of range";
    if (damage != nullptr && scan->damage == nullptr) scan->damage = damage;
  }
}

void MapLabels(HnswIndex* index, uint64_t first, uint64_t end, Layer0Scan* scan) {
  for (uint64_t i = first; i < end; ++i) {
    const auto id = static_cast<hnswlib::tableint>(i);
    if (!index->label_lookup_.emplace(index->getExternalLabel(id), id).second) {
      scan->duplicate_label = true;
    }
    if (index->isMarkedDeleted(id)) {
      index->num_deleted_ += 1;
      index->deleted_elements.insert(id);
    }
  }
}

void CheckUpperLayers(const std::string& path, const HnswIndex& index, const FileHeader& h,
                      const std::vector<int32_t>& levels, const std::vector<char>& upper) {
  const uint64_t slots = h.slots_used;
  if (slots == 0) {
    if (!upper.empty()) ThrowCorrupt(path, "upper-layer lists in an empty segment");
    return;
  }
  if (h.entry_point >= slots) ThrowCorrupt(path, "entry point is out of range");
  if (h.max_level < 0 || levels[h.entry_point] != h.max_level) {
    ThrowCorrupt(path, "entry point is not on the top layer");
  }
  const size_t list_bytes = index.size_links_per_element_;
  size_t offset = 0;
  for (uint64_t i = 0; i < slots; ++i) {
    const int32_t level = levels[i];
    if (level < 0 || level > h.max_level) ThrowCorrupt(path, "an element level is out of range");
    for (int32_t l = 0; l < level; ++l) {
      if (offset + list_bytes > upper.size()) ThrowCorrupt(path, "upper-layer lists overrun the payload");
      unsigned int count = 0;
      std::memcpy(&count, upper.data() + offset, sizeof count);
      count &= 0xFFFF;
      if (count > index.maxM_) ThrowCorrupt(path, "an upper-layer neighbour list is too long");
      for (unsigned int j = 0; j < count; ++j) {
        uint32_t link = 0;
        std::memcpy(&link, upper.data() + offset + 4 * (1 + j), sizeof link);
        if (link >= slots) ThrowCorrupt(path, "an upper-layer link points past the last element");
      }
      offset += list_bytes;
    }
  }
  if (offset != upper.size()) ThrowCorrupt(path, "upper-layer lists do not fill the payload");
}

// hnswlib 0.8.0's sizing constructor (hnswalg.h) always allocates and zeroes the 2.6 MB
// per-label lock table, which a loaded segment only needs at its first write (segment.h).
// hnswlib's one-argument constructor allocates nothing; every field its sizing constructor
// sets is set here.
std::unique_ptr<HnswIndex> NewIndexWithoutLabelLocks(Space* space, const SegmentSpec& spec) {
  using hnswlib::labeltype;
  using hnswlib::linklistsizeint;
  using hnswlib::tableint;
  auto index = std::make_unique<HnswIndex>(space);
  HnswIndex& x = *index;
  const size_t capacity = spec.capacity;
  x.max_elements_ = capacity;
  x.num_deleted_ = 0;
  x.data_size_ = space->get_data_size();
  x.fstdistfunc_ = space->get_dist_func();
  x.dist_func_param_ = space->get_dist_func_param();
  x.M_ = spec.m;  // CheckSpec bounds it far below hnswlib's cap of 10,000
  x.maxM_ = x.M_;
  x.maxM0_ = 2 * x.M_;
  x.ef_construction_ = std::max<size_t>(spec.ef_construction, x.M_);
  x.ef_ = 10;
  x.level_generator_.seed(spec.seed);
  x.update_probability_generator_.seed(spec.seed + 1);
  x.size_links_level0_ = x.maxM0_ * sizeof(tableint) + sizeof(linklistsizeint);
  x.size_data_per_element_ = x.size_links_level0_ + x.data_size_ + sizeof(labeltype);
  x.offsetData_ = x.size_links_level0_;
  x.label_offset_ = x.size_links_level0_ + x.data_size_;
  x.offsetLevel0_ = 0;
  x.size_links_per_element_ = x.maxM_ * sizeof(tableint) + sizeof(linklistsizeint);
  x.mult_ = 1 / std::log(static_cast<double>(x.M_));
  x.revSize_ = 1.0 / x.mult_;
  x.allow_replace_deleted_ = true;
  x.cur_element_count = 0;
  x.enterpoint_node_ = static_cast<tableint>(-1);
  x.maxlevel_ = -1;
  std::vector<std::mutex>(capacity).swap(x.link_list_locks_);
  x.element_levels_.assign(capacity, 0);
  x.visited_list_pool_ = std::make_unique<hnswlib::VisitedListPool>(1, static_cast<int>(capacity));
  // The destructor frees both blocks whether or not they were allocated.
  x.data_level0_memory_ = static_cast<char*>(std::malloc(capacity * x.size_data_per_element_));
  if (x.data_level0_memory_ == nullptr) throw std::bad_alloc();
  x.linkLists_ = static_cast<char**>(std::malloc(sizeof(void*) * capacity));
  if (x.linkLists_ == nullptr) throw std::bad_alloc();
  return index;
}

void InstallUpperLists(HnswIndex* index, const FileHeader& h, const std::vector<int32_t>& levels,
                       const std::vector<char>& upper) {
  const uint64_t slots = h.slots_used;
  const size_t list_bytes = index->size_links_per_element_;
  size_t offset = 0;
  for (uint64_t i = 0; i < slots; ++i) {
    const int32_t level = levels[i];
    if (level == 0) continue;
    const size_t bytes = list_bytes * static_cast<size_t>(level);
    // +1 as hnswlib's own addPoint allocates, so both paths free the same way.
    char* list = static_cast<char*>(std::malloc(bytes + 1));
    if (list == nullptr) throw std::bad_alloc();
    std::memcpy(list, upper.data() + offset, bytes);
    index->linkLists_[i] = list;
    index->element_levels_[i] = level;
    offset += bytes;
    // Counted as we go, so a failure here frees exactly the lists allocated so far.
    index->cur_element_count = i + 1;
  }
  index->cur_element_count = slots;
  index->maxlevel_ = slots == 0 ? -1 : h.max_level;
  index->enterpoint_node_ = slots == 0 ? static_cast<hnswlib::tableint>(-1) : h.entry_point;
}

void UndoPartialLoad(HnswIndex* index, uint64_t slots) {
  for (uint64_t i = index->cur_element_count; i < slots; ++i) index->element_levels_[i] = 0;
}

}  // namespace shoal
