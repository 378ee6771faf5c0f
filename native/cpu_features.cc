// native/cpu_features.cc -- see cpu_features.h.
#include "cpu_features.h"

#include <cstdint>

#if defined(SHOAL_X86_64)
#if defined(_MSC_VER) && !defined(__clang__)
#include <immintrin.h>
#include <intrin.h>
#else
#include <cpuid.h>
#endif
#elif defined(SHOAL_ARM64) && defined(__linux__)
#include <sys/auxv.h>
#endif

namespace shoal {
namespace {

#if defined(SHOAL_X86_64)

struct Regs {
  uint32_t eax, ebx, ecx, edx;
};

Regs CpuId(uint32_t leaf, uint32_t subleaf) {
  Regs r{};
#if defined(_MSC_VER) && !defined(__clang__)
  int out[4];
  __cpuidex(out, static_cast<int>(leaf), static_cast<int>(subleaf));
  r = {static_cast<uint32_t>(out[0]), static_cast<uint32_t>(out[1]), static_cast<uint32_t>(out[2]),
       static_cast<uint32_t>(out[3])};
#else
  __cpuid_count(leaf, subleaf, r.eax, r.ebx, r.ecx, r.edx);
#endif
  return r;
}

// Which register states the OS saves on a context switch (XCR0). Without it a CPU that has
// AVX still faults on the first YMM instruction.
uint64_t EnabledStates() {
#if defined(_MSC_VER) && !defined(__clang__)
  return _xgetbv(0);
#else
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<uint64_t>(hi) << 32) | lo;
#endif
}

CpuFeatures Detect() {
  CpuFeatures f;
  const uint32_t max_leaf = CpuId(0, 0).eax;
  if (max_leaf < 1) return f;
  const Regs l1 = CpuId(1, 0);
  f.sse42 = (l1.ecx >> 20) & 1;
  f.pclmul = (l1.ecx >> 1) & 1;
  const bool osxsave = (l1.ecx >> 27) & 1;
  const bool avx = (l1.ecx >> 28) & 1;
  const uint64_t xcr0 = osxsave ? EnabledStates() : 0;
  const bool ymm_saved = (xcr0 & 0x6) == 0x6;         // XMM and YMM
  const bool zmm_saved = ymm_saved && (xcr0 & 0xE0) == 0xE0;  // opmask, ZMM0-15 upper, ZMM16-31
  if (!(avx && ymm_saved) || max_leaf < 7) return f;
  const Regs l7 = CpuId(7, 0);
  f.fma = (l1.ecx >> 12) & 1;
  f.avx2 = (l7.ebx >> 5) & 1;
  f.avx512f = zmm_saved && ((l7.ebx >> 16) & 1);
  f.vpclmulqdq = (l7.ecx >> 10) & 1;
  return f;
}

#elif defined(SHOAL_ARM64)

CpuFeatures Detect() {
  CpuFeatures f;
  f.neon = true;
#if defined(__APPLE__)
  f.arm_crc32 = true;  // every Apple arm64 CPU is ARMv8.1 or later, where CRC32 is mandatory
#elif defined(__linux__)
  constexpr unsigned long kHwcapCrc32 = 1ul << 7;  // HWCAP_CRC32 in asm/hwcap.h
  f.arm_crc32 = (getauxval(AT_HWCAP) & kHwcapCrc32) != 0;
#endif
  return f;
}

#else

CpuFeatures Detect() { return CpuFeatures{}; }

#endif

}  // namespace

const CpuFeatures& Cpu() {
  static const CpuFeatures features = Detect();
  return features;
}

}  // namespace shoal
