// native/segment_file.cc
//
// Payload after the header, all little-endian:
//   layer 0      slots x (4 + 8M + 4 dim + 8) bytes, hnswlib's own block (links, vector, label)
//   levels       slots x int32, each element's top layer
//   upper lists  for each element with level > 0: level x (4 + 4M) bytes
// I/O goes through large reads and writes with a cancel check between chunks.
#include "segment_file.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <vector>

#include "crc32c.h"
#include "errors.h"
#include "hnswlib.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "segment files are little-endian");

namespace shoal {
namespace {

constexpr char kMagic[8] = {'S', 'H', 'O', 'A', 'L', 'S', 'E', 'G'};
constexpr uint32_t kFormatVersion = 1;
constexpr size_t kChunkBytes = 8u << 20;
// A load reads and checksums in steps this size, so the checksum reads bytes the read has
// just left in the core's cache (2 MiB of L2 per core here) instead of memory; a multiple of
// the checksum's 24 KiB block.
constexpr size_t kLoadStepBytes = 768u << 10;

#pragma pack(push, 1)
struct FileHeader {
  char magic[8];
  uint32_t version;
  uint32_t header_bytes;
  uint32_t dim;
  uint32_t space;
  uint32_t m;
  uint32_t ef_construction;
  uint64_t slots_used;
  uint64_t deleted_count;
  uint64_t capacity;
  int32_t max_level;
  uint32_t entry_point;
  uint64_t payload_bytes;
  uint32_t payload_crc;
  uint32_t reserved0;
  uint64_t seed;
  uint8_t reserved[32];
  uint32_t reserved1;
  uint32_t header_crc;  // CRC-32C of every byte before it
};
#pragma pack(pop)
static_assert(sizeof(FileHeader) == 128, "the header is 128 bytes");

std::string Str(uint64_t v) { return std::to_string(v); }

[[noreturn]] void ThrowIo(const std::string& path, const char* what) {
  throw Failure(ErrorCode::kIo, path + ": " + what + " failed: " + std::strerror(errno));
}

[[noreturn]] void ThrowCorrupt(const std::string& path, const std::string& why) {
  throw Failure(ErrorCode::kCorrupt, path + ": not a valid segment file: " + why);
}

class Fd {
 public:
  Fd(const std::string& path, int flags, mode_t mode = 0644) : path_(path) {
    fd_ = ::open(path.c_str(), flags | O_CLOEXEC, mode);
    if (fd_ < 0) ThrowIo(path, "open");
  }
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;

  int get() const { return fd_; }

  // Reads exactly `size` bytes; returns false at end of file before that.
  bool ReadAll(void* data, size_t size) {
    char* p = static_cast<char*>(data);
    while (size > 0) {
      ssize_t got = ::read(fd_, p, std::min(size, kChunkBytes));
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) ThrowIo(path_, "read");
      if (got == 0) return false;
      p += got;
      size -= static_cast<size_t>(got);
    }
    return true;
  }

  void WriteAll(const void* data, size_t size) {
    const char* p = static_cast<const char*>(data);
    while (size > 0) {
      ssize_t put = ::write(fd_, p, std::min(size, kChunkBytes));
      if (put < 0 && errno == EINTR) continue;
      if (put < 0) ThrowIo(path_, "write");
      p += put;
      size -= static_cast<size_t>(put);
    }
  }

  void Sync() {
    if (::fsync(fd_) != 0) ThrowIo(path_, "fsync");
  }

  void Close() {
    int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) ThrowIo(path_, "close");
  }

 private:
  std::string path_;
  int fd_ = -1;
};

size_t SlotBytes(uint32_t dim, uint32_t m) { return 4 + 8ull * m + 4ull * dim + 8; }

