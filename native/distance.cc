// native/distance.cc
//
// Portable kernels use four independent accumulators so the compiler can keep them in
// registers without reassociating floating point; the AVX2 kernels process 16 floats per
// step in two FMA chains and fold the tail with scalar code, so any dimension works.
#include "distance.h"

#include <immintrin.h>

#include <cmath>
#include <cstdlib>
#include <cstring>

namespace shoal {
namespace {

inline size_t Dim(const void* param) { return *static_cast<const size_t*>(param); }

float L2Portable(const void* pa, const void* pb, const void* param) {
  const float* a = static_cast<const float*>(pa);
  const float* b = static_cast<const float*>(pb);
  const size_t n = Dim(param);
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const float d0 = a[i] - b[i], d1 = a[i + 1] - b[i + 1];
    const float d2 = a[i + 2] - b[i + 2], d3 = a[i + 3] - b[i + 3];
    s0 += d0 * d0;
    s1 += d1 * d1;
    s2 += d2 * d2;
    s3 += d3 * d3;
  }
  for (; i < n; ++i) {
    const float d = a[i] - b[i];
    s0 += d * d;
  }
  return (s0 + s1) + (s2 + s3);
}

float IpPortable(const void* pa, const void* pb, const void* param) {
  const float* a = static_cast<const float*>(pa);
  const float* b = static_cast<const float*>(pb);
  const size_t n = Dim(param);
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += a[i] * b[i];
    s1 += a[i + 1] * b[i + 1];
    s2 += a[i + 2] * b[i + 2];
    s3 += a[i + 3] * b[i + 3];
  }
  for (; i < n; ++i) s0 += a[i] * b[i];
  return 1.0f - ((s0 + s1) + (s2 + s3));
}

__attribute__((target("avx2,fma"))) inline float HorizontalSum(__m256 v) {
  __m128 lo = _mm256_castps256_ps128(v);
  __m128 hi = _mm256_extractf128_ps(v, 1);
  lo = _mm_add_ps(lo, hi);
  __m128 shuf = _mm_movehdup_ps(lo);
  __m128 sums = _mm_add_ps(lo, shuf);
  shuf = _mm_movehl_ps(shuf, sums);
  sums = _mm_add_ss(sums, shuf);
  return _mm_cvtss_f32(sums);
}

__attribute__((target("avx2,fma"))) float L2Avx2(const void* pa, const void* pb,
                                                  const void* param) {
  const float* a = static_cast<const float*>(pa);
  const float* b = static_cast<const float*>(pb);
  const size_t n = Dim(param);
  __m256 acc0 = _mm256_setzero_ps();
  __m256 acc1 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
    const __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
    acc0 = _mm256_fmadd_ps(d0, d0, acc0);
    acc1 = _mm256_fmadd_ps(d1, d1, acc1);
  }
  if (i + 8 <= n) {
    const __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
    acc0 = _mm256_fmadd_ps(d0, d0, acc0);
    i += 8;
  }
  float sum = HorizontalSum(_mm256_add_ps(acc0, acc1));
  for (; i < n; ++i) {
    const float d = a[i] - b[i];
    sum += d * d;
  }
  return sum;
}

__attribute__((target("avx2,fma"))) float IpAvx2(const void* pa, const void* pb,
                                                  const void* param) {
  const float* a = static_cast<const float*>(pa);
  const float* b = static_cast<const float*>(pb);
  const size_t n = Dim(param);
  __m256 acc0 = _mm256_setzero_ps();
  __m256 acc1 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
  }
  if (i + 8 <= n) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    i += 8;
  }
  float sum = HorizontalSum(_mm256_add_ps(acc0, acc1));
  for (; i < n; ++i) sum += a[i] * b[i];
  return 1.0f - sum;
}

KernelLevel DetectKernelLevel() {
  const char* forced = std::getenv("SHOAL_SIMD");
  if (forced != nullptr && std::strcmp(forced, "portable") == 0) return KernelLevel::kPortable;
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    return KernelLevel::kAvx2Fma;
  }
  return KernelLevel::kPortable;
}

}  // namespace

KernelLevel ActiveKernelLevel() {
  static const KernelLevel level = DetectKernelLevel();
  return level;
}

const char* KernelLevelName(KernelLevel level) {
  return level == KernelLevel::kAvx2Fma ? "avx2-fma" : "portable";
}

DistanceFn L2SquaredKernel(KernelLevel level) {
  return level == KernelLevel::kAvx2Fma ? L2Avx2 : L2Portable;
}

DistanceFn InnerProductKernel(KernelLevel level) {
  return level == KernelLevel::kAvx2Fma ? IpAvx2 : IpPortable;
}

Space::Space(SpaceKind kind, size_t dim)
    : kind_(kind),
      dim_(dim),
      fn_(kind == SpaceKind::kL2 ? L2SquaredKernel(ActiveKernelLevel())
                                 : InnerProductKernel(ActiveKernelLevel())) {}

bool NormalizeInPlace(float* v, size_t dim) {
  double sum = 0;
  for (size_t i = 0; i < dim; ++i) sum += static_cast<double>(v[i]) * v[i];
  if (!(sum > 0) || !std::isfinite(sum)) return false;
  // Idempotent: a vector already unit to within float rounding (a normalised float vector's
  // squared norm is 1 within a few 1e-8) is kept bit for bit. Scaling it again by a factor one
  // ulp from 1 would change its bits, so a stored vector read back and added again (an export
  // and import) would not be the same vector.
  if (std::fabs(sum - 1.0) <= 1e-6) return true;
  const float inv = static_cast<float>(1.0 / std::sqrt(sum));
  for (size_t i = 0; i < dim; ++i) v[i] *= inv;
  return true;
}

}  // namespace shoal
