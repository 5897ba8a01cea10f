#include "index/planner.h"

#include <algorithm>

#include "common/enum_names.h"
#include "index/top_k.h"

namespace proximadb::index {
namespace {

constexpr EnumName<Plan> kPlanNames[] = {
    {Plan::kExact, "exact"},
    {Plan::kIvf, "ivf"},
    {Plan::kGraph, "graph"},
    {Plan::kGraphExpanded, "graph_expanded"}};

}  // namespace

std::vector<Hit> ExactOver(const SearchSpace& space, const float* query, uint32_t k,
                           const AllowedRows* allowed, SearchStats* stats) {
  BoundedTopK<Hit> top(k);
  auto score = [&](uint32_t row) {
    if (space.graph != nullptr && space.graph->IsDeleted(row)) return;
    ++stats->distances;
    top.Push({space.distance(query, space.vectors + static_cast<size_t>(row) * space.dim,
                             space.dim),
              row});
  };
  if (allowed != nullptr) {
    allowed->ForEach(score);
  } else {
    for (uint32_t row = 0; row < space.rows; ++row) score(row);
  }
  return top.Take();
}

uint32_t RerankCandidates(const SearchParams& p) {
  // By default at least 2k: with ef at or below k a search on codes would otherwise have no
  // slack to re-rank from.
  return p.rerank == 0 ? std::max(p.ef, 2 * p.k) : std::max(p.k, p.rerank);
}

std::vector<Hit> Rerank(const SearchSpace& space, const float* query,
                        const std::vector<Hit>& candidates, uint32_t k, SearchStats* stats) {
  BoundedTopK<Hit> top(k);
  for (const Hit& h : candidates) {
    ++stats->distances;
    top.Push({space.distance(query, space.vectors + size_t{h.row} * space.dim, space.dim),
              h.row});
  }
  return top.Take();
}

namespace {

// Whether scanning the `count` rows a filter selected is cheaper than finding k of them in the
// graph.
bool ScanIsCheaper(uint32_t count, const Hnsw& graph, uint32_t k, uint32_t ef) {
  const double exact_cost = count;
  const double selectivity = std::max(exact_cost, 1.0) / std::max<uint32_t>(graph.size(), 1);
  const double graph_estimate = double(std::max(ef, k)) * graph.m() / selectivity;
  return exact_cost <= 4.0 * std::max(ef, k) || graph_estimate > exact_cost;
}

// A graph traversal, on the codes when the space has them: calls `search(distance, k, ef)`
// with the candidates to gather, and re-ranks them on the float32 vectors.
template <typename Search>
std::vector<Hit> GraphSearch(const SearchSpace& space, const SearchParams& p,
                             SearchStats* stats, const Search& search) {
  if (space.quantizer == nullptr) {
    return search(space.graph->Exact(p.query), p.k, std::max(p.ef, p.k));
  }
  const Quantizer::Query query = space.quantizer->Prepare(p.query);
  const RowDistance coded(&query, space.codes, space.quantizer->code_size());
  // Binary codes rank coarsely (Hamming distances tie a lot): by default they gather four
  // times the candidates.
  const uint32_t oversample =
      p.rerank == 0 && space.quantizer->kind() == Quantization::kBinary ? 4 : 1;
  const uint32_t keep = RerankCandidates(p) * oversample;
  return Rerank(space, p.query, search(coded, keep, std::max(p.ef, keep)), p.k, stats);
}

PlannedResult FilteredGraphSearch(const SearchSpace& space, const SearchParams& p,
                                  const AllowedRows& allowed) {
  PlannedResult r;
  r.plan = Plan::kGraphExpanded;
  const uint32_t count = allowed.count();
  const uint32_t budget = p.mode == PlanMode::kAuto ? count : 0;
  r.hits = GraphSearch(space, p, &r.stats, [&](const RowDistance& d, uint32_t k, uint32_t ef) {
    if (const uint64_t* bitmap = allowed.bitmap()) {
      return space.graph->Search(d, k, ef, bitmap, &r.stats, budget);
    }
    return space.graph->Search(
        d, k, ef, [&](uint32_t row) { return allowed.Contains(row); }, &r.stats, budget);
  });
  // Over budget, or the traversal ran dry (rows it could not reach): the exact scan decides.
  if (p.mode == PlanMode::kAuto &&
      (r.stats.budget_exceeded || (r.hits.size() < p.k && count > r.hits.size()))) {
    r.plan = Plan::kExact;
    r.hits = ExactOver(space, p.query, p.k, &allowed, &r.stats);
  }
  return r;
}

}  // namespace

const char* PlanName(Plan plan) { return NameOf(kPlanNames, plan); }

Plan MostInvolved(Plan a, Plan b) { return static_cast<int>(a) >= static_cast<int>(b) ? a : b; }

void BitmapRows::ForEach(absl::FunctionRef<void(uint32_t)> fn) const {
  const uint32_t words = (num_rows_ + 63) / 64;
  for (uint32_t w = 0; w < words; ++w) {
    for (uint64_t bits = bitmap_[w]; bits != 0; bits &= bits - 1) {
      fn(w * 64 + static_cast<uint32_t>(__builtin_ctzll(bits)));
    }
  }
}

PlannedResult PlannedSearch(const SearchSpace& space, const SearchParams& p,
                            const AllowedRows* allowed, bool filtered) {
  const bool auto_mode = p.mode == PlanMode::kAuto;
  const bool few_rows = space.rows <= 4 * std::max(p.ef, p.k);
  if (p.exact || p.mode == PlanMode::kExact || space.graph == nullptr ||
      (auto_mode && few_rows) ||
      (auto_mode && filtered && ScanIsCheaper(allowed->count(), *space.graph, p.k, p.ef))) {
    PlannedResult r;
    r.plan = Plan::kExact;
    r.hits = ExactOver(space, p.query, p.k, allowed, &r.stats);
    return r;
  }
  if (filtered) return FilteredGraphSearch(space, p, *allowed);
  PlannedResult r;
  r.plan = Plan::kGraph;
  r.hits = GraphSearch(space, p, &r.stats, [&](const RowDistance& d, uint32_t k, uint32_t ef) {
    if (allowed == nullptr) return space.graph->Search(d, k, ef, &r.stats);
    return space.graph->Search(
        d, k, ef, [&](uint32_t row) { return allowed->Contains(row); }, &r.stats);
  });
  return r;
}

}  // namespace proximadb::index
