// native/distance.h
//
// Distance kernels and the hnswlib spaces built on them. Kernels are chosen once per process
// from what the CPU offers (AVX-512, AVX2+FMA, NEON on arm64, else portable code), so one binary built for baseline
// x86-64 still runs everywhere and is fast where it can be. hnswlib's own spaces pick SIMD at
// compile time (SSE only with node-gyp's default flags), which is why shoal has its own.
// Does not own: normalisation policy for cosine (segment.cc normalises before calling).
#pragma once

#include <cstddef>
#include <cstdint>

#include "hnswlib.h"

namespace shoal {

enum class SpaceKind : uint32_t { kL2 = 0, kInnerProduct = 1, kCosine = 2 };

enum class KernelLevel { kPortable, kAvx2Fma, kAvx512, kNeon };

using DistanceFn = float (*)(const void* a, const void* b, const void* dim_param);

// The best level this CPU supports. SHOAL_SIMD=<name> caps it (for tests and benchmarks):
// the best supported level at or below the one named.
KernelLevel ActiveKernelLevel();
// Whether this build and CPU can run `level` (AVX levels only on x86-64, NEON only on arm64).
bool KernelSupported(KernelLevel level);
// "portable", "avx2-fma", "avx512", "neon".
const char* KernelLevelName(KernelLevel level);
// The level with this name, or nullptr.
const KernelLevel* ParseKernelLevel(const char* name);

// Squared Euclidean distance. Matches hnswlib's L2Space.
DistanceFn L2SquaredKernel(KernelLevel level);
// 1 - dot(a, b). Matches hnswlib's InnerProductSpace; cosine is this on unit vectors.
DistanceFn InnerProductKernel(KernelLevel level);

// One metric for hnswlib: data size, the kernel, and the dimension it reads through its param.
class Space final : public hnswlib::SpaceInterface<float> {
 public:
  Space(SpaceKind kind, size_t dim);

  size_t get_data_size() override { return dim_ * sizeof(float); }
  hnswlib::DISTFUNC<float> get_dist_func() override { return fn_; }
  void* get_dist_func_param() override { return &dim_; }

  float Distance(const float* a, const float* b) const { return fn_(a, b, &dim_); }
  SpaceKind kind() const { return kind_; }

 private:
  SpaceKind kind_;
  size_t dim_;
  DistanceFn fn_;
};

// Scales v (length dim) to unit length in place. Returns false for a zero or non-finite norm.
bool NormalizeInPlace(float* v, size_t dim);

}  // namespace shoal
