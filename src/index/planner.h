// The search planner: exact scan or graph traversal for a (possibly filtered) k-NN query.
//
// A filter is given as the bitmap of rows it allows (bit r of word r / 64, the form field
// indexes produce) and the number of set bits. The planner
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

#include "index/hnsw.h"

namespace proximadb::index {

enum class Plan { kExact, kGraph, kGraphExpanded };
const char* PlanName(Plan plan);  // "exact", "graph", "graph_expanded"

struct PlannedResult {
  std::vector<Hit> hits;
  Plan plan;
  SearchStats stats;
};

// The rows a filter allows, as a bitmap over the graph's rows, with its population count.
struct AllowedRows {
  const uint64_t* bitmap;
  uint32_t count;
};

// `allowed` is nullptr for an unfiltered search. Deleted rows of `graph` are never returned.
PlannedResult PlannedSearch(const Hnsw& graph, const float* vectors, uint32_t dim,
                            Distance distance, const float* query, uint32_t k, uint32_t ef,
                            const AllowedRows* allowed);

}  // namespace proximadb::index
