// native/crc32c.cc
//
// Three kernels, chosen once per process: folding with carry-less multiplication (x86-64
// with AVX-512 and VPCLMULQDQ), the CRC32C instruction (SSE4.2 on x86-64, the ARMv8 CRC32
// extension on arm64) in three interleaved chains, and a table-driven portable loop. Each
// hardware kernel is compiled only for its architecture (cpu_features.h).
#include "crc32c.h"

#include "cpu_features.h"

#if defined(SHOAL_X86_64)
#include <immintrin.h>
#include <nmmintrin.h>
#elif defined(SHOAL_ARM64)
#include <arm_acle.h>
#endif

#include <array>
#include <cstdlib>
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

// x^n modulo the polynomial. x^(8 * bytes) is what appending `bytes` zero bytes multiplies
// a CRC register by.
uint32_t PowerOfX(uint64_t n) {
  uint32_t result = 1u << 31;  // x^0
  uint32_t power = 1u << 30;   // x^1, squared up to x^(2^i)
  for (; n != 0; n >>= 1) {
    if (n & 1) result = MultiplyModP(result, power);
    power = MultiplyModP(power, power);
  }
  return result;
}

// The crc32 instruction has a latency of three cycles and a throughput of one per cycle, so
// one dependency chain runs at a third of its speed. Blocks of three lanes are checksummed as
// three independent chains and joined by multiplying with powers of x: a CRC register is linear,
// so crc(A B C) = crc(A)·x^(8·2L) + crc(B)·x^(8·L) + crc(C) with B and C started from zero.
constexpr size_t kLaneBytes = 8192;

// The folding kernel's step (x86-64 only; elsewhere HasFolding() is false).
constexpr size_t kFoldStepBytes = 256;

// Joins three lane CRCs computed from zero (b, d) and from the running CRC (a).
inline uint32_t JoinLanes(uint32_t a, uint32_t b, uint32_t d) {
  static const uint32_t shift_one_lane = PowerOfX(8 * kLaneBytes);
  static const uint32_t shift_two_lanes = PowerOfX(16 * kLaneBytes);
  return MultiplyModP(a, shift_two_lanes) ^ MultiplyModP(b, shift_one_lane) ^ d;
}

#if defined(SHOAL_X86_64)

SHOAL_TARGET("sse4.2,crc32") uint64_t ExtendWords(uint64_t c, const uint8_t* p,
                                                       size_t words) {
  for (size_t i = 0; i < words; ++i) {
    uint64_t word;
    std::memcpy(&word, p + 8 * i, 8);
    c = _mm_crc32_u64(c, word);
  }
  return c;
}


SHOAL_TARGET("sse4.2,crc32") uint32_t ExtendHardware(uint32_t crc, const uint8_t* p,
                                                          size_t size) {
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
    c = JoinLanes(static_cast<uint32_t>(a), static_cast<uint32_t>(b), static_cast<uint32_t>(d));
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

// Folding with carry-less multiplication, 256 bytes per step in four 512-bit accumulators
// (VPCLMULQDQ runs on all four 128-bit lanes of each at once, against the crc32
// instruction's 8 bytes per cycle). A 16-byte lane is the polynomial Lo·x^64 + Hi, Lo being
// its first 8 bytes; carried D bits further on, it is congruent to Lo·(x^(64+D) mod P) +
// Hi·(x^D mod P), at most 96 bits, which is XORed into the lane D bits ahead. A reflected
// carry-less product comes out multiplied by x^33 relative to a 128-bit lane (64 + 32 bits
// of operands make 95, and a lane has 128), so the constants are x^(D+31) and x^(D-33).
// What is left at the end is a 16-byte lane congruent to the whole message, whose CRC the
// crc32 instruction then takes; the starting CRC goes into the message's first 4 bytes.
struct FoldConstants {
  explicit FoldConstants(uint64_t bits)
      : lo(static_cast<int64_t>(PowerOfX(bits + 31))), hi(static_cast<int64_t>(PowerOfX(bits - 33))) {}
  int64_t lo;  // multiplies a lane's first 8 bytes
  int64_t hi;  // multiplies its last 8
};

SHOAL_TARGET("avx512f") inline __m512i Broadcast(const FoldConstants& k) {
  return _mm512_set_epi64(k.hi, k.lo, k.hi, k.lo, k.hi, k.lo, k.hi, k.lo);
}

inline __m128i AsLane(const FoldConstants& k) { return _mm_set_epi64x(k.hi, k.lo); }

SHOAL_TARGET("avx512f,vpclmulqdq,sse4.2,crc32") inline __m512i Fold512(__m512i acc, __m512i k,
                                                                             __m512i next) {
  const __m512i lo = _mm512_clmulepi64_epi128(acc, k, 0x00);
  const __m512i hi = _mm512_clmulepi64_epi128(acc, k, 0x11);
  return _mm512_ternarylogic_epi64(lo, hi, next, 0x96);  // lo ^ hi ^ next
}

SHOAL_TARGET("avx512f,vpclmulqdq,pclmul,sse4.2,crc32") inline __m128i Fold128(__m128i acc, __m128i k,
                                                                                    __m128i next) {
  return _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(acc, k, 0x00), _mm_clmulepi64_si128(acc, k, 0x11)), next);
}

