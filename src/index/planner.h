// The search planner: how one (possibly filtered) k-NN query runs over one set of rows, exact
// scan or graph traversal. Every choice of plan is made here:
//   - exact when the request asks for it, when there is no graph, or when the rows are few (at
//     most 4 * max(ef, k): a scan is as cheap as a traversal and exact);
//   - unfiltered (the search may return every row, or every row visible to the reader): a
//     graph search that skips rows it may not return, plan kGraph;
//   - filtered (a filter selected the rows it may return): a scan of the selected rows when
//     they are at most 4 * max(ef, k); otherwise the cheapest of three by a cost model
//     calibrated on measurements (planner.cc):
//       kExact: scan the selected rows;
//       kGraphPostFilter: an unfiltered traversal gathering about 2k / selectivity + k rows
//         (at least ef), keeping the selected ones, as hnswlib users post-filter; gathering
//         twice as many when fewer than k passed, or scanning once that has cost more than
//         the scan;
//       kGraphExpanded: a traversal that skips unselected rows and expands until it holds
//         max(ef, k) selected ones, with a budget of as many distance computations as the scan
//         would cost; over budget (the filter is selective in this part of the graph) or run
//         dry, the scan decides.
//     A wrong estimate therefore costs at most about twice the cheaper plan.
// Whatever the plan, a search returns k rows whenever k allowed, undeleted rows exist.
// Graph plans over quantized rows traverse the codes and re-rank on the float32 vectors (see
// SearchParams::rerank); the distances they return are always the float32 ones.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/functional/function_ref.h"
#include "index/hnsw.h"
#include "index/quantizer.h"

namespace proximadb::index {

enum class Plan { kExact, kIvf, kGraph, kGraphPostFilter, kGraphExpanded };
// "exact", "ivf", "graph", "graph_post_filter", "graph_expanded"
const char* PlanName(Plan plan);
// The more involved of two plans (exact < ivf < graph < graph_post_filter < graph_expanded):
// what a search over several row sets reports.
Plan MostInvolved(Plan a, Plan b);

struct PlannedResult {
  std::vector<Hit> hits;
  Plan plan;
  SearchStats stats;
};

// The rows a search may return.
class AllowedRows {
 public:
  virtual ~AllowedRows() = default;
  // How many rows are allowed (an upper bound is fine: it only steers the plan).
  virtual uint32_t count() const = 0;
  virtual bool Contains(uint32_t row) const = 0;
  // Calls `fn` for every allowed row, ascending.
  virtual void ForEach(absl::FunctionRef<void(uint32_t)> fn) const = 0;
  // The set as a dense bitmap (bit r of word r / 64), if it is one: the fastest traversal.
  virtual const uint64_t* bitmap() const { return nullptr; }
};

// A dense bitmap over rows [0, num_rows) with `count` bits set.
class BitmapRows final : public AllowedRows {
 public:
  BitmapRows(const uint64_t* bitmap, uint32_t count, uint32_t num_rows)
      : bitmap_(bitmap), count_(count), num_rows_(num_rows) {}
  uint32_t count() const override { return count_; }
  bool Contains(uint32_t row) const override { return (bitmap_[row / 64] >> (row % 64)) & 1; }
  void ForEach(absl::FunctionRef<void(uint32_t)> fn) const override;
  const uint64_t* bitmap() const override { return bitmap_; }

 private:
  const uint64_t* bitmap_;
  uint32_t count_, num_rows_;
};

// The rows one search covers: rows [0, rows) of contiguous `vectors`, with the HNSW graph over
// them if there is one, and their quantized codes (code_size bytes per row) if they have them.
struct SearchSpace {
  const float* vectors = nullptr;
  uint32_t rows = 0;
  uint32_t dim = 0;
  Distance distance;
  const Hnsw* graph = nullptr;
  const Quantizer* quantizer = nullptr;
  const uint8_t* codes = nullptr;
};

// Which plan runs: the planner's choice, or one forced (tests and benchmarks pin each plan's
// recall and speed that way). A forced graph plan has no budget and never falls back to the
// exact scan; kGraph on a filtered search is the filtered traversal (graph_expanded).
enum class PlanMode { kAuto, kExact, kGraph, kGraphPostFilter };

struct SearchParams {
  const float* query = nullptr;
  uint32_t k = 10;
  uint32_t ef = 64;
  bool exact = false;  // the request asks for a scan
  PlanMode mode = PlanMode::kAuto;
  // With codes, graph plans traverse the codes, keep max(ef, k, rerank) candidates and re-score
  // the best max(rerank, k) of them on the float32 vectors; 0 re-scores all of max(ef, 2k)
  // candidates (binary codes: four times that). Exact plans always scan the float32 vectors.
  uint32_t rerank = 0;
  // IVF partitions (index/ivf.h): at least this many are probed.
  uint32_t nprobe = 16;
};

// The k nearest rows of `space` that `allowed` admits (nullptr: every row), never a row the
// graph marks deleted. `filtered` says `allowed` is a filter's selection rather than only the
// rows visible to the reader (see the plans above).
// The exact top k over the allowed rows (every row when `allowed` is null), on float32.
std::vector<Hit> ExactOver(const SearchSpace& space, const float* query, uint32_t k,
                           const AllowedRows* allowed, SearchStats* stats);

// Searches over codes: how many candidates to keep for re-ranking, max(ef, 2k) by default
// (rerank 0), else max(k, rerank).
uint32_t RerankCandidates(const SearchParams& params);
// The k best of `candidates` (rows of `space`, scored on codes) by their float32 distances.
std::vector<Hit> Rerank(const SearchSpace& space, const float* query,
                        const std::vector<Hit>& candidates, uint32_t k, SearchStats* stats);

PlannedResult PlannedSearch(const SearchSpace& space, const SearchParams& params,
                            const AllowedRows* allowed, bool filtered);

}  // namespace proximadb::index
