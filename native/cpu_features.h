// native/cpu_features.h
//
// What the CPU this process runs on offers, read once, for the kernels that choose an
// implementation at run time (distance.cc, crc32c.cc). One binary built for a baseline CPU
// (x86-64 without AVX, ARMv8.0) must run everywhere and be fast where it can: the faster
// kernels are compiled with per-function target attributes (SHOAL_TARGET) and only called when
// the flags below say the CPU, and the OS that saves its registers, support them.
//
// Detection reads cpuid/xgetbv directly rather than __builtin_cpu_supports, which needs
// libgcc's or compiler-rt's CPU model tables (absent from some toolchains, such as MSVC) and
// does not exist for arm64; on arm64 Linux the kernel's HWCAP says whether the optional CRC32
// instructions exist, and every Apple arm64 CPU has them.
#pragma once

#if defined(__x86_64__) || defined(_M_X64)
#define SHOAL_X86_64 1
#elif defined(__aarch64__) || defined(_M_ARM64)
#define SHOAL_ARM64 1
#endif

// A function compiled for more than the baseline instruction set. MSVC compiles any
// intrinsic without one, so there it is empty.
#if defined(_MSC_VER) && !defined(__clang__)
#define SHOAL_TARGET(features)
#else
#define SHOAL_TARGET(features) __attribute__((target(features)))
#endif

namespace shoal {

struct CpuFeatures {
  // x86-64
  bool sse42 = false;
  bool pclmul = false;
  bool avx2 = false;
  bool fma = false;
  bool avx512f = false;     // with the OS saving ZMM state
  bool vpclmulqdq = false;  // VEX/EVEX carry-less multiply on 256/512-bit lanes
  // arm64
  bool neon = false;        // Advanced SIMD: part of every ARMv8-A CPU
  bool arm_crc32 = false;   // the optional (ARMv8.0) CRC32/CRC32C instructions
};

// Read on first use; the same for the life of the process.
const CpuFeatures& Cpu();

}  // namespace shoal