// Checks the fields the payload size depends on and everything the loader will trust.
void CheckHeader(const std::string& path, const FileHeader& h, uint64_t file_bytes) {
  if (h.header_bytes != sizeof(FileHeader)) ThrowCorrupt(path, "header size is wrong");
  if (Crc32cExtend(0, &h, offsetof(FileHeader, header_crc)) != h.header_crc) {
    ThrowCorrupt(path, "header checksum mismatch");
  }
  SegmentSpec spec;
  spec.dim = h.dim;
  spec.space = static_cast<SpaceKind>(h.space);
  spec.m = h.m;
  spec.ef_construction = h.ef_construction;
  spec.capacity = h.capacity;
  try {
    CheckSpec(spec);
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

FileHeader ReadHeader(Fd& fd, const std::string& path, uint64_t* file_bytes) {
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) ThrowIo(path, "stat");
  *file_bytes = static_cast<uint64_t>(st.st_size);
  FileHeader h;
  std::memset(&h, 0, sizeof h);
  const size_t have = static_cast<size_t>(std::min<uint64_t>(*file_bytes, sizeof h));
  if (!fd.ReadAll(&h, have)) ThrowIo(path, "read");
  if (have < sizeof h.magic || std::memcmp(h.magic, kMagic, sizeof kMagic) != 0) {
    throw Failure(ErrorCode::kNotASegment,
                  path + ": not a shoal segment file (expected the magic bytes SHOALSEG)");
  }
  if (have >= offsetof(FileHeader, header_bytes) && h.version != kFormatVersion) {
    throw Failure(ErrorCode::kUnsupportedVersion,
                  path + ": segment file format version " + Str(h.version) +
                      " is not supported (this build reads version " + Str(kFormatVersion) + ")",
                  {{"version", static_cast<double>(h.version)},
                   {"supported", static_cast<double>(kFormatVersion)}});
  }
  if (have < sizeof h) {
    throw Failure(ErrorCode::kCorrupt,
                  path + ": truncated segment file: " + Str(*file_bytes) +
                      " bytes, shorter than the 128-byte header",
                  {{"actualBytes", static_cast<double>(*file_bytes)}});
  }
  CheckHeader(path, h, *file_bytes);
  return h;
}

// Reads `size` bytes into `data` in steps, extending `crc` over each step as it arrives and
// checking `cancel` between steps.
void ReadPayload(Fd& fd, const std::string& path, void* data, size_t size, uint32_t* crc,
                 const CancelFlag& cancel, size_t* done, size_t total) {
  char* p = static_cast<char*>(data);
  while (size > 0) {
    cancel.ThrowIfSet("load", *done, total);
    const size_t step = std::min(size, kLoadStepBytes);
    if (!fd.ReadAll(p, step)) ThrowCorrupt(path, "payload ends early");
    *crc = Crc32cExtend(*crc, p, step);
    p += step;
    size -= step;
    *done += step;
  }
}

// What the layer-0 scan found: the first damage (reported only once the checksum has
// matched, so a damaged file is reported as such rather than by its first symptom), and
// whether a label came twice. Deleted flags are counted by MapLabels, in hnswlib's own counter.
struct Layer0Scan {
  const char* damage = nullptr;
  bool duplicate_label = false;
};

// Checks the layer-0 slots [first, end) so that a search over them cannot read outside the
// index even when a damaged file has a matching checksum. Runs on each read step while its
// bytes are still in the core's cache; records damage instead of throwing.
void CheckLayer0(const Segment::Index& index, uint64_t first, uint64_t end, uint64_t slots,
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

// Enters the labels of slots [first, end) in the label map and the deleted set. Allocates
// (call inside the segment's ChargeScope); a label already in the map is damage, recorded.
void MapLabels(Segment::Index* index, uint64_t first, uint64_t end, Layer0Scan* scan) {
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

// Checks what the layer-0 scan cannot see: the entry point, every element's level, and the
// upper-layer lists (from the payload buffer). Allocates nothing.
void CheckUpperLayers(const std::string& path, const Segment::Index& index, const FileHeader& h,
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

// An empty index as hnswlib 0.8.0's sizing constructor (hnswalg.h) sets it up, minus the
// per-label lock table: that constructor always allocates and zeroes the 2.6 MB table, which
// a loaded segment only needs at its first write (segment.h). hnswlib's one-argument
// constructor allocates nothing; every field its sizing constructor sets is set here.
std::unique_ptr<Segment::Index> NewIndexWithoutLabelLocks(Space* space, const SegmentSpec& spec) {
  using hnswlib::labeltype;
  using hnswlib::linklistsizeint;
  using hnswlib::tableint;
  auto index = std::make_unique<Segment::Index>(space);
  Segment::Index& x = *index;
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

// Maps in the pages `size` bytes at `data` will be read into, in one call, instead of taking a
// page fault per 4 KiB during the read (a large block from malloc is fresh, untouched mmap
// memory). Only whole pages inside the block; a kernel without MADV_POPULATE_WRITE (before
// Linux 5.14) simply faults them in as before.
void PrefaultForWrite(void* data, size_t size) {
#if defined(MADV_POPULATE_WRITE)
  const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(data) + page - 1) & ~(page - 1);
  const uintptr_t end = (reinterpret_cast<uintptr_t>(data) + size) & ~(page - 1);
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_POPULATE_WRITE);
#else
  (void)data;
  (void)size;
#endif
}

std::string DirectoryOf(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string TempPathFor(const std::string& path) {
  static std::atomic<uint64_t> counter{0};
  return path + ".tmp-" + Str(static_cast<uint64_t>(::getpid())) + "-" +
         Str(counter.fetch_add(1));
}

}  // namespace

SegmentFileSummary ReadSegmentFileSummary(const std::string& path) {
  Fd fd(path, O_RDONLY);
  uint64_t file_bytes = 0;
  const FileHeader h = ReadHeader(fd, path, &file_bytes);
  SegmentFileSummary s{};
  s.spec.dim = h.dim;
  s.spec.space = static_cast<SpaceKind>(h.space);
  s.spec.m = h.m;
  s.spec.ef_construction = h.ef_construction;
  s.spec.capacity = h.capacity;
  s.spec.seed = h.seed;
  s.format_version = h.version;
  s.element_count = h.slots_used - h.deleted_count;
  s.deleted_count = h.deleted_count;
  s.file_bytes = file_bytes;
  return s;
}

std::shared_ptr<Segment> LoadSegmentFile(const std::string& path, uint64_t min_capacity,
                                         const CancelFlag& cancel) {
  Fd fd(path, O_RDONLY);
  uint64_t file_bytes = 0;
  const FileHeader h = ReadHeader(fd, path, &file_bytes);

  SegmentSpec spec;
  spec.dim = h.dim;
  spec.space = static_cast<SpaceKind>(h.space);
  spec.m = h.m;
  spec.ef_construction = h.ef_construction;
  // 0 keeps the saved capacity; otherwise exactly what was asked, but never below the slots in use.
  spec.capacity = min_capacity == 0 ? h.capacity : std::max<uint64_t>({h.slots_used, min_capacity, 1});
  spec.seed = h.seed;
  CheckSpec(spec);

  const uint64_t slots = h.slots_used;
  const size_t slot_bytes = SlotBytes(h.dim, h.m);
  const size_t upper_bytes = h.payload_bytes - slots * (slot_bytes + 4);
  const size_t total = h.payload_bytes;
  std::vector<int32_t> levels(slots);
  std::vector<char> upper(upper_bytes);

  auto account = std::make_unique<AllocAccount>();
  std::unique_ptr<Space> space;
  std::unique_ptr<Segment::Index> index;
  // Only allocation happens inside ChargeScope; reading and every check that can fail with a
  // message run outside it (see the rule in accounting.h).
  try {
    {
      ChargeScope scope(account.get());
      space = std::make_unique<Space>(spec.space, spec.dim);
      index = NewIndexWithoutLabelLocks(space.get(), spec);
    }
    if (index->size_data_per_element_ != slot_bytes) ThrowCorrupt(path, "slot size mismatch");

    uint32_t crc = 0;
    size_t done = 0;
    PrefaultForWrite(index->data_level0_memory_, slots * slot_bytes);
    // Layer 0 arrives in steps of whole slots; each step is checked and its labels mapped
    // while its bytes are still in cache, instead of in a second pass over the whole block.
    Layer0Scan scan;
    {
      ChargeScope scope(account.get());
      index->label_lookup_.reserve(slots);
    }
    const uint64_t step_slots = std::max<uint64_t>(1, kLoadStepBytes / slot_bytes);
    for (uint64_t first = 0; first < slots; first += step_slots) {
      const uint64_t end = std::min(slots, first + step_slots);
      ReadPayload(fd, path, index->data_level0_memory_ + first * slot_bytes,
                  (end - first) * slot_bytes, &crc, cancel, &done, total);
      CheckLayer0(*index, first, end, slots, &scan);
      ChargeScope scope(account.get());
      MapLabels(index.get(), first, end, &scan);
    }
    ReadPayload(fd, path, levels.data(), slots * 4, &crc, cancel, &done, total);
    ReadPayload(fd, path, upper.data(), upper_bytes, &crc, cancel, &done, total);
    if (crc != h.payload_crc) {
      throw Failure(ErrorCode::kCorrupt, path + ": payload checksum mismatch (the file is damaged)");
    }
    if (scan.damage != nullptr) ThrowCorrupt(path, scan.damage);
    if (scan.duplicate_label) ThrowCorrupt(path, "a label appears twice");
    if (index->num_deleted_ != h.deleted_count) {
      ThrowCorrupt(path, "deleted count does not match the elements");
    }
    CheckUpperLayers(path, *index, h, levels, upper);

    {
      ChargeScope scope(account.get());
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
  } catch (...) {
    ChargeScope scope(account.get());
    if (index != nullptr) {
      // Elements past cur_element_count have no upper lists yet; zero their levels so the
      // destructor frees exactly what was allocated.
      for (uint64_t i = index->cur_element_count; i < slots; ++i) index->element_levels_[i] = 0;
    }
    index.reset();
    space.reset();
    throw;
  }
  return std::make_shared<Segment>(spec, std::move(space), std::move(index), std::move(account));
}

void WriteSegmentFile(const std::string& path, const SegmentSpec& spec,
                      const Segment::Index& index, const CancelFlag& cancel) {
  const uint64_t slots = index.cur_element_count;
  const size_t slot_bytes = index.size_data_per_element_;
  const size_t list_bytes = index.size_links_per_element_;
  std::vector<char> upper;
  for (uint64_t i = 0; i < slots; ++i) {
    const int level = index.element_levels_[i];
    if (level > 0) {
      const char* list = index.linkLists_[i];
      upper.insert(upper.end(), list, list + list_bytes * static_cast<size_t>(level));
    }
  }

  FileHeader h;
  std::memset(&h, 0, sizeof h);
  std::memcpy(h.magic, kMagic, sizeof kMagic);
  h.version = kFormatVersion;
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
  h.payload_bytes = slots * (slot_bytes + 4) + upper.size();
  h.seed = spec.seed;

  const std::string temp = TempPathFor(path);
  try {
    Fd fd(temp, O_WRONLY | O_CREAT | O_TRUNC);
    fd.WriteAll(&h, sizeof h);  // rewritten below once the checksum is known
    uint32_t crc = 0;
    size_t done = 0;
    auto put = [&](const void* data, size_t size) {
      const char* p = static_cast<const char*>(data);
      while (size > 0) {
        cancel.ThrowIfSet("save", done, h.payload_bytes);
        const size_t step = std::min(size, kChunkBytes);
        crc = Crc32cExtend(crc, p, step);
        fd.WriteAll(p, step);
        p += step;
        size -= step;
        done += step;
      }
    };
    put(index.data_level0_memory_, slots * slot_bytes);
    put(index.element_levels_.data(), slots * 4);
    put(upper.data(), upper.size());
    h.payload_crc = crc;
    h.header_crc = Crc32cExtend(0, &h, offsetof(FileHeader, header_crc));
    if (::pwrite(fd.get(), &h, sizeof h, 0) != static_cast<ssize_t>(sizeof h)) {
      ThrowIo(temp, "write");
    }
    fd.Sync();
    fd.Close();
    if (::rename(temp.c_str(), path.c_str()) != 0) ThrowIo(path, "rename");
  } catch (...) {
    ::unlink(temp.c_str());
    throw;
  }
  Fd dir(DirectoryOf(path), O_RDONLY | O_DIRECTORY);
  dir.Sync();
}

}  // namespace shoal
