// CollectionImpl's reads: gets under the lock (a short lookup), everything else over a pinned
// view without it (engine/search.h).
#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/macros.h"
#include "engine/collection_impl.h"

namespace proximadb {

ReadView CollectionImpl::PinView() const {
  absl::MutexLock l(&mu_);
  ReadView v;
  v.seq = last_seq_;
  v.layers.push_back({mem_, mem_->num_rows()});
  for (auto it = imms_.rbegin(); it != imms_.rend(); ++it) {
    v.layers.push_back({it->mem, it->mem->num_rows()});
  }
  for (const auto& s : segments_) v.layers.push_back({s, s->num_rows()});
  return v;
}

absl::StatusOr<Record> CollectionImpl::Get(std::string_view id) {
  PROXIMADB_ASSIGN_OR_RETURN(std::vector<Record> found, GetMany({std::string(id)}));
  if (found.empty()) return NotFound(id);
  return std::move(found[0]);
}

absl::StatusOr<std::vector<Record>> CollectionImpl::GetMany(const std::vector<std::string>& ids) {
  std::vector<Record> out;
  struct ColdRow {
    size_t record;
    uint64_t segment;
    uint32_t row;
  };
  std::vector<ColdRow> cold;  // rows in cold stubs: their vectors are fetched below
  {
    absl::MutexLock l(&mu_);
    for (const std::string& id : ids) {
      const LiveRow live = FindLive(id);
      if (!live.found()) continue;
      const bool stub = !live.layer->has_vectors();
      if (stub) {
        cold.push_back({out.size(), static_cast<const Segment*>(live.layer)->number(), live.row});
      }
      out.push_back(RecordAt(*live.layer, live.row, /*with_vector=*/!stub));
    }
  }
  // The records as of the lookup; the whole files share the stubs' rows.
  for (const ColdRow& c : cold) {
    PROXIMADB_ASSIGN_OR_RETURN(std::shared_ptr<const Segment> whole, FetchCold(c.segment));
    out[c.record].vector.assign(whole->vector(c.row), whole->vector(c.row) + dim_);
  }
  return out;
}

absl::StatusOr<uint64_t> CollectionImpl::Count(std::string_view filter_text) {
  PROXIMADB_ASSIGN_OR_RETURN(Filter filter, Filter::Parse(filter_text));
  if (filter.matches_all()) {
    absl::MutexLock l(&mu_);
    return live_count_;
  }
  RecordRead();
  uint64_t n = 0;
  ForEachLive(PinView(), filter, [&](const Layer&, uint32_t) { ++n; });
  return n;
}

absl::StatusOr<std::vector<std::string>> CollectionImpl::MatchingIds(const Filter& filter,
                                                                      uint64_t* read_at) {
  if (filter.matches_all()) {
    return absl::InvalidArgumentError(
        "filter: must not be empty for a delete (drop the collection to delete everything)");
  }
  RecordRead();
  std::vector<std::string> ids;
  const ReadView view = PinView();
  if (read_at != nullptr) *read_at = view.seq;
  ForEachLive(view, filter,
              [&](const Layer& layer, uint32_t row) { ids.emplace_back(layer.id(row)); });
  return ids;
}

absl::StatusOr<uint64_t> CollectionImpl::DeleteWhere(std::string_view filter_text) {
  PROXIMADB_ASSIGN_OR_RETURN(Filter filter, Filter::Parse(filter_text));
  PROXIMADB_ASSIGN_OR_RETURN(std::vector<std::string> ids, MatchingIds(filter));
  return Delete(ids, &filter);
}


absl::StatusOr<ScrollPage> CollectionImpl::Scroll(std::string_view after, uint32_t limit,
                                                  std::string_view filter_text,
                                                  bool include_vectors) {
  if (limit == 0) return absl::InvalidArgumentError("limit: must be at least 1");
  PROXIMADB_ASSIGN_OR_RETURN(Filter filter, Filter::Parse(filter_text));
  RecordRead();
  ReadView view = PinView();
  if (include_vectors) PROXIMADB_RETURN_IF_ERROR(FetchView(&view));
  return ScrollView(view, after, limit, filter, include_vectors);
}

absl::StatusOr<SearchResponse> CollectionImpl::Search(const SearchRequest& req) {
  RecordRead();
  if (req.vector.size() != dim_) {
    return WithErrorCode(absl::InvalidArgumentError(absl::StrCat(
                             "query vector has dimension ", req.vector.size(), ", collection '",
                             options_.config.name, "' has dimension ", dim_)),
                         kDimensionMismatch);
  }
  for (size_t i = 0; i < req.vector.size(); ++i) {
    if (!std::isfinite(req.vector[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat("query vector has a non-finite value at index ", i));
    }
  }
  if (req.k == 0) return absl::InvalidArgumentError("k: must be at least 1");
  if (req.nprobe > 65536) {
    return absl::InvalidArgumentError(absl::StrCat("nprobe: ", req.nprobe, " is not in 1..65536"));
  }
  if (req.rerank > 10000) {
    return absl::InvalidArgumentError(absl::StrCat("rerank: ", req.rerank, " is not in 1..10000"));
  }
  PROXIMADB_ASSIGN_OR_RETURN(Filter filter, Filter::Parse(req.filter));
  const std::shared_ptr<const SegmentStrategy> strategy = this->strategy();
  SearchContext context{strategy.get(), options_.config.metric, dim_, req.ef, req.rerank};
  context.nprobe = req.nprobe;
  if (context.ef == 0 || context.rerank == 0 || context.nprobe == 0) {
    absl::MutexLock l(&settings_mu_);
    if (context.ef == 0) context.ef = index_settings_.ef_search;
    if (context.rerank == 0) context.rerank = rerank_;
    if (context.nprobe == 0) context.nprobe = index_settings_.nprobe;
  }
  ReadView view = PinView();
  PROXIMADB_RETURN_IF_ERROR(FetchView(&view));  // cold segments: their whole files
  return SearchView(view, req, filter, context);
}

}  // namespace proximadb
