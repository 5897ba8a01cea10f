// k-means clustering (Lloyd's algorithm) and nearest-centroid search, for product quantization
// (one clustering per sub-space) and for IVF partitions (one over whole vectors).
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace proximadb::index {

// Centroids stored dimension-major ([d][c]) with their squared norms, so that one point's
// distances to all of them vectorize (simd kernels nearest and centroid_distances).
struct Centroids {
  uint32_t dim = 0, count = 0;
  std::vector<float> transposed, norms;

  Centroids() = default;
  // From `count` row-major centroids of `dim` floats.
  Centroids(const float* centroids, uint32_t dim, uint32_t count);
  // The nearest centroid to x by squared Euclidean distance (the first on ties).
  uint32_t Nearest(const float* x) const;
  // Nearest for each of the n row-major points `xs` into out[n]: the same answers, faster;
  // on up to `threads` threads, a few hundred rows each at least.
  void NearestRows(const float* xs, uint32_t n, uint32_t* out, int threads = 1) const;
  // |c|^2 - 2 x.c for every centroid (the squared distance less |x|^2), into out[count].
  void Distances(const float* x, float* out) const;
};

// Clusters the n points (row-major, `dim` floats each) into k centroids (row-major, written to
// `centroids`): k distinct points to start, `iterations` rounds, an emptied cluster restarting
// at a random point. Deterministic for a given rng state, whatever the `threads` that find
// the points' nearest centroids.
void KMeans(const std::vector<float>& points, uint32_t n, uint32_t dim, uint32_t k,
            int iterations, std::mt19937_64& rng, float* centroids, int threads = 1);

}  // namespace proximadb::index
