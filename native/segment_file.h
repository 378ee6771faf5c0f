// native/segment_file.h
//
// Segment files on disk: reading and writing them, streaming the payload checksum, cancel
// checks between chunks. Files are written to a temporary name, fsynced, renamed over the
// target and the directory fsynced, so a crash leaves either the old file or the new one.
// Loading checks every header field, the payload checksum and the graph's structure before
// the index is handed out. What the bytes mean is segment_format.h's; building a Segment
// around a loaded index is segment.cc's (Segment::Load), so this layer never needs segment.h.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "accounting.h"
#include "distance.h"
#include "segment_spec.h"

namespace shoal {

struct SegmentFileSummary {
  SegmentSpec spec;          // spec.capacity is the capacity the segment was saved with
  uint32_t format_version;
  uint64_t element_count;    // live elements
  uint64_t deleted_count;
  uint64_t file_bytes;
};

// A loaded index and what it needs to live; the account has been charged for the space and
// the index. Members are declared so that the index goes first and the account last.
struct LoadedIndex {
  SegmentSpec spec;
  std::unique_ptr<AllocAccount> account;
  std::unique_ptr<Space> space;
  std::unique_ptr<HnswIndex> index;
};

// Reads and checks the header only (cheap: one 128-byte read). Throws kNotASegment,
// kUnsupportedVersion, kCorrupt or kIo.
SegmentFileSummary ReadSegmentFileSummary(const std::string& path);

// Loads an index with `capacity` slots (0: the saved capacity; never fewer than the slots in
// use, so a reload can shed unused capacity). Throws as ReadSegmentFileSummary, plus kCorrupt
// for a truncated file, a checksum mismatch or a graph that does not hold together, and
// kAborted when cancelled. Nothing is left allocated on failure.
LoadedIndex LoadSegmentFile(const std::string& path, uint64_t capacity, const CancelFlag& cancel);

// Writes `index` to `path` atomically. The caller holds the segment lock (shared).
void WriteSegmentFile(const std::string& path, const SegmentSpec& spec, const HnswIndex& index,
                      const CancelFlag& cancel);

}  // namespace shoal
