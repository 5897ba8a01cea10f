#include "index/planner.h"

#include <algorithm>
#include <cmath>

#include "common/enum_names.h"
#include "index/top_k.h"

namespace proximadb::index {
namespace {

constexpr EnumName<Plan> kPlanNames[] = {
    {Plan::kExact, "exact"},
    {Plan::kIvf, "ivf"},
    {Plan::kGraph, "graph"},
    {Plan::kGraphPostFilter, "graph_post_filter"},
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

// The rows an unfiltered traversal gathers for the post-filter plan: enough that about 2k of
// them pass a filter allowing `count` of the graph's rows (plus k), and at least ef.
uint32_t PostFilterGather(const SearchParams& p, uint32_t count, uint32_t rows) {
  const double selectivity = std::max<double>(count, 1) / std::max<uint32_t>(rows, 1);
  const double gather = std::ceil(2.0 * p.k / selectivity) + p.k;
  return static_cast<uint32_t>(std::min<double>(rows, std::max<double>(p.ef, gather)));
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

// The cost model of a filtered search, in units of one distance computed during a traversal
// (docs/index.md has the measurements it was fitted to):
//   - a traversal gathering g rows computes about c * g^0.7 distances: sublinear, as a wider
//     search revisits the same neighbourhood. c depends on the data (Fashion-MNIST 34, WordNet
//     MiniLM 64, with m 16), so each graph learns its own from the unfiltered and post-filter
//     searches it serves (Hnsw::RecordTraversal); until then kTraversal * m;
//   - the exact scan costs kScanCost per allowed row: its reads are sequential, and a scanned
//     row took 105-185 ns where a traversal's distance took 180-360 ns;
//   - the post-filter plan is a traversal gathering PostFilterGather rows;
//   - the filtered traversal gathers max(ef, k) allowed rows, so about max(ef, k) / selectivity
//     rows in all.
constexpr double kTraversal = 2.5, kScanCost = 0.5;

double TraversalCost(double rows, const Hnsw& graph) {
  const double learned = graph.traversal_coefficient();
  return (learned > 0 ? learned : kTraversal * graph.m()) *
         std::pow(rows, Hnsw::kTraversalExponent);
}

Plan ChooseFilteredPlan(const SearchSpace& space, const SearchParams& p,
                        const AllowedRows& allowed) {
  const uint32_t count = allowed.count(), wanted = std::max(p.ef, p.k);
  if (count <= 4 * wanted) return Plan::kExact;
  const Hnsw& graph = *space.graph;
  const double selectivity = std::max<double>(count, 1) / std::max<uint32_t>(graph.size(), 1);
  const double exact = kScanCost * count;
  const double post = TraversalCost(PostFilterGather(p, count, graph.size()), graph);
  const double expanded = TraversalCost(wanted / selectivity, graph);
  if (exact <= post && exact <= expanded) return Plan::kExact;
  return post <= expanded ? Plan::kGraphPostFilter : Plan::kGraphExpanded;
}

PlannedResult ExactPlan(const SearchSpace& space, const SearchParams& p,
                        const AllowedRows* allowed) {
  PlannedResult r;
  r.plan = Plan::kExact;
  r.hits = ExactOver(space, p.query, p.k, allowed, &r.stats);
  return r;
}

// An unfiltered traversal gathering PostFilterGather rows, of which the allowed ones are kept
// (as hnswlib users filter). If fewer than k of them passed while more rows are allowed, the
// filter is more selective near the query than overall: the traversal is repeated gathering
// twice as many rows, or, once it has cost more than the exact scan would, the scan decides.
PlannedResult PostFilterSearch(const SearchSpace& space, const SearchParams& p,
                               const AllowedRows& allowed) {
  PlannedResult r;
  r.plan = Plan::kGraphPostFilter;
  const uint32_t count = allowed.count(), rows = space.graph->size();
  for (uint32_t gather = PostFilterGather(p, count, rows);; gather = std::min(rows, 2 * gather)) {
    r.hits = GraphSearch(space, p, &r.stats, [&](const RowDistance& d, uint32_t k, uint32_t ef) {
      const uint32_t before = r.stats.distances;
      std::vector<Hit> hits = space.graph->Search(d, gather, std::max(ef, gather), &r.stats);
      if (space.quantizer == nullptr) {
        space.graph->RecordTraversal(std::max(ef, gather), r.stats.distances - before);
      }
      std::erase_if(hits, [&](const Hit& h) { return !allowed.Contains(h.row); });
      if (hits.size() > k) hits.resize(k);
      return hits;
    });
    if (r.hits.size() >= std::min(p.k, count)) return r;
    // Short of k: the whole graph gathered (allowed rows it cannot reach), or over the scan's
    // cost.
    if (p.mode == PlanMode::kAuto && (gather >= rows || r.stats.distances > kScanCost * count)) {
      PlannedResult exact = ExactPlan(space, p, &allowed);
      exact.stats.distances += r.stats.distances;
      exact.stats.expanded += r.stats.expanded;
      return exact;
    }
    if (gather >= rows) return r;
  }
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
      (auto_mode && few_rows)) {
    return ExactPlan(space, p, allowed);
  }
  if (filtered) {
    Plan plan = Plan::kGraphExpanded;  // PlanMode::kGraph
    if (p.mode == PlanMode::kGraphPostFilter) plan = Plan::kGraphPostFilter;
    if (p.mode == PlanMode::kAuto) plan = ChooseFilteredPlan(space, p, *allowed);
    switch (plan) {
      case Plan::kGraphPostFilter: return PostFilterSearch(space, p, *allowed);
      case Plan::kGraphExpanded: return FilteredGraphSearch(space, p, *allowed);
      default: return ExactPlan(space, p, allowed);
    }
  }
  PlannedResult r;
  r.plan = Plan::kGraph;
  r.hits = GraphSearch(space, p, &r.stats, [&](const RowDistance& d, uint32_t k, uint32_t ef) {
    if (allowed == nullptr) return space.graph->Search(d, k, ef, &r.stats);
    return space.graph->Search(
        d, k, ef, [&](uint32_t row) { return allowed->Contains(row); }, &r.stats);
  });
  if (space.quantizer == nullptr) {
    space.graph->RecordTraversal(std::max(p.ef, p.k), r.stats.distances);
  }
  return r;
}

}  // namespace proximadb::index
