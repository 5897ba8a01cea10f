// The search planner: exact scan or graph traversal for a (possibly filtered) k-NN query.
//
// A filter is given as the set of rows it allows (AllowedRows: a dense bitmap, or any set that
// can answer membership and list its rows, such as a field index's Roaring bitmap) with its
// size. The planner
//   - scans the allowed rows exactly when there are few of them: at most 4 * max(ef, k), or fewer
//     than the graph would visit to find enough of them (about ef * m / selectivity distance
//     computations), plan kExact;
//   - otherwise searches the graph with a budget of as many distance computations as the exact
//     scan would cost; a filtered traversal that runs over budget (the filter is selective in
//     this part of the graph) or runs dry is abandoned for the exact scan. So the estimate
//     only has to be roughly right: the measured cost of the query itself bounds the loss to
//     about twice the cheaper plan.
// Either way a query returns k results whenever k allowed, undeleted rows exist.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/functional/function_ref.h"
#include "index/hnsw.h"

namespace proximadb::index {

enum class Plan { kExact, kGraph, kGraphExpanded };
const char* PlanName(Plan plan);  // "exact", "graph", "graph_expanded"

struct PlannedResult {
  std::vector<Hit> hits;
  Plan plan;
  SearchStats stats;
};

// The rows a filter allows, among the graph's rows.
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

// Which plan runs: the planner's choice, or one forced (tests and benchmarks pin each plan's
// recall that way). A forced graph plan has no budget and never falls back to the exact scan.
enum class PlanMode { kAuto, kExact, kGraph };

// `allowed` is nullptr for an unfiltered search (a graph search whatever `mode`). Deleted rows of `graph` are never returned.
PlannedResult PlannedSearch(const Hnsw& graph, const float* vectors, uint32_t dim,
                            Distance distance, const float* query, uint32_t k, uint32_t ef,
                            const AllowedRows* allowed, PlanMode mode = PlanMode::kAuto);

}  // namespace proximadb::index
