// native/segment_file.cc
//
// Moves segment-file bytes (segment_format.h) to and from disk: large reads and writes with a
// cancel check between chunks, the payload checksum extended as the bytes pass, the atomic
// temp-file-and-rename save.
#include "segment_file.h"

#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif

#include <algorithm>
#include <atomic>
#include <cstring>
#include <vector>

#include "crc32c.h"
#include "errors.h"
#include "hnswlib.h"
#include "os_file.h"
#include "segment_format.h"

namespace shoal {
namespace {

// A save checksums and writes in steps this size, checking for cancellation between them.
constexpr size_t kChunkBytes = 8u << 20;
// A load reads and checksums in steps this size, so the checksum reads bytes the read has
// just left in the core's cache (2 MiB of L2 per core here) instead of memory; a multiple of
// the checksum's 24 KiB block.
constexpr size_t kLoadStepBytes = 768u << 10;

std::string Str(uint64_t v) { return std::to_string(v); }

FileHeader ReadHeader(OsFile& fd, const std::string& path, uint64_t* file_bytes) {
  *file_bytes = fd.Size();
  FileHeader h;
  std::memset(&h, 0, sizeof h);
  const size_t have = static_cast<size_t>(std::min<uint64_t>(*file_bytes, sizeof h));
  if (!fd.ReadAll(&h, have)) {
    throw Failure(ErrorCode::kIo, path + ": read failed: the file shrank while it was read");
  }
  CheckHeader(path, h, have, *file_bytes);
  return h;
}

// Reads `size` bytes into `data` in steps, extending `crc` over each step as it arrives and
// checking `cancel` between steps.
void ReadPayload(OsFile& fd, const std::string& path, void* data, size_t size, uint32_t* crc,
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

// Maps in the pages `size` bytes at `data` will be read into, in one call, instead of taking a
// page fault per 4 KiB during the read (a large block from malloc is fresh, untouched mmap
// memory). Only whole pages inside the block; a kernel without MADV_POPULATE_WRITE (before
// Linux 5.14) simply faults them in as before. The constant is Linux's own, named here for C
// libraries whose headers predate it (the prebuilt binary is built against glibc 2.28).
#if defined(__linux__) && !defined(MADV_POPULATE_WRITE)
#define MADV_POPULATE_WRITE 23
#endif
void PrefaultForWrite(void* data, size_t size) {
#if defined(__linux__)
  const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(data) + page - 1) & ~(page - 1);
  const uintptr_t end = (reinterpret_cast<uintptr_t>(data) + size) & ~(page - 1);
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_POPULATE_WRITE);
#else
  (void)data;
  (void)size;
#endif
}

std::string TempPathFor(const std::string& path) {
  static std::atomic<uint64_t> counter{0};
  return path + ".tmp-" + Str(CurrentProcessId()) + "-" +
         Str(counter.fetch_add(1));
}

}  // namespace

SegmentFileSummary ReadSegmentFileSummary(const std::string& path) {
  OsFile fd(path, OsFile::Mode::kRead);
  uint64_t file_bytes = 0;
  const FileHeader h = ReadHeader(fd, path, &file_bytes);
  SegmentFileSummary s{};
  s.spec = SpecOfHeader(h);
  s.format_version = h.version;
  s.element_count = h.slots_used - h.deleted_count;
  s.deleted_count = h.deleted_count;
  s.file_bytes = file_bytes;
  return s;
}

LoadedIndex LoadSegmentFile(const std::string& path, uint64_t min_capacity,
                            const CancelFlag& cancel) {
  OsFile fd(path, OsFile::Mode::kRead);
  uint64_t file_bytes = 0;
  const FileHeader h = ReadHeader(fd, path, &file_bytes);

  SegmentSpec spec = SpecOfHeader(h);
  // 0 keeps the saved capacity; otherwise exactly what was asked, but never below the slots in use.
  if (min_capacity != 0) spec.capacity = std::max<uint64_t>({h.slots_used, min_capacity, 1});
  CheckSpec(spec);

  const uint64_t slots = h.slots_used;
  const size_t slot_bytes = SlotBytes(h.dim, h.m);
  const size_t upper_bytes = h.payload_bytes - slots * (slot_bytes + 4);
  const size_t total = h.payload_bytes;
  std::vector<int32_t> levels(slots);
  std::vector<char> upper(upper_bytes);

  LoadedIndex out;
  out.spec = spec;
  out.account = std::make_unique<AllocAccount>();
  AllocAccount* account = out.account.get();
  // Only allocation happens inside ChargeScope; reading and every check that can fail with a
  // message run outside it (see the rule in accounting.h).
  try {
    {
      ChargeScope scope(account);
      out.space = std::make_unique<Space>(spec.space, spec.dim);
      out.index = NewIndexWithoutLabelLocks(out.space.get(), spec);
    }
    HnswIndex* index = out.index.get();
    if (index->size_data_per_element_ != slot_bytes) ThrowCorrupt(path, "slot size mismatch");

    uint32_t crc = 0;
    size_t done = 0;
    PrefaultForWrite(index->data_level0_memory_, slots * slot_bytes);
    // Layer 0 arrives in steps of whole slots; each step is checked and its labels mapped
    // while its bytes are still in cache, instead of in a second pass over the whole block.
    Layer0Scan scan;
    {
      ChargeScope scope(account);
      index->label_lookup_.reserve(slots);
    }
    const uint64_t step_slots = std::max<uint64_t>(1, kLoadStepBytes / slot_bytes);
    for (uint64_t first = 0; first < slots; first += step_slots) {
      const uint64_t end = std::min(slots, first + step_slots);
      ReadPayload(fd, path, index->data_level0_memory_ + first * slot_bytes,
                  (end - first) * slot_bytes, &crc, cancel, &done, total);
      CheckLayer0(*index, first, end, slots, &scan);
      ChargeScope scope(account);
      MapLabels(index, first, end, &scan);
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

    ChargeScope scope(account);
    InstallUpperLists(index, h, levels, upper);
  } catch (...) {
    ChargeScope scope(account);
    if (out.index != nullptr) UndoPartialLoad(out.index.get(), slots);
    out.index.reset();
    out.space.reset();
    throw;
  }
  return out;
}

void WriteSegmentFile(const std::string& path, const SegmentSpec& spec, const HnswIndex& index,
                      const CancelFlag& cancel) {
  const uint64_t slots = index.cur_element_count;
  const size_t slot_bytes = index.size_data_per_element_;
  const std::vector<char> upper = CollectUpperLists(index);
  FileHeader h = EncodeHeader(spec, index, upper.size());

  const std::string temp = TempPathFor(path);
  try {
    OsFile fd(temp, OsFile::Mode::kCreateTruncate);
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
    SealHeader(&h, crc);
    fd.WriteAt(0, &h, sizeof h);
    fd.Sync();
    fd.Close();
    ReplaceFileAtomically(temp, path);
  } catch (...) {
    RemoveFileQuietly(temp);
    throw;
  }
  SyncDirectoryOf(path);
}

}  // namespace shoal
