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

// The exact top k over the set bits of the bitmap.
std::vector<Hit> ExactOver(const Hnsw& graph, const float* vectors, uint32_t dim,
                           Distance distance, const float* query, uint32_t k,
                           const uint64_t* bitmap, SearchStats* stats) {
  std::priority_queue<Hit> heap;
  const uint32_t words = (graph.capacity() + 63) / 64;
  for (uint32_t w = 0; w < words; ++w) {
    for (uint64_t bits = bitmap[w]; bits != 0; bits &= bits - 1) {
      const uint32_t row = w * 64 + static_cast<uint32_t>(__builtin_ctzll(bits));
      if (graph.IsDeleted(row)) continue;
      const float d = distance(query, vectors + static_cast<size_t>(row) * dim, dim);
      ++stats->distances;
      if (heap.size() == k && !(Hit{d, row} < heap.top())) continue;
      heap.push({d, row});
      if (heap.size() > k) heap.pop();
    }
  }
  std::vector<Hit> out(heap.size());
  for (size_t i = out.size(); i-- > 0; heap.pop()) out[i] = heap.top();
  return out;
}

}  // namespace

PlannedResult PlannedSearch(const Hnsw& graph, const float* vectors, uint32_t dim,
                            Distance distance, const float* query, uint32_t k, uint32_t ef,
                            const AllowedRows* allowed) {
  PlannedResult r;
  if (allowed == nullptr) {
    r.plan = Plan::kGraph;
    r.hits = graph.Search(query, k, ef, &r.stats);
    return r;
  }
  const double exact_cost = allowed->count;
  const double selectivity = std::max(exact_cost, 1.0) / std::max<uint32_t>(graph.size(), 1);
  const double graph_estimate = double(std::max(ef, k)) * graph.m() / selectivity;
  if (exact_cost <= 4.0 * std::max(ef, k) || graph_estimate > exact_cost) {
    r.plan = Plan::kExact;
    r.hits = ExactOver(graph, vectors, dim, distance, query, k, allowed->bitmap, &r.stats);
    return r;
  }
  r.plan = Plan::kGraphExpanded;
  r.hits = graph.Search(query, k, ef, allowed->bitmap, &r.stats, allowed->count);
  // Over budget, or the traversal ran dry (rows it could not reach): the exact scan decides.
  if (r.stats.budget_exceeded || (r.hits.size() < k && allowed->count > r.hits.size())) {
    r.plan = Plan::kExact;
    r.hits = ExactOver(graph, vectors, dim, distance, query, k, allowed->bitmap, &r.stats);
  }
  return r;
}

}  // namespace proximadb::index
