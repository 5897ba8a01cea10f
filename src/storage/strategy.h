// SegmentStrategy: what a collection's storage strategy (types.h StorageStrategy) decides: how
// its memtables are indexed, how its segments are built, opened, searched and chosen for
// compaction. The engine holds one per collection and goes through it for each of those, so a
// new strategy (viper's partitioned columnar segments, custom) is a new implementation here,
// not a change to the write path, the manifest or recovery.
//
// Implementations (strategy.cc): one parametrised by the collection's Layout, below.
// Thread-safe (const).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "env/env.h"
#include "index/planner.h"
#include "proximadb/types.h"
#include "storage/build_segment.h"
#include "storage/id_index.h"
#include "storage/memtable.h"
#include "storage/segment.h"

namespace proximadb {

struct StrategyOptions {
  Env* env = nullptr;
  // Dimension, metric, indexing algorithm and index parameters (m, ef_construction), and
  // storage_strategy, which picks the implementation.
  CollectionConfig config;
  IdIndexKind id_index = IdIndexKind::kHashMap;
  int build_threads = 1;  // threads of a segment's graph build
};

class SegmentStrategy {
 public:
  virtual ~SegmentStrategy() = default;

  // A memtable for new writes, sized for the flush policy in force (its graph's capacity).
  virtual std::shared_ptr<Memtable> NewMemtable(const FlushPolicy& flush) const = 0;

  // Writes `rows` as segment `number` in directory `dir` (durable and opened; nullptr for no
  // rows), possibly reordering `rows` and dropping those marked deleted: row i of the segment
  // is rows[i] afterwards; given up (kCancelled) once `*cancel` is true, if given. See
  // storage/build_segment.h.
  virtual absl::StatusOr<std::shared_ptr<Segment>> BuildSegment(
      const std::string& dir, uint64_t number, std::vector<SegmentRow>& rows,
      const std::atomic<bool>* cancel) const = 0;
  // Opens segment `number` in `dir`, which BuildSegment wrote; kNotFound if the file is
  // missing, kDataLoss naming it if it is damaged.
  virtual absl::StatusOr<std::shared_ptr<Segment>> OpenSegment(const std::string& dir,
                                                               uint64_t number) const = 0;

  // The segments (of `segments`, in that order) a compaction should merge into one now; empty
  // for none. `forced`: an explicit compaction, which merges everything unless it is already
  // one segment without dead rows. Otherwise the policy: the segments with fewer than
  // `small_rows` live rows once there are several, and any with many dead rows.
  virtual std::vector<std::shared_ptr<Segment>> PickCompaction(
      const std::vector<std::shared_ptr<Segment>>& segments, uint64_t small_rows,
      bool forced) const = 0;

  // Searches the rows [0, rows) of `layer` that a reader at `snapshot` sees and, unless it is
  // null, `selected` holds (a filter's rows); calls `offer` with each hit (distance, row) and
  // returns the most involved plan it ran.
  virtual index::Plan Search(const Layer& layer, uint32_t rows, uint64_t snapshot,
                             const Roaring* selected, const index::SearchParams& params,
                             absl::FunctionRef<void(float, uint32_t)> offer) const = 0;
};

// What a collection's configuration makes of its memtables and segments: standard fixes a graph
// (none for flat) and uncompressed metadata; viper IVF partitions, codes (sq8 unless the
// collection quantizes otherwise) and zstd metadata, and no graphs; custom takes
// indexing_algorithm (hnsw, ivf, flat), quantization and metadata_compression as given.
struct Layout {
  bool graph = false;           // an HNSW graph per segment, and memtable chunks graphed
  bool partitions = false;      // rows grouped into IVF partitions
  Quantization quantization = Quantization::kNone;
  uint32_t pq_m = 0;
  bool compress_metadata = false;
  // Typed columns of the filtered fields in each segment (viper, custom with zstd metadata).
  bool field_columns = false;
};
Layout LayoutOf(const CollectionConfig& config);
// Whether `segment` was written with `layout` (a migration rewrites those that were not).
bool HasLayout(const Segment& segment, const Layout& layout);

// The implementation for `options.config.storage_strategy`. Every strategy searches any layout's
// segments (a collection mid-migration holds both).
absl::StatusOr<std::unique_ptr<SegmentStrategy>> NewSegmentStrategy(
    const StrategyOptions& options);

}  // namespace proximadb
