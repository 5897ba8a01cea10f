// Parsing and naming of the enums of the public API (include/proximadb/types.h).
#include "proximadb/types.h"

#include <string>

namespace proximadb {

absl::StatusOr<DistanceMetric> ParseDistanceMetric(std::string_view name) {
  if (name == "cosine") return DistanceMetric::kCosine;
  if (name == "l2" || name == "euclidean") return DistanceMetric::kL2;
  if (name == "dot") return DistanceMetric::kDot;
  return absl::InvalidArgumentError("distance_metric: unknown metric '" + std::string(name) +
                                    "' (supported: cosine, l2, euclidean, dot)");
}

const char* DistanceMetricName(DistanceMetric metric) {
  switch (metric) {
    case DistanceMetric::kCosine: return "cosine";
    case DistanceMetric::kL2: return "l2";
    case DistanceMetric::kDot: return "dot";
  }
  return "?";
}

absl::StatusOr<Durability> ParseDurability(std::string_view name) {
  if (name == "sync") return Durability::kSync;
  if (name == "async") return Durability::kAsync;
  return absl::InvalidArgumentError("durability: unknown mode '" + std::string(name) +
                                    "' (supported: sync, async)");
}

}  // namespace proximadb
