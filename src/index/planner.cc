#include "index/planner.h"

#include <algorithm>
#include <queue>

#include "common/enum_names.h"

namespace proximadb::index {

namespace {
constexpr EnumName<Plan> kPlanNames[] = {
    {Plan::kExact, "exact"}, {Plan::kGraph, "graph"}, {Plan::kGraphExpanded, "graph_expanded"}};
}  // namespace

const char* PlanName(Plan plan) { return NameOf(kPlanNames, plan); }

void BitmapRows::ForEach(absl::FunctionRef<void(uint32_t)> fn) const {
  const uint32_t words = (num_rows_ + 63) / 64;
  for (uint32_t w = 0; w < words; ++w) {
    for (uint64_t bits = bitmap_[w]; bits != 0; bits &= bits - 1) {
      fn(w * 64 + static_cast<uint32_t>(__builtin_ctzll(bits)));
    }
  }
}

namespace {

// The exact top k over the allowed rows.
std::vector<Hit> ExactOver(const Hnsw& graph, const float* vectors, uint32_t dim,
                           Distance distance, const float* query, uint32_t k,
                           const AllowedRows& allowed, SearchStats* stats) {
  std::priority_queue<Hit> heap;
  allowed.ForEach([&](uint32_t row) {
    if (graph.IsDeleted(row)) return;
    const float d = distance(query, vectors + static_cast<size_t>(row) * dim, dim);
    ++stats->distances;
    if (heap.size() == k && !(Hit{d, row} < heap.top())) return;
    heap.push({d, row});
    if (heap.size() > k) heap.pop();
  });
  std::vector<Hit> out(heap.size());
  for (size_t i = out.size(); i-- > 0; heap.pop()) out[i] = heap.top();
  return out;
}

}  // namespace

PlannedResult PlannedSearch(const Hnsw& graph, const float* vectors, uint32_t dim,
                            Distance distance, const float* query, uint32_t k, uint32_t ef,
                            const AllowedRows* allowed, PlanMode mode) {
  PlannedResult r;
  if (allowed == nullptr) {
    r.plan = Plan::kGraph;
    r.hits = graph.Search(query, k, ef, &r.stats);
    return r;
  }
  const uint32_t count = allowed->count();
  const double exact_cost = count;
  const double selectivity = std::max(exact_cost, 1.0) / std::max<uint32_t>(graph.size(), 1);
  const double graph_estimate = double(std::max(ef, k)) * graph.m() / selectivity;
  const bool exact_is_cheaper =
      exact_cost <= 4.0 * std::max(ef, k) || graph_estimate > exact_cost;
  if (mode == PlanMode::kExact || (mode == PlanMode::kAuto && exact_is_cheaper)) {
    r.plan = Plan::kExact;
    r.hits = ExactOver(graph, vectors, dim, distance, query, k, *allowed, &r.stats);
    return r;
  }
  r.plan = Plan::kGraphExpanded;
  const uint32_t budget = mode == PlanMode::kAuto ? count : 0;
  if (const uint64_t* bitmap = allowed->bitmap()) {
    r.hits = graph.Search(query, k, ef, bitmap, &r.stats, budget);
  } else {
    r.hits = graph.Search(
        query, k, ef, [allowed](uint32_t row) { return allowed->Contains(row); }, &r.stats,
        budget);
  }
  // Over budget, or the traversal ran dry (rows it could not reach): the exact scan decides.
  if (mode == PlanMode::kAuto &&
      (r.stats.budget_exceeded || (r.hits.size() < k && count > r.hits.size()))) {
    r.plan = Plan::kExact;
    r.hits = ExactOver(graph, vectors, dim, distance, query, k, *allowed, &r.stats);
  }
  return r;
}

}  // namespace proximadb::index
