// Distances for exact search, by metric, on the SIMD kernels of the running CPU (src/simd).
//
// Every metric is expressed as a distance where lower is better, so one top-k loop serves all:
//   l2: squared Euclidean distance; cosine: 1 - cosine similarity; dot: -inner product.
// ScoreFromDistance turns it into the score the API reports.
#pragma once

#include <cstddef>

#include "proximadb/types.h"

namespace proximadb {

using DistanceFn = float (*)(const float* a, const float* b, size_t dim);

DistanceFn DistanceFor(DistanceMetric metric);
// l2: Euclidean distance; cosine: cosine similarity; dot: inner product.
float ScoreFromDistance(DistanceMetric metric, float distance);

}  // namespace proximadb
