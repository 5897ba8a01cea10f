#include "engine/distance.h"

#include <algorithm>
#include <cmath>


namespace proximadb {
namespace {

// Plain loops, vectorized by the compiler for the baseline ISA. The run-time dispatched
// AVX2/AVX-512 kernels of src/simd (the vector search issue) replace them.
float L2(const float* a, const float* b, size_t dim) {
  float s = 0;
  for (size_t i = 0; i < dim; ++i) s += (a[i] - b[i]) * (a[i] - b[i]);
  return s;
}
float Cosine(const float* a, const float* b, size_t dim) {
  float d = 0, na = 0, nb = 0;
  for (size_t i = 0; i < dim; ++i) {
    d += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return na == 0 || nb == 0 ? 1.0f : 1.0f - d / std::sqrt(na * nb);
}
float NegativeDot(const float* a, const float* b, size_t dim) {
  float d = 0;
  for (size_t i = 0; i < dim; ++i) d += a[i] * b[i];
  return -d;
}

}  // namespace

DistanceFn DistanceFor(DistanceMetric metric) {
  switch (metric) {
    case DistanceMetric::kL2: return &L2;
    case DistanceMetric::kCosine: return &Cosine;
    case DistanceMetric::kDot: return &NegativeDot;
  }
  return &L2;
}

float ScoreFromDistance(DistanceMetric metric, float distance) {
  switch (metric) {
    case DistanceMetric::kL2: return std::sqrt(std::max(distance, 0.0f));
    case DistanceMetric::kCosine: return 1.0f - distance;
    case DistanceMetric::kDot: return -distance;
  }
  return distance;
}

}  // namespace proximadb
