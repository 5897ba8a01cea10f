#include "index/flat.h"

#include "index/top_k.h"

namespace proximadb::index {

std::vector<Hit> FlatSearch(const float* vectors, uint32_t n, uint32_t dim, Distance distance,
                            const float* query, uint32_t k,
                            absl::FunctionRef<bool(uint32_t)> allow) {
  BoundedTopK<Hit> top(k);
  for (uint32_t row = 0; row < n; ++row) {
    const Hit h{distance(query, vectors + static_cast<size_t>(row) * dim, dim), row};
    if (top.Accepts(h) && allow(row)) top.Push(h);
  }
  return top.Take();
}

}  // namespace proximadb::index
