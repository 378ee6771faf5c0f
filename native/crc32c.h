// native/crc32c.h
//
// CRC-32C (Castagnoli), the checksum of segment files. Uses the SSE4.2 instruction when the
// CPU has it (several GB/s, so checksumming does not slow a reload) and a table otherwise.
#pragma once

#include <cstddef>
#include <cstdint>

namespace shoal {

// Extends `crc` (0 for a fresh checksum) over `size` bytes.
uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t size);

}  // namespace shoal
