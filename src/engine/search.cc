#include "engine/search.h"

#include <optional>

#include "absl/time/clock.h"
#include "index/distance.h"
#include "index/top_k.h"

namespace proximadb {
namespace {

// The rows of the layer's first `rows` that `filter` selects (through its field indexes), or
// nullopt when the filter matches everything.
std::optional<Roaring> Select(const Layer& layer, uint32_t rows, const Filter& filter) {
  if (filter.matches_all()) return std::nullopt;
  return layer.fields().Select(filter, rows, [&](uint32_t r) { return layer.metadata(r); });
}

struct Candidate {
  float distance;
  RowRef ref;
};
struct Closer {
  bool operator()(const Candidate& a, const Candidate& b) const {
    return a.distance < b.distance;
  }
};

SearchHit HitFor(const Candidate& c, const SearchRequest& req, const SearchContext& ctx) {
  SearchHit h;
  h.id = std::string(c.ref.layer->id(c.ref.row));
  h.score = index::ScoreFromDistance(ctx.metric, c.distance);
  if (req.include_metadata) h.metadata = std::string(c.ref.layer->metadata(c.ref.row));
  if (req.include_vectors) {
    const float* v = c.ref.layer->vector(c.ref.row);
    h.vector.assign(v, v + ctx.dim);
  }
  return h;
}

}  // namespace

Record RecordAt(const Layer& layer, uint32_t row, bool with_vector) {
  Record r;
  r.id = std::string(layer.id(row));
  r.metadata = std::string(layer.metadata(row));
  if (with_vector) r.vector.assign(layer.vector(row), layer.vector(row) + layer.dim());
  return r;
}

void ForEachLive(const ReadView& view, const Filter& filter,
                 absl::FunctionRef<void(const Layer&, uint32_t)> fn) {
  for (const ReadView::Entry& e : view.layers) {
    const std::optional<Roaring> selected = Select(*e.layer, e.rows, filter);
    VisibleRows(*e.layer, view.seq, 0, e.rows, selected ? &*selected : nullptr)
        .ForEach([&](uint32_t row) { fn(*e.layer, row); });
  }
}

SearchResponse SearchView(const ReadView& view, const SearchRequest& req, const Filter& filter,
                          const SearchContext& ctx) {
  index::BoundedTopK<Candidate, Closer> top(req.k);
  index::Plan plan = index::Plan::kExact;
  index::SearchParams params{req.vector.data(), req.k, ctx.ef, req.exact};
  params.rerank = ctx.rerank;
  params.nprobe = ctx.nprobe;
  const int64_t now_us = absl::ToUnixMicros(absl::Now());
  for (const ReadView::Entry& e : view.layers) {
    const std::optional<Roaring> selected = Select(*e.layer, e.rows, filter);
    const Layer* layer = e.layer.get();
    layer->NoteSearch(now_us);  // ages segments for the tiering policy
    plan = index::MostInvolved(
        plan, ctx.strategy->Search(*layer, e.rows, view.seq, selected ? &*selected : nullptr,
                                   params, [&](float distance, uint32_t row) {
                                     top.Push({distance, {layer, row}});
                                   }));
  }
  SearchResponse response;
  response.plan = index::PlanName(plan);
  for (const Candidate& c : top.Take()) response.hits.push_back(HitFor(c, req, ctx));
  return response;
}

ScrollPage ScrollView(const ReadView& view, std::string_view after, uint32_t limit,
                      const Filter& filter, bool include_vectors) {
  struct Entry {
    std::string_view id;
    RowRef ref;
  };
  struct IdOrder {
    bool operator()(const Entry& a, const Entry& b) const { return a.id < b.id; }
  };
  // The `limit` smallest ids after `after`; more than `limit` of them means a page follows.
  index::BoundedTopK<Entry, IdOrder> page_ids(limit);
  uint64_t past_cursor = 0;
  ForEachLive(view, filter, [&](const Layer& layer, uint32_t row) {
    const std::string_view id = layer.id(row);
    if (id <= after) return;
    ++past_cursor;
    page_ids.Push({id, {&layer, row}});
  });
  ScrollPage page;
  for (const Entry& e : page_ids.Take()) {
    page.records.push_back(RecordAt(*e.ref.layer, e.ref.row, include_vectors));
  }
  if (past_cursor > limit) page.next_after = page.records.back().id;
  return page;
}

}  // namespace proximadb
