#include "engine/distance.h"

#include <algorithm>
#include <cmath>

#include "simd/distance.h"


namespace proximadb {
namespace {

float L2(const float* a, const float* b, size_t dim) { return simd::Active().l2_sqr(a, b, dim); }
float Cosine(const float* a, const float* b, size_t dim) {
  return simd::Active().cosine_distance(a, b, dim);
}
float NegativeDot(const float* a, const float* b, size_t dim) {
  return -simd::Active().dot(a, b, dim);
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
