#include "index/planner.h"

#include <algorithm>
#include <queue>

namespace proximadb::index {

const char* PlanName(Plan plan) {
  switch (plan) {
    case Plan::kExact: return "exact";
    case Plan::kGraph: return "graph";
    case Plan::kGraphExpanded: return "graph_expanded";
  }
  return "?";
}

namespace {

std::vector<Hit> ExactOver(const Hnsw& graph, const float* vectors, uint32_t dim,
                           Distance distance, const float* query, uint32_t k,
                           const std::vector<uint32_t>& rows, SearchStats* stats) {
  std::priority_queue<Hit> heap;
  for (uint32_t row : rows) {
    if (graph.IsDeleted(row)) continue;
    const float d = distance(query, vectors + static_cast<size_t>(row) * dim, dim);
    ++stats->distances;
    if (heap.size() == k && !(Hit{d, row} < heap.top())) continue;
    heap.push({d, row});
    if (heap.size() > k) heap.pop();
  }
  std::vector<Hit> out(heap.size());
  for (size_t i = out.size(); i-- > 0; heap.pop()) out[i] = heap.top();
  return out;
}

}  // namespace

PlannedResult PlannedSearch(const Hnsw& graph, const float* vectors, uint32_t dim,
                            Distance distance, const float* query, uint32_t k, uint32_t ef,
                            const std::vector<uint32_t>* allowed) {
  PlannedResult r;
  if (allowed == nullptr) {
    r.plan = Plan::kGraph;
    r.hits = graph.Search(query, k, ef, &r.stats);
    return r;
  }
  const size_t exact_cost = allowed->size();
  if (exact_cost <= static_cast<size_t>(std::max(ef, k)) * 4) {
    r.plan = Plan::kExact;
    r.hits = ExactOver(graph, vectors, dim, distance, query, k, *allowed, &r.stats);
    return r;
  }
  std::vector<uint64_t> bitmap((graph.capacity() + 63) / 64, 0);
  for (uint32_t row : *allowed) bitmap[row / 64] |= uint64_t{1} << (row % 64);
  r.plan = Plan::kGraphExpanded;
  r.hits = graph.Search(query, k, ef, bitmap.data(), &r.stats,
                        static_cast<uint32_t>(std::min<size_t>(exact_cost, UINT32_MAX)));
  // Over budget, or the traversal ran dry (rows it could not reach): the exact scan decides.
  if (r.stats.budget_exceeded || (r.hits.size() < k && allowed->size() > r.hits.size())) {
    r.plan = Plan::kExact;
    r.hits = ExactOver(graph, vectors, dim, distance, query, k, *allowed, &r.stats);
  }
  return r;
}

}  // namespace proximadb::index
