// FieldIndex: payload indexes over the rows of one layer of a collection (a segment or a
// memtable), so that a filter becomes a set of rows through lookups and set operations instead
// of a parse of every record's metadata.
//
// An index for a path is built on the first filter that reads it, from the layer's metadata, and
// extended to new rows when a later filter asks for more (a memtable grows; a segment does not).
// Per path it keeps the rows where the path is present, the rows holding each string (ordered,
// for ranges), each number (ordered), true, false and null. Select then evaluates the filter
// with exactly the semantics of Filter::Matches (filter.h).
//
// The sets of the last few distinct filters are kept (a tenant's or a category's filter tends
// to repeat), until an index is extended to new rows. At most kMaxPaths path indexes are kept:
// beyond that the least recently used ones are dropped (rebuilt if asked for again), so that
// filters on ever new paths cannot grow memory without bound.
//
// Thread-safe: Select may be called concurrently; cache hits share a reader lock, building
// and evaluating take it exclusively.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <roaring/roaring.hh>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "filter/filter.h"

namespace proximadb {

class FieldIndex {
 public:
  // The metadata (a JSON object) of a row below the `rows` passed to Select.
  using MetadataFn = absl::FunctionRef<std::string_view(uint32_t row)>;

  FieldIndex();
  ~FieldIndex();
  FieldIndex(const FieldIndex&) = delete;
  FieldIndex& operator=(const FieldIndex&) = delete;

  // The rows in [0, rows) whose metadata matches `filter` (not matches_all()).
  Roaring Select(const Filter& filter, uint32_t rows, MetadataFn metadata)
      ABSL_LOCKS_EXCLUDED(mu_);

  // The paths indexed now (those filters have read), most recently used first.
  std::vector<std::string> paths() const ABSL_LOCKS_EXCLUDED(mu_);
  // Indexes `paths` over rows [0, rows), as a filter reading them would.
  void Build(const std::vector<std::string>& paths, uint32_t rows, MetadataFn metadata)
      ABSL_LOCKS_EXCLUDED(mu_);
  // The path indexes as bytes (typed columns of the filtered fields: rows per string, per
  // number, per boolean and null, and where each path is present), and back: Load replaces the
  // indexes with those of `bytes`, which cover rows [0, rows); kDataLoss on damage.
  std::string Serialize() const ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status Load(std::string_view bytes, uint32_t rows) ABSL_LOCKS_EXCLUDED(mu_);

  // Approximate bytes held by the indexes.
  size_t MemoryBytes() const ABSL_LOCKS_EXCLUDED(mu_);
  // How many path indexes are held.
  size_t indexed_paths() const ABSL_LOCKS_EXCLUDED(mu_);

  static constexpr size_t kMaxPaths = 64;

 private:
  struct PathIndex;

  Roaring Evaluate(const FilterNode& node, uint32_t rows) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // Brings the indexes of `paths` (created as needed) up to `rows`, parsing each record once.
  void IndexPathsLocked(const std::vector<std::string>& paths, uint32_t rows,
                        MetadataFn metadata) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  static constexpr size_t kCachedFilters = 16;

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<PathIndex>> paths_ ABSL_GUARDED_BY(mu_);
  uint64_t clock_ ABSL_GUARDED_BY(mu_) = 0;  // orders the paths' last use
  // Results over all indexed rows by canonical filter text, with their insertion order.
  struct Cached {
    Roaring rows;
    uint32_t covered;
  };
  absl::flat_hash_map<std::string, Cached> cache_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> cache_order_ ABSL_GUARDED_BY(mu_);
};

}  // namespace proximadb
