// native/crc32c.cc
#include "crc32c.h"

#include <nmmintrin.h>

#include <array>
#include <cstring>

namespace shoal {
namespace {

constexpr uint32_t kPolynomial = 0x82F63B78u;  // CRC-32C, reflected

std::array<uint32_t, 256> MakeTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int bit = 0; bit < 8; ++bit) c = (c & 1) ? (c >> 1) ^ kPolynomial : c >> 1;
    table[i] = c;
  }
  return table;
}

uint32_t ExtendPortable(uint32_t crc, const uint8_t* p, size_t size) {
  static const std::array<uint32_t, 256> table = MakeTable();
  for (size_t i = 0; i < size; ++i) crc = table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
  return crc;
}

// Multiplies two polynomials modulo the CRC-32C polynomial, in the reflected representation
// (bit 31 holds x^0, bit 0 holds x^31). Multiplying by x is a right shift, and x^32 folds back
// to the polynomial's low terms.
uint32_t MultiplyModP(uint32_t a, uint32_t b) {
  uint32_t product = 0;
  for (uint32_t bit = 1u << 31; bit != 0; bit >>= 1) {
    if (a & bit) product ^= b;
    b = (b & 1) ? (b >> 1) ^ kPolynomial : b >> 1;
  }
  return product;
}

// x^(8 * bytes) modulo the polynomial: what appending `bytes` zero bytes multiplies a CRC
// register by.
uint32_t ZeroBytesOperator(uint64_t bytes) {
  uint32_t result = 1u << 31;  // x^0
  uint32_t power = 1u << 30;   // x^1, squared up to x^(2^i)
  for (uint64_t e = 8 * bytes; e != 0; e >>= 1) {
    if (e & 1) result = MultiplyModP(result, power);
    power = MultiplyModP(power, power);
  }
  return result;
}

__attribute__((target("sse4.2"))) uint64_t ExtendWords(uint64_t c, const uint8_t* p,
                                                       size_t words) {
  for (size_t i = 0; i < words; ++i) {
    uint64_t word;
    std::memcpy(&word, p + 8 * i, 8);
    c = _mm_crc32_u64(c, word);
  }
  return c;
}

// The crc32 instruction has a latency of three cycles and a throughput of one per cycle, so
// one dependency chain runs at a third of its speed. Blocks of three lanes are checksummed as
// three independent chains and joined with the zero-bytes operator: a CRC register is linear,
// so crc(A B C) = crc(A)·x^(8·2L) + crc(B)·x^(8·L) + crc(C) with B and C started from zero.
constexpr size_t kLaneBytes = 8192;

__attribute__((target("sse4.2"))) uint32_t ExtendHardware(uint32_t crc, const uint8_t* p,
                                                          size_t size) {
  static const uint32_t shift_one_lane = ZeroBytesOperator(kLaneBytes);
  static const uint32_t shift_two_lanes = ZeroBytesOperator(2 * kLaneBytes);
  uint64_t c = crc;
  while (size >= 3 * kLaneBytes) {
    uint64_t a = c;
    uint64_t b = 0;
    uint64_t d = 0;
    for (size_t i = 0; i < kLaneBytes; i += 8) {
      uint64_t wa, wb, wd;
      std::memcpy(&wa, p + i, 8);
      std::memcpy(&wb, p + kLaneBytes + i, 8);
      std::memcpy(&wd, p + 2 * kLaneBytes + i, 8);
      a = _mm_crc32_u64(a, wa);
      b = _mm_crc32_u64(b, wb);
      d = _mm_crc32_u64(d, wd);
    }
    c = MultiplyModP(static_cast<uint32_t>(a), shift_two_lanes) ^
        MultiplyModP(static_cast<uint32_t>(b), shift_one_lane) ^ static_cast<uint32_t>(d);
    p += 3 * kLaneBytes;
    size -= 3 * kLaneBytes;
  }
  c = ExtendWords(c, p, size / 8);
  p += size & ~static_cast<size_t>(7);
  size &= 7;
  uint32_t c32 = static_cast<uint32_t>(c);
  while (size > 0) {
    c32 = _mm_crc32_u8(c32, *p++);
    --size;
  }
  return c32;
}

bool HasHardwareCrc() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("sse4.2");
}

}  // namespace

uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t size) {
  static const bool hardware = HasHardwareCrc();
  const uint8_t* p = static_cast<const uint8_t*>(data);
  crc = ~crc;
  crc = hardware ? ExtendHardware(crc, p, size) : ExtendPortable(crc, p, size);
  return ~crc;
}

}  // namespace shoal
