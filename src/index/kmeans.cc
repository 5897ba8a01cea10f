#include "index/kmeans.h"

#include <algorithm>
#include <cstring>
#include <numeric>

#include "common/parallel.h"
#include "simd/distance.h"

namespace proximadb::index {

Centroids::Centroids(const float* centroids, uint32_t dim, uint32_t count)
    : dim(dim), count(count), transposed(size_t{dim} * count), norms(count, 0.0f) {
  for (uint32_t c = 0; c < count; ++c) {
    for (uint32_t d = 0; d < dim; ++d) {
      const float v = centroids[size_t{c} * dim + d];
      transposed[size_t{d} * count + c] = v;
      norms[c] += v * v;
    }
  }
}

uint32_t Centroids::Nearest(const float* x) const {
  return simd::Active().nearest(x, transposed.data(), norms.data(), dim, count);
}

void Centroids::NearestRows(const float* xs, uint32_t n, uint32_t* out, int threads) const {
  ForRowRanges(n, threads, [&](uint32_t begin, uint32_t end) {
    simd::Active().nearest_rows(xs + size_t{begin} * dim, end - begin, transposed.data(),
                                norms.data(), dim, count, out + begin);
  });
}

void Centroids::Distances(const float* x, float* out) const {
  simd::Active().centroid_distances(x, transposed.data(), norms.data(), dim, count, out);
}

void KMeans(const std::vector<float>& points, uint32_t n, uint32_t dim, uint32_t k,
            int iterations, std::mt19937_64& rng, float* centroids, int threads) {
  std::vector<uint32_t> order(n);
  std::iota(order.begin(), order.end(), 0u);
  std::shuffle(order.begin(), order.end(), rng);
  for (uint32_t c = 0; c < k; ++c) {
    std::memcpy(centroids + size_t{c} * dim, points.data() + size_t{order[c % n]} * dim,
                dim * sizeof(float));
  }
  std::vector<double> sums(size_t{k} * dim);
  std::vector<uint32_t> counts(k), nearest(n);
  for (int iter = 0; iter < iterations; ++iter) {
    const Centroids near(centroids, dim, k);
    std::fill(sums.begin(), sums.end(), 0.0);
    std::fill(counts.begin(), counts.end(), 0u);
    near.NearestRows(points.data(), n, nearest.data(), threads);
    for (uint32_t i = 0; i < n; ++i) {
      const float* x = points.data() + size_t{i} * dim;
      const uint32_t c = nearest[i];
      ++counts[c];
      for (uint32_t d = 0; d < dim; ++d) sums[size_t{c} * dim + d] += x[d];
    }
    std::uniform_int_distribution<uint32_t> any(0, n - 1);
    for (uint32_t c = 0; c < k; ++c) {
      float* centroid = centroids + size_t{c} * dim;
      if (counts[c] == 0) {
        std::memcpy(centroid, points.data() + size_t{any(rng)} * dim, dim * sizeof(float));
        continue;
      }
      for (uint32_t d = 0; d < dim; ++d) {
        centroid[d] = static_cast<float>(sums[size_t{c} * dim + d] / counts[c]);
      }
    }
  }
}

}  // namespace proximadb::index
