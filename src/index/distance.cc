#include "index/distance.h"

#include <algorithm>
#include <cmath>

namespace proximadb::index {

Distance DistanceFor(DistanceMetric metric) {
  const simd::Kernels& k = simd::Active();
  switch (metric) {
    case DistanceMetric::kL2: return {k.l2_sqr, false};
    case DistanceMetric::kCosine: return {k.cosine_distance, false};
    case DistanceMetric::kDot: return {k.dot, true};
  }
  return {k.l2_sqr, false};
}

float ScoreFromDistance(DistanceMetric metric, float distance) {
  switch (metric) {
    case DistanceMetric::kL2: return std::sqrt(std::max(distance, 0.0f));
    case DistanceMetric::kCosine: return 1.0f - distance;
    case DistanceMetric::kDot: return -distance;
  }
  return distance;
}

}  // namespace proximadb::index
