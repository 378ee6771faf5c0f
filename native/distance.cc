// native/distance.cc
//
// Portable kernels use four independent accumulators so the compiler can keep them in
// registers without reassociating floating point; the AVX2 kernels process 16 floats per
// step in two FMA chains and fold the tail with scalar code, so any dimension works. Each
// SIMD family is compiled only for its architecture (cpu_features.h), with target attributes
// so the baseline build still runs on CPUs without it.
#include "distance.h"

#include "cpu_features.h"

#if defined(SHOAL_X86_64)
#include <immintrin.h>
#elif defined(SHOAL_ARM64)
#include <arm_neon.h>
#endif

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

#if defined(SHOAL_X86_64)

SHOAL_TARGET("avx2,fma") inline float HorizontalSum(__m256 v) {
  __m128 lo = _mm256_castps256_ps128(v);
  __m128 hi = _mm256_extractf128_ps(v, 1);
  lo = _mm_add_ps(lo, hi);
  __m128 shuf = _mm_movehdup_ps(lo);
  __m128 sums = _mm_add_ps(lo, shuf);
  shuf = _mm_movehl_ps(shuf, sums);
  sums = _mm_add_ss(sums, shuf);
  return _mm_cvtss_f32(sums);
}

SHOAL_TARGET("avx2,fma") float L2Avx2(const void* pa, const void* pb, const void* param) {
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

SHOAL_TARGET("avx2,fma") float IpAvx2(const void* pa, const void* pb, const void* param) {
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
  return sum;
}

// GCC 12's AVX-512 intrinsics (lane extracts, _mm512_reduce_add_ps) initialise a dummy
// operand from itself, which -Wuninitialized reports in any code that uses them.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

// AVX-512: 32 floats per step in two chains; the tail (any dimension) is one masked load, so
// no scalar loop.
SHOAL_TARGET("avx512f,avx2,fma") float L2Avx512(const void* pa, const void* pb, const void* param) {
  const float* a = static_cast<const float*>(pa);
  const float* b = static_cast<const float*>(pb);
  const size_t n = Dim(param);
  __m512 acc0 = _mm512_setzero_ps();
  __m512 acc1 = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
    const __m512 d1 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16));
    acc0 = _mm512_fmadd_ps(d0, d0, acc0);
    acc1 = _mm512_fmadd_ps(d1, d1, acc1);
  }
  if (i + 16 <= n) {
    const __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
    acc0 = _mm512_fmadd_ps(d0, d0, acc0);
    i += 16;
  }
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
    const __m512 d = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i));
    acc1 = _mm512_fmadd_ps(d, d, acc1);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

SHOAL_TARGET("avx512f,avx2,fma") float IpAvx512(const void* pa, const void* pb, const void* param) {
  const float* a = static_cast<const float*>(pa);
  const float* b = static_cast<const float*>(pb);
  const size_t n = Dim(param);
  __m512 acc0 = _mm512_setzero_ps();
  __m512 acc1 = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
    acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), acc1);
  }
  if (i + 16 <= n) {
    acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
    i += 16;
  }
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
    acc1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), acc1);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#elif defined(SHOAL_ARM64)

// NEON is part of every ARMv8-A CPU: no detection. 16 floats per step in four FMA chains
// (two would leave the FMA pipes of wide cores such as Neoverse V1 or Apple's idle).
float L2Neon(const void* pa, const void* pb, const void* param) {
  const float* a = static_cast<const float*>(pa);
  const float* b = static_cast<const float*>(pb);
  const size_t n = Dim(param);
  float32x4_t acc0 = vdupq_n_f32(0), acc1 = vdupq_n_f32(0), acc2 = vdupq_n_f32(0), acc3 = vdupq_n_f32(0);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const float32x4_t d0 = vsubq_f32(vld1q_f32(a + i), vld1q_f32(b + i));
    const float32x4_t d1 = vsubq_f32(vld1q_f32(a + i + 4), vld1q_f32(b + i + 4));
    const float32x4_t d2 = vsubq_f32(vld1q_f32(a + i + 8), vld1q_f32(b + i + 8));
    const float32x4_t d3 = vsubq_f32(vld1q_f32(a + i + 12), vld1q_f32(b + i + 12));
    acc0 = vfmaq_f32(acc0, d0, d0);
    acc1 = vfmaq_f32(acc1, d1, d1);
    acc2 = vfmaq_f32(acc2, d2, d2);
    acc3 = vfmaq_f32(acc3, d3, d3);
  }
  for (; i + 4 <= n; i += 4) {
    const float32x4_t d = vsubq_f32(vld1q_f32(a + i), vld1q_f32(b + i));
    acc0 = vfmaq_f32(acc0, d, d);
  }
  float sum = vaddvq_f32(vaddq_f32(vaddq_f32(acc0, acc1), vaddq_f32(acc2, acc3)));
  for (; i < n; ++i) {
    const float d = a[i] - b[i];
    sum += d * d;
  }
  return sum;
}

