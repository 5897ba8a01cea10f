// Exact (brute-force) k-nearest-neighbour search over contiguous vectors: the ground truth for
// HNSW, and the plan for small or very selective searches. Thread-safe (pure function).
#pragma once

#include <cstdint>
#include <vector>

#include "absl/functional/function_ref.h"
#include "index/distance.h"

namespace proximadb::index {

struct Hit {
  float distance;  // lower is better (see distance.h)
  uint32_t row;
  bool operator<(const Hit& o) const {
    return distance < o.distance || (distance == o.distance && row < o.row);
  }
};

// The k rows of vectors[0, n) nearest to `query` among those `allow` accepts, best first.
std::vector<Hit> FlatSearch(const float* vectors, uint32_t n, uint32_t dim, Distance distance,
                            const float* query, uint32_t k,
                            absl::FunctionRef<bool(uint32_t)> allow = [](uint32_t) {
                              return true;
                            });

}  // namespace proximadb::index
