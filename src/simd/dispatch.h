// Internals of the run-time dispatch, exposed for tests.
#pragma once

#include "simd/distance.h"

namespace proximadb::simd {

// The level for a PROXIMADB_SIMD value (nullptr when unset): that level if known and supported,
// else the best supported one (with a warning on stderr for a bad value).
Level ChooseLevel(const char* env_value);

// One centroid's |c|^2 - 2 x.c, the centroids dimension-major: the reference of the nearest and
// centroid_distances kernels and their tails. static, so that each level's file compiles its own
// copy with its own flags (one shared inline copy could be linked from the AVX-512 file).
static inline float CentroidDistance(const float* x, const float* transposed,
                                     const float* norms, size_t dim, size_t count, size_t c) {
  float d = norms[c];
  for (size_t i = 0; i < dim; ++i) d -= 2 * x[i] * transposed[i * count + c];
  return d;
}

// One table per source file.
extern const Kernels kScalarKernels;
extern const Kernels kAvx2Kernels;
extern const Kernels kAvx512Kernels;
// The AVX-512 level's Hamming kernel on CPUs with VPOPCNTDQ.
uint32_t HammingVpopcntdq(const uint64_t* a, const uint64_t* b, size_t words);
// Whether this CPU has AVX-512 VPOPCNTDQ.
bool CpuHasVpopcntdq();

}  // namespace proximadb::simd
