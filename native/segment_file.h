// native/segment_file.h
//
// shoal's segment file: a 128-byte header of its own (magic, format version, dim, space, M,
// efConstruction, counts, checksums) around hnswlib's graph and vectors. Files are written
// to a temporary name, fsynced, renamed over the target and the directory fsynced, so a
// crash leaves either the old file or the new one. Loading checks every header field, the
// payload checksum and the graph's structure before a segment is handed out.
// Layout: docs/file-format.md.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "segment.h"

namespace shoal {

struct SegmentFileSummary {
  SegmentSpec spec;          // spec.capacity is the capacity the segment was saved with
  uint32_t format_version;
  uint64_t element_count;    // live elements
  uint64_t deleted_count;
  uint64_t file_bytes;
};

// Reads and checks the header only (cheap: one 128-byte read). Throws kNotASegment,
// kUnsupportedVersion, kCorrupt or kIo.
SegmentFileSummary ReadSegmentFileSummary(const std::string& path);

// Loads a segment with `capacity` slots (0: the saved capacity; never fewer than the slots in
// use, so a reload can shed unused capacity). Throws as
// ReadSegmentFileSummary, plus kCorrupt for a truncated file, a checksum mismatch or a graph
// that does not hold together, and kAborted when cancelled. Nothing is left allocated on
// failure.
std::shared_ptr<Segment> LoadSegmentFile(const std::string& path, uint64_t capacity,
                                         const CancelFlag& cancel);

// Writes `index` to `path` atomically. The caller holds the segment lock (shared).
void WriteSegmentFile(const std::string& path, const SegmentSpec& spec,
                      const Segment::Index& index, const CancelFlag& cancel);

}  // namespace shoal
