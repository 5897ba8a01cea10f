#include "workload.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "common/strings.h"

namespace proximadb::testing {
namespace {

// Lower is better, as the engine ranks; in double, sharing no code with the engine.
double Distance(DistanceMetric metric, const std::vector<float>& a, const std::vector<float>& b) {
  double dot = 0, na = 0, nb = 0, l2 = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    dot += double(a[i]) * b[i];
    na += double(a[i]) * a[i];
    nb += double(b[i]) * b[i];
    l2 += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
  }
  switch (metric) {
    case DistanceMetric::kCosine: return 1 - dot / std::sqrt(na * nb);
    case DistanceMetric::kL2: return l2;
    case DistanceMetric::kDot: return -dot;
  }
  return 0;
}

uint64_t BatchOf(const Record& r) { return std::stoull(r.metadata.substr(5)); }  // {"b":N}

// The ids of the k records of `want` nearest to `query`.
std::set<std::string> TopK(const Records& want, const std::vector<float>& query, uint32_t k,
                           DistanceMetric metric) {
  std::vector<std::pair<double, std::string>> all;
  for (const auto& [id, r] : want) all.emplace_back(Distance(metric, query, r.vector), id);
  std::sort(all.begin(), all.end());
  std::set<std::string> ids;
  for (size_t i = 0; i < all.size() && i < k; ++i) ids.insert(all[i].second);
  return ids;
}

// Every hit is a live record with its stored metadata (and vector, if asked), best first.
std::string CheckHits(const SearchResponse& r, const Records& want, const SearchRequest& q,
                      DistanceMetric metric) {
  for (size_t i = 0; i < r.hits.size(); ++i) {
    const SearchHit& h = r.hits[i];
    auto it = want.find(h.id);
    if (it == want.end()) return Cat("search returned ", h.id, ", which is not live");
    if (q.include_metadata && h.metadata != it->second.metadata) {
      return Cat("search returned ", h.id, " with metadata ", h.metadata);
    }
    if (q.include_vectors && h.vector != it->second.vector) {
      return Cat("search returned ", h.id, " with another vector");
    }
    // Scores: l2 a distance (lower is better), cosine and dot similarities (higher is).
    const float prev = i > 0 ? r.hits[i - 1].score : h.score;
    if (metric == DistanceMetric::kL2 ? h.score < prev : h.score > prev) {
      return Cat("search hits are out of order at ", i);
    }
  }
  return "";
}

std::string CheckCountAndScroll(Collection& c, const Records& want, const std::string& filter) {
  auto count = c.Count(filter);
  if (!count.ok()) return Cat("count: ", count.status().ToString());
  if (*count != want.size()) {
    return Cat("count with filter '", filter, "' is ", *count, ", expected ", want.size());
  }
  Records scrolled;
  std::string after, last;
  for (int page = 0;; ++page) {
    auto p = c.Scroll(after, 37, filter, /*include_vectors=*/true);
    if (!p.ok()) return Cat("scroll: ", p.status().ToString());
    for (Record& r : p->records) {
      if (r.id <= last) return Cat("scroll returned ", r.id, " out of order or twice");
      last = r.id;
      scrolled[r.id] = std::move(r);
    }
    if (p->next_after.empty()) break;
    after = p->next_after;
    if (page > 10000) return "scroll does not end";
  }
  if (scrolled != want) {
    for (const auto& [id, r] : want) {
      auto it = scrolled.find(id);
      if (it == scrolled.end()) return Cat("scroll with filter '", filter, "' misses ", id);
      if (!(it->second == r)) return Cat("scroll returned another version of ", id);
    }
    return Cat("scroll with filter '", filter, "' returned records that should not exist");
  }
  return "";
}

std::string CheckSearch(Collection& c, const Records& want, DistanceMetric metric,
                        const std::string& filter) {
  const uint32_t dim = want.empty() ? 0 : static_cast<uint32_t>(want.begin()->second.vector.size());
  if (dim == 0) return "";
  std::mt19937_64 rng(want.size());
  std::uniform_real_distribution<float> u(-1, 1);
  for (int query = 0; query < 3; ++query) {
    std::vector<float> v(dim);
    for (float& x : v) x = u(rng);
    // k 10 at the collection's ef, and k 25 above the ef asked for (the search widens to k).
    const uint32_t k = query == 2 ? 25 : 10;
    const std::set<std::string> truth = TopK(want, v, k, metric);
    for (bool exact : {true, false}) {
      SearchRequest q;
      q.vector = v;
      q.k = k;
      q.ef = query == 2 ? 10 : 0;
      q.filter = filter;
      q.exact = exact;
      q.include_vectors = true;
      auto r = c.Search(q);
      if (!r.ok()) return Cat("search: ", r.status().ToString());
      if (r->hits.size() != truth.size()) {
        return Cat(exact ? "exact" : "graph", " search with filter '", filter, "' returned ",
                   r->hits.size(), " hits, ", truth.size(), " records match");
      }
      if (std::string e = CheckHits(*r, want, q, metric); !e.empty()) return e;
      size_t found = 0;
      for (const SearchHit& h : r->hits) found += truth.count(h.id);
      // The graph may miss a neighbour now and then, the exact plan never. One in five: a
      // quantized graph searched at ef 10 (widened to k 25) on some of these random sets finds
      // 22 of 25 (recall itself is pinned by the recall tests, not here).
      if (exact ? found != truth.size() : found * 5 < truth.size() * 4) {
        return Cat(exact ? "exact" : "graph", " search with filter '", filter, "' found ", found,
                   " of the true top ", truth.size());
      }
    }
  }
  return "";
}

// Up to 20 records, each searched for by its own vector, must come first.
std::string CheckFindsItself(Collection& c, const Records& want) {
  const size_t step = std::max<size_t>(1, want.size() / 20);
  size_t i = 0;
  for (const auto& [id, r] : want) {
    if (i++ % step != 0) continue;
    SearchRequest q;
    q.vector = r.vector;
    q.k = 1;
    auto found = c.Search(q);
    if (!found.ok()) return Cat("search: ", found.status().ToString());
    if (found->hits.empty() || found->hits[0].id != id) {
      return Cat("a search for ", id, "'s own vector returned ",
                 found->hits.empty() ? "nothing" : found->hits[0].id);
    }
  }
  return "";
}

}  // namespace

std::string CheckCollection(Collection& c, const Records& want, DistanceMetric metric) {
  for (const auto& [id, r] : want) {
    auto got = c.Get(id);
    if (!got.ok()) return Cat("get ", id, ": ", got.status().ToString());
    if (!(*got == r)) return Cat("get ", id, " returned another version: ", got->metadata);
  }
  // A range filter that splits the records at one of their own batch numbers, so that $lte and
  // $lt differ.
  std::vector<uint64_t> batches;
  for (const auto& [id, r] : want) batches.push_back(BatchOf(r));
  std::sort(batches.begin(), batches.end());
  const uint64_t split = batches.empty() ? 0 : batches[batches.size() / 2];
  const std::string filter = Cat("{\"b\":{\"$lte\":", split, "}}");
  Records below;
  for (const auto& [id, r] : want) {
    if (BatchOf(r) <= split) below[id] = r;
  }
  for (const auto& [f, subset] : {std::pair<std::string, const Records*>{"", &want},
                                  std::pair<std::string, const Records*>{filter, &below}}) {
    if (std::string e = CheckCountAndScroll(c, *subset, f); !e.empty()) return e;
    if (std::string e = CheckSearch(c, *subset, metric, f); !e.empty()) return e;
  }
  return CheckFindsItself(c, want);
}

}  // namespace proximadb::testing
