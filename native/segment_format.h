// native/segment_format.h
//
// The bytes of a segment file, with no I/O: the 128-byte header (magic, format version, shape,
// counts, checksums) and the payload's translation to and from hnswlib's in-memory index,
// including every structural check a load makes before it trusts the graph. segment_file.cc
// moves these bytes to and from disk. Layout: docs/file-format.md.
//
// Payload after the header, all little-endian:
//   layer 0      slots x (4 + 8M + 4 dim + 8) bytes, hnswlib's own block (links, vector, label)
//   levels       slots x int32, each element's top layer
//   upper lists  for each element with level > 0: level x (4 + 4M) bytes
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "distance.h"
#include "segment_spec.h"

namespace shoal {

constexpr char kSegmentMagic[8] = {'S', 'H', 'O', 'A', 'L', 'S', 'E', 'G'};
constexpr uint32_t kSegmentFormatVersion = 1;

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

[[noreturn]] void ThrowCorrupt(const std::string& path, const std::string& why);

// Bytes of one layer-0 slot.
size_t SlotBytes(uint32_t dim, uint32_t m);

// Judges a header of which the first `have` bytes were read from a file of `file_bytes`:
// throws kNotASegment (magic), kUnsupportedVersion, or kCorrupt (short, checksum, fields
// out of range, sizes that disagree with the file's).
void CheckHeader(const std::string& path, const FileHeader& h, size_t have, uint64_t file_bytes);

// The spec a checked header describes; its capacity is the saved one.
SegmentSpec SpecOfHeader(const FileHeader& h);

// The header for `index`, complete but for the payload checksum and the header checksum
// (SealHeader). `upper_bytes` is the size of CollectUpperLists' output.
FileHeader EncodeHeader(const SegmentSpec& spec, const HnswIndex& index, size_t upper_bytes);
void SealHeader(FileHeader* h, uint32_t payload_crc);

// Every element's upper-layer lists, in slot order: the payload's last part.
std::vector<char> CollectUpperLists(const HnswIndex& index);

// An empty index as hnswlib's sizing constructor builds it, minus the per-label lock table
// (segment.h says why). Allocates: call inside the segment's ChargeScope.
std::unique_ptr<HnswIndex> NewIndexWithoutLabelLocks(Space* space, const SegmentSpec& spec);

// What the layer-0 scan found: the first damage (reported only once the checksum has
// matched, so a damaged file is reported as such rather than by its first symptom), and
// whether a label came twice. Deleted flags are counted by MapLabels, in hnswlib's own counter.
struct Layer0Scan {
  const char* damage = nullptr;
  bool duplicate_label = false;
};

// Checks the layer-0 slots [first, end) so that a search over them cannot read outside the
// index even when a damaged file has a matching checksum; records damage instead of throwing.
void CheckLayer0(const HnswIndex& index, uint64_t first, uint64_t end, uint64_t slots,
                 Layer0Scan* scan);

// Enters the labels of slots [first, end) in the label map and the deleted set. Allocates
// (call inside the segment's ChargeScope); a label already in the map is damage, recorded.
void MapLabels(HnswIndex* index, uint64_t first, uint64_t end, Layer0Scan* scan);

// Checks what the layer-0 scan cannot see: the entry point, every element's level, and the
// upper-layer lists (from the payload buffer). Allocates nothing.
void CheckUpperLayers(const std::string& path, const HnswIndex& index, const FileHeader& h,
                      const std::vector<int32_t>& levels, const std::vector<char>& upper);

// Copies the checked upper-layer lists into the index and sets its element count, levels and
// entry point. Allocates (call inside the segment's ChargeScope); on failure the index's
// cur_element_count says how many elements hold lists (UndoPartialLoad relies on it).
void InstallUpperLists(HnswIndex* index, const FileHeader& h, const std::vector<int32_t>& levels,
                       const std::vector<char>& upper);

// Makes a partly loaded index safe to destroy: elements without upper lists get level 0, so
// the destructor frees exactly what was allocated.
void UndoPartialLoad(HnswIndex* index, uint64_t slots);

}  // namespace shoal
