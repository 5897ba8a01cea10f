// Distances by metric, as "lower is better" values so that one top-k loop serves all metrics,
// on the SIMD kernels of the running CPU:
//   l2: squared Euclidean distance; cosine: 1 - cosine similarity; dot: -inner product.
// ScoreFromDistance turns one into the score the API reports.
#pragma once

#include <cstddef>

#include "proximadb/types.h"
#include "simd/distance.h"

namespace proximadb::index {

// A kernel and whether to negate it: cheaper than a wrapper function in the hot loop.
struct Distance {
  simd::F32Fn fn;
  bool negate;
  float operator()(const float* a, const float* b, size_t dim) const {
    const float d = fn(a, b, dim);
    return negate ? -d : d;
  }
};

Distance DistanceFor(DistanceMetric metric);
// l2: Euclidean distance; cosine: cosine similarity; dot: inner product.
float ScoreFromDistance(DistanceMetric metric, float distance);

}  // namespace proximadb::index