// Extends `crc` over the largest multiple of 256 bytes in `size` (at least 512); returns the
// bytes consumed through *consumed.
SHOAL_TARGET("avx512f,vpclmulqdq,pclmul,sse4.2,crc32") uint32_t ExtendFolding(uint32_t crc, const uint8_t* p,
                                                                                    size_t size, size_t* consumed) {
  static const FoldConstants k_step(8 * kFoldStepBytes);
  static const FoldConstants k_64(8 * 64);
  static const FoldConstants k_48(8 * 48);
  static const FoldConstants k_32(8 * 32);
  static const FoldConstants k_16(8 * 16);
  const size_t total = size - size % kFoldStepBytes;
  const uint8_t* const end = p + total;
  __m512i a0 = _mm512_loadu_si512(p);
  __m512i a1 = _mm512_loadu_si512(p + 64);
  __m512i a2 = _mm512_loadu_si512(p + 128);
  __m512i a3 = _mm512_loadu_si512(p + 192);
  a0 = _mm512_xor_si512(a0, _mm512_zextsi128_si512(_mm_cvtsi32_si128(static_cast<int>(crc))));
  const __m512i k = Broadcast(k_step);
  for (p += kFoldStepBytes; p < end; p += kFoldStepBytes) {
    a0 = Fold512(a0, k, _mm512_loadu_si512(p));
    a1 = Fold512(a1, k, _mm512_loadu_si512(p + 64));
    a2 = Fold512(a2, k, _mm512_loadu_si512(p + 128));
    a3 = Fold512(a3, k, _mm512_loadu_si512(p + 192));
  }
  const __m512i k64 = Broadcast(k_64);
  a1 = Fold512(a0, k64, a1);
  a2 = Fold512(a1, k64, a2);
  a3 = Fold512(a2, k64, a3);
  // Through memory: GCC 12's lane-extract intrinsics trip -Wuninitialized.
  alignas(64) __m128i lanes[4];
  _mm512_store_si512(lanes, a3);
  __m128i x = lanes[3];
  x = Fold128(lanes[0], AsLane(k_48), x);
  x = Fold128(lanes[1], AsLane(k_32), x);
  x = Fold128(lanes[2], AsLane(k_16), x);
  *consumed = total;
  uint64_t c = _mm_crc32_u64(0, static_cast<uint64_t>(_mm_cvtsi128_si64(x)));
  return static_cast<uint32_t>(_mm_crc32_u64(c, static_cast<uint64_t>(_mm_extract_epi64(x, 1))));
}

bool HasFolding() { return Cpu().avx512f && Cpu().vpclmulqdq && Cpu().sse42 && Cpu().pclmul; }

bool HasHardwareCrc() { return Cpu().sse42; }

#elif defined(SHOAL_ARM64)

// The same three-chain scheme with the ARMv8 CRC32C instructions (also three cycles of
// latency on Cortex-A and Neoverse cores).
#if defined(_MSC_VER) && !defined(__clang__)
#define SHOAL_ARM_CRC
#else
#define SHOAL_ARM_CRC SHOAL_TARGET("arch=armv8-a+crc")
#endif

SHOAL_ARM_CRC uint32_t ExtendHardware(uint32_t crc, const uint8_t* p, size_t size) {
  uint32_t c = crc;
  while (size >= 3 * kLaneBytes) {
    uint32_t a = c, b = 0, d = 0;
    for (size_t i = 0; i < kLaneBytes; i += 8) {
      uint64_t wa, wb, wd;
      std::memcpy(&wa, p + i, 8);
      std::memcpy(&wb, p + kLaneBytes + i, 8);
      std::memcpy(&wd, p + 2 * kLaneBytes + i, 8);
      a = __crc32cd(a, wa);
      b = __crc32cd(b, wb);
      d = __crc32cd(d, wd);
    }
    c = JoinLanes(a, b, d);
    p += 3 * kLaneBytes;
    size -= 3 * kLaneBytes;
  }
  for (; size >= 8; size -= 8, p += 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    c = __crc32cd(c, word);
  }
  for (; size > 0; --size) c = __crc32cb(c, *p++);
  return c;
}

bool HasHardwareCrc() { return Cpu().arm_crc32; }
bool HasFolding() { return false; }
uint32_t ExtendFolding(uint32_t crc, const uint8_t*, size_t, size_t* consumed) {
  *consumed = 0;
  return crc;
}

#else

bool HasHardwareCrc() { return false; }
bool HasFolding() { return false; }
uint32_t ExtendHardware(uint32_t crc, const uint8_t* p, size_t size) { return ExtendPortable(crc, p, size); }
uint32_t ExtendFolding(uint32_t crc, const uint8_t*, size_t, size_t* consumed) {
  *consumed = 0;
  return crc;
}

#endif

// SHOAL_CRC32C_KERNEL=crc32 or =portable caps the kernel below what the CPU has, so tests
// check every kernel on any machine.
bool KernelAllowed(const char* kernel) {
  const char* cap = std::getenv("SHOAL_CRC32C_KERNEL");
  if (cap == nullptr) return true;
  if (std::strcmp(cap, "portable") == 0) return false;
  if (std::strcmp(cap, "crc32") == 0) return std::strcmp(kernel, "crc32") == 0;
  return true;  // anything else: what the CPU has
}

}  // namespace

uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t size) {
  static const bool hardware = HasHardwareCrc() && KernelAllowed("crc32");
  static const bool folding = HasFolding() && KernelAllowed("folding");
  const uint8_t* p = static_cast<const uint8_t*>(data);
  crc = ~crc;
  if (folding && size >= 2 * kFoldStepBytes) {
    size_t consumed = 0;
    crc = ExtendFolding(crc, p, size, &consumed);
    p += consumed;
    size -= consumed;
  }
  crc = hardware ? ExtendHardware(crc, p, size) : ExtendPortable(crc, p, size);
  return ~crc;
}

}  // namespace shoal
