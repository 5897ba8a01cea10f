// Internals of the run-time dispatch, exposed for tests.
#pragma once

#include <cstdlib>

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

// The frame of the nearest_rows kernels, compiled into each level's file (static, as above):
// kRows rows at a time, `scaled` holding -2 x of each (row-major, malloc'd: no inline library
// code in those files), through `tiles(scaled, out, best_d)`, the level's sums over its whole
// groups of centroids, which sets out[r] and best_d[r] and returns how many centroids it
// covered; the centroids left through CentroidDistance; the rows left one at a time through
// `one(x)`.
template <size_t kRows, typename Tiles, typename One>
static inline void NearestRowsFrame(const float* xs, size_t n, const float* transposed,
                                    const float* norms, size_t dim, size_t count, uint32_t* out,
                                    Tiles tiles, One one) {
  float* scaled =
      n >= kRows ? static_cast<float*>(std::malloc(kRows * dim * sizeof(float))) : nullptr;
  size_t i = 0;
  for (; scaled != nullptr && i + kRows <= n; i += kRows) {
    for (size_t j = 0; j < kRows * dim; ++j) scaled[j] = -2 * xs[i * dim + j];
    float best_d[kRows] = {};
    for (size_t c = tiles(scaled, out + i, best_d); c < count; ++c) {
      for (size_t r = 0; r < kRows; ++r) {
        const float d = CentroidDistance(xs + (i + r) * dim, transposed, norms, dim, count, c);
        if (c == 0 || d < best_d[r]) best_d[r] = d, out[i + r] = static_cast<uint32_t>(c);
      }
    }
  }
  std::free(scaled);
  for (; i < n; ++i) out[i] = one(xs + i * dim);
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
