// The search planner: exact scan or graph traversal for a (possibly filtered) k-NN query.
//
// A filter is given as the sorted list of rows it allows. The planner
//   - scans those rows exactly when there are few of them (at most max(ef, k) * 4: the graph
//     cannot beat reading them all), plan kExact;
//   - otherwise searches the graph with a budget of as many distance computations as the exact
//     scan would cost; a filtered traversal that runs over budget (the filter is selective in
//     this part of the graph) is abandoned for the exact scan. So the cost is never much more
//     than the cheaper plan, and the threshold is the measured cost of this very query rather
//     than a selectivity guessed in advance.
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

// `allowed` (ascending rows) is nullptr for an unfiltered search. Deleted rows of `graph` are
// never returned.
PlannedResult PlannedSearch(const Hnsw& graph, const float* vectors, uint32_t dim,
                            Distance distance, const float* query, uint32_t k, uint32_t ef,
                            const std::vector<uint32_t>* allowed);

}  // namespace proximadb::index
