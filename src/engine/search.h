// The read path over a pinned view of a collection: search, scroll and count (and the rows a
// delete by filter starts from), written once against storage/layer.h, so that memtables and
// segments, and whatever a storage strategy adds, are read the same way.
//
// A view is immutable once pinned, and the functions here take no lock: readers never wait for
// writers, flushes or compactions (collection_impl.h, invariant 5).
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "filter/filter.h"
#include "proximadb/types.h"
#include "storage/layer.h"
#include "storage/strategy.h"

namespace proximadb {

// A collection's layers as a reader pinned them.
struct ReadView {
  struct Entry {
    std::shared_ptr<const Layer> layer;
    uint32_t rows;  // the layer's rows at pin time (a memtable may have grown since)
  };
  uint64_t seq = 0;            // the snapshot
  std::vector<Entry> layers;   // memtables newest first, then the segments
};

// A row of a layer; layer is null for none.
struct RowRef {
  const Layer* layer = nullptr;
  uint32_t row = 0;
  bool found() const { return layer != nullptr; }
};

// What a search needs of its collection.
struct SearchContext {
  const SegmentStrategy* strategy = nullptr;
  DistanceMetric metric = DistanceMetric::kCosine;
  uint32_t dim = 0;
  uint32_t ef = 0;  // the request's ef, or the collection's ef_search
  uint32_t rerank = 0;  // the request's rerank, or the collection's (index::SearchParams)
  uint32_t nprobe = 0;  // the request's nprobe, or the collection's
};

// The record at a layer's row; its vector only `with_vector`.
Record RecordAt(const Layer& layer, uint32_t row, bool with_vector);

// Calls fn(layer, row) for every row of the view live at its snapshot that matches `filter`
// (through the layers' field indexes).
void ForEachLive(const ReadView& view, const Filter& filter,
                 absl::FunctionRef<void(const Layer&, uint32_t)> fn);

// The k nearest live rows matching `filter` over every layer, best first, and the most
// involved plan any layer ran. The request's vector, k and filter are already validated.
SearchResponse SearchView(const ReadView& view, const SearchRequest& request,
                          const Filter& filter, const SearchContext& context);

// Up to `limit` live records matching `filter` with ids after `after`, in id order (bytewise);
// next_after continues, empty on the last page.
ScrollPage ScrollView(const ReadView& view, std::string_view after, uint32_t limit,
                      const Filter& filter, bool include_vectors);

}  // namespace proximadb
