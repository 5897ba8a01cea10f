#include "index/flat.h"

#include <algorithm>
#include <queue>

namespace proximadb::index {

std::vector<Hit> FlatSearch(const float* vectors, uint32_t n, uint32_t dim, Distance distance,
                            const float* query, uint32_t k,
                            absl::FunctionRef<bool(uint32_t)> allow) {
  std::priority_queue<Hit> heap;  // the worst of the best k on top
  for (uint32_t row = 0; row < n; ++row) {
    const float d = distance(query, vectors + static_cast<size_t>(row) * dim, dim);
    if (heap.size() == k && !(Hit{d, row} < heap.top())) continue;
    if (!allow(row)) continue;
    heap.push({d, row});
    if (heap.size() > k) heap.pop();
  }
  std::vector<Hit> out(heap.size());
  for (size_t i = out.size(); i-- > 0; heap.pop()) out[i] = heap.top();
  return out;
}

}  // namespace proximadb::index
