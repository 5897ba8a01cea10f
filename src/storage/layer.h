// Layer: one place where a collection's rows live, the memtable (mutable, in memory) or a
// segment (immutable, read from its mapping). The read path (get, count, scroll, search, delete
// by filter) and the write path's lookups are written once against this interface.
//
// Rows are numbered from 0 in the order they were added. Row r exists for a reader at snapshot
// S iff VisibleAt(r, S): inserted at or before S and not deleted at or before S.
//
// Thread-safety: any number of readers may call the const methods concurrently for rows below
// num_rows(); MarkDeleted is called by one writer at a time (the collection's commit leader).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "filter/field_index.h"
#include "index/hnsw.h"
#include "index/ivf.h"
#include "index/ivf_lists.h"
#include "index/planner.h"

namespace proximadb {

inline constexpr uint64_t kNotDeleted = UINT64_MAX;

// A run of a layer's rows [base, base + rows) with contiguous vectors (row `base` first),
// searched through `graph` (over exactly those rows, numbered from 0), or scanned without one.
struct LayerPart {
  uint32_t base = 0;
  uint32_t rows = 0;
  const float* vectors = nullptr;
  const index::Hnsw* graph = nullptr;
  // The part's quantized codes, if it has them (a segment of a quantized collection).
  const index::Quantizer* quantizer = nullptr;
  const uint8_t* codes = nullptr;
  // The IVF partitions the part's rows are grouped by (a viper segment), searched instead of a
  // graph.
  const index::IvfView* ivf = nullptr;
  // IVF lists holding the part's rows among others (a memtable's rows its graph has not
  // reached), searched instead of a scan; rows numbered as in the layer.
  const index::IvfLists* lists = nullptr;
};

class Layer {
 public:
  virtual ~Layer() = default;

  virtual uint32_t dim() const = 0;
  // Rows a reader may address now.
  virtual uint32_t num_rows() const = 0;
  virtual std::string_view id(uint32_t row) const = 0;
  // Row `row`'s dim() float32 values; only when has_vectors().
  virtual const float* vector(uint32_t row) const = 0;
  // False for a cold segment's stub, whose vectors are in the object store.
  virtual bool has_vectors() const { return true; }
  virtual std::string_view metadata(uint32_t row) const = 0;
  // The newest row holding `id`, live or not.
  virtual std::optional<uint32_t> Find(std::string_view id) const = 0;
  // A search read this layer at `now_us` (what a tiering policy ages segments by).
  virtual void NoteSearch(int64_t /*now_us*/) const {}

  // kNotDeleted while the row is live.
  virtual uint64_t deleted_seq(uint32_t row) const = 0;
  virtual bool VisibleAt(uint32_t row, uint64_t snapshot) const = 0;
  // Whether every row is visible to every reader that can see the layer (no deletions, nothing
  // newer than a snapshot), so that a search needs no per-row check.
  virtual bool AllVisible() const = 0;
  // Marks a live row deleted at `seq` (a row is deleted at most once).
  virtual void MarkDeleted(uint32_t row, uint64_t seq) = 0;

  // Payload indexes over the rows' metadata, built by the first filters that need them.
  virtual FieldIndex& fields() const = 0;
  // Rows [0, rows) as runs to search, in row order.
  virtual void ForEachPart(uint32_t rows,
                           absl::FunctionRef<void(const LayerPart&)> fn) const = 0;
  // A finished graph over every row [0, num_rows()), dead ones included, on the float32
  // vectors with the collection's graph parameters, that a segment of exactly these rows may
  // serialize instead of building its own; nullptr if there is none.
  virtual const index::Hnsw* CompleteGraph() const { return nullptr; }
};

// A layer's rows [base, base + limit) that a reader at `snapshot` may see, and that are in
// `selected` (a filter's rows, in the layer's numbering) unless it is null; in the numbering of
// the part (row base + r is r here).
class VisibleRows final : public index::AllowedRows {
 public:
  VisibleRows(const Layer& layer, uint64_t snapshot, uint32_t base, uint32_t limit,
              const Roaring* selected)
      : layer_(layer), snapshot_(snapshot), base_(base), limit_(limit), selected_(selected) {}

  uint32_t count() const override;
  bool Contains(uint32_t local) const override;
  void ForEach(absl::FunctionRef<void(uint32_t)> fn) const override;

 private:
  const Layer& layer_;
  const uint64_t snapshot_;
  const uint32_t base_, limit_;
  const Roaring* const selected_;
};

}  // namespace proximadb