float IpNeon(const void* pa, const void* pb, const void* param) {
  const float* a = static_cast<const float*>(pa);
  const float* b = static_cast<const float*>(pb);
  const size_t n = Dim(param);
  float32x4_t acc0 = vdupq_n_f32(0), acc1 = vdupq_n_f32(0), acc2 = vdupq_n_f32(0), acc3 = vdupq_n_f32(0);
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    acc0 = vfmaq_f32(acc0, vld1q_f32(a + i), vld1q_f32(b + i));
    acc1 = vfmaq_f32(acc1, vld1q_f32(a + i + 4), vld1q_f32(b + i + 4));
    acc2 = vfmaq_f32(acc2, vld1q_f32(a + i + 8), vld1q_f32(b + i + 8));
    acc3 = vfmaq_f32(acc3, vld1q_f32(a + i + 12), vld1q_f32(b + i + 12));
  }
  for (; i + 4 <= n; i += 4) acc0 = vfmaq_f32(acc0, vld1q_f32(a + i), vld1q_f32(b + i));
  float sum = vaddvq_f32(vaddq_f32(vaddq_f32(acc0, acc1), vaddq_f32(acc2, acc3)));
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

#endif

// Dot products, without hnswlib's "1 -": the kernels below return 1 - this.
using DotFn = float (*)(const void*, const void*, const void*);

template <DotFn Dot>
float OneMinus(const void* pa, const void* pb, const void* param) {
  return 1.0f - Dot(pa, pb, param);
}

// The levels in order of preference, best first.
constexpr KernelLevel kPreference[] = {KernelLevel::kAvx512, KernelLevel::kAvx2Fma, KernelLevel::kNeon,
                                       KernelLevel::kPortable};

KernelLevel DetectKernelLevel() {
  // SHOAL_SIMD names a level to cap at (for tests and benchmarks); the best the CPU has below it.
  const char* forced = std::getenv("SHOAL_SIMD");
  bool allowed = forced == nullptr || ParseKernelLevel(forced) == nullptr;
  for (KernelLevel level : kPreference) {
    if (!allowed && std::strcmp(KernelLevelName(level), forced) == 0) allowed = true;
    if (allowed && KernelSupported(level)) return level;
  }
  return KernelLevel::kPortable;
}

}  // namespace

KernelLevel ActiveKernelLevel() {
  static const KernelLevel level = DetectKernelLevel();
  return level;
}

bool KernelSupported(KernelLevel level) {
  const CpuFeatures& cpu = Cpu();
  switch (level) {
    case KernelLevel::kPortable: return true;
#if defined(SHOAL_X86_64)
    case KernelLevel::kAvx2Fma: return cpu.avx2 && cpu.fma;
    case KernelLevel::kAvx512: return cpu.avx512f;
#elif defined(SHOAL_ARM64)
    case KernelLevel::kNeon: return cpu.neon;
#endif
    default: (void)cpu; return false;
  }
}

const char* KernelLevelName(KernelLevel level) {
  switch (level) {
    case KernelLevel::kAvx2Fma: return "avx2-fma";
    case KernelLevel::kAvx512: return "avx512";
    case KernelLevel::kNeon: return "neon";
    default: return "portable";
  }
}

const KernelLevel* ParseKernelLevel(const char* name) {
  static constexpr KernelLevel kAll[] = {KernelLevel::kPortable, KernelLevel::kAvx2Fma, KernelLevel::kAvx512,
                                         KernelLevel::kNeon};
  for (const KernelLevel& level : kAll) {
    if (std::strcmp(KernelLevelName(level), name) == 0) return &level;
  }
  return nullptr;
}

DistanceFn L2SquaredKernel(KernelLevel level) {
  switch (level) {
#if defined(SHOAL_X86_64)
    case KernelLevel::kAvx2Fma: return L2Avx2;
    case KernelLevel::kAvx512: return L2Avx512;
#elif defined(SHOAL_ARM64)
    case KernelLevel::kNeon: return L2Neon;
#endif
    default: return L2Portable;
  }
}

DistanceFn InnerProductKernel(KernelLevel level) {
  switch (level) {
#if defined(SHOAL_X86_64)
    case KernelLevel::kAvx2Fma: return OneMinus<IpAvx2>;
    case KernelLevel::kAvx512: return OneMinus<IpAvx512>;
#elif defined(SHOAL_ARM64)
    case KernelLevel::kNeon: return OneMinus<IpNeon>;
#endif
    default: return IpPortable;
  }
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
