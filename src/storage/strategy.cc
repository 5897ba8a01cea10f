// The storage strategies, one implementation parametrised by the collection's Layout:
//   standard  float32 vectors and an HNSW graph per segment (none for a flat collection) with the
//             collection's quantized codes; memtable chunks graphed in the background.
//   viper     write-optimized: no graph anywhere (memtables are scanned); a segment's rows are
//             grouped into IVF partitions (k-means, about sqrt(rows) of them) with quantized
//             codes (the collection's quantization, sq8 when it has none), float32 vectors for
//             re-ranking and zstd-compressed metadata.
//   custom    the components as the collection names them: indexing_algorithm hnsw (graphs, as
//             standard), ivf (partitions, as viper) or flat (scans), quantization, and
//             metadata_compression.
// Both search every part of a layer the way it was built (a segment written under the other
// strategy, during a migration, included): IVF partitions (index/ivf.h), else the planner
// (index/planner.h, traversing a segment's codes and re-ranking when it has them). Both compact
// small and heavily deleted segments (a viper compaction re-clusters: BuildSegment trains anew).
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "storage/file_names.h"
#include "storage/strategy.h"

namespace proximadb {
namespace {

// Compaction policy: merge once this many small segments exist, and rewrite any segment with
// at least this fraction of dead rows.
constexpr size_t kCompactionTriggerSegments = 4;
constexpr double kCompactionDeadFraction = 0.3;

// The rows a memtable's graph can hold: twice the rows at which the flush policy freezes the
// memtable (max_vector_count, or the WAL size at the vectors' bytes per row, whichever comes
// first), at least 64Ki; a memtable outgrows that only while flushes are held up, and rows past
// it are still scanned. Whole chunks, and the reservations of the vectors and the level-0 links
// together under 256 GiB: address space, not memory, but not unlimited either.
uint32_t MemtableGraphRows(const CollectionConfig& config, const FlushPolicy& flush) {
  const uint64_t vector_bytes = uint64_t{config.dimension} * sizeof(float);
  // In double, clamped: the WAL limit may be huge (1e9 MB for "never by size").
  const uint64_t by_wal = static_cast<uint64_t>(
      std::min(flush.max_wal_size_mb * (1 << 20) / static_cast<double>(vector_bytes), 1e18));
  const uint64_t wanted =
      std::max<uint64_t>(2 * std::min(flush.max_vector_count, by_wal), uint64_t{1} << 16);
  const uint64_t row_bytes = vector_bytes + (1 + 2 * uint64_t{config.index.m}) * sizeof(uint32_t);
  const uint64_t most = (uint64_t{256} << 30) / row_bytes;
  int k = Memtable::ChunksFor(wanted);
  while (k > 1 && Memtable::ChunkStart(k) > most) --k;
  return Memtable::ChunkStart(k);
}

class LayoutStrategy final : public SegmentStrategy {
 public:
  explicit LayoutStrategy(const StrategyOptions& options)
      : options_(options),
        layout_(LayoutOf(options.config)),
        distance_(index::DistanceFor(options.config.metric)) {
    segment_options_.env = options.env;
    segment_options_.dim = options.config.dimension;
    segment_options_.metric = options.config.metric;
    if (layout_.graph) segment_options_.graph = graph_params();
    segment_options_.quantization = layout_.quantization;
    segment_options_.pq_m = layout_.pq_m;
    if (layout_.partitions) segment_options_.partitions = 0;  // about sqrt(rows)
    segment_options_.compress_metadata = layout_.compress_metadata;
    segment_options_.field_columns = layout_.field_columns;
    segment_options_.build_threads = options.build_threads;
  }

  std::shared_ptr<Memtable> NewMemtable(const FlushPolicy& flush) const override {
    std::optional<Memtable::GraphOptions> graph;
    if (layout_.graph) {
      graph = Memtable::GraphOptions{options_.config.metric, graph_params(),
                                     MemtableGraphRows(options_.config, flush)};
    }
    return std::make_shared<Memtable>(options_.config.dimension, options_.id_index, graph);
  }

  absl::StatusOr<std::shared_ptr<Segment>> BuildSegment(
      const std::string& dir, uint64_t number, std::vector<SegmentRow>& rows,
      const std::atomic<bool>* cancel) const override {
    SegmentOptions options = segment_options_;
    options.dir = dir;
    options.cancel = cancel;
    return proximadb::BuildSegment(options, number, rows);
  }

  absl::StatusOr<std::shared_ptr<Segment>> OpenSegment(const std::string& dir,
                                                       uint64_t number) const override {
    return Segment::Open(options_.env, JoinPath(dir, SegmentFileName(number)), number,
                         options_.config.dimension, options_.config.metric);
  }

  std::vector<std::shared_ptr<Segment>> PickCompaction(
      const std::vector<std::shared_ptr<Segment>>& segments, uint64_t small_rows,
      bool forced) const override {
    if (forced) {
      if (segments.size() == 1 && segments[0]->num_deleted() == 0) return {};
      return segments;
    }
    std::vector<std::shared_ptr<Segment>> picked;
    size_t small_count = 0;
    bool heavy = false;
    for (const auto& s : segments) {
      const uint32_t dead = s->num_deleted();
      const bool is_heavy = s->num_rows() > 0 && dead >= kCompactionDeadFraction * s->num_rows();
      const bool is_small = s->num_rows() - dead < small_rows;
      if (is_heavy || is_small) picked.push_back(s);
      small_count += is_small;
      heavy |= is_heavy;
    }
    if (!heavy && small_count < kCompactionTriggerSegments) return {};
    return picked;
  }

  index::Plan Search(const Layer& layer, uint32_t rows, uint64_t snapshot,
                     const Roaring* selected, const index::SearchParams& params,
                     absl::FunctionRef<void(float, uint32_t)> offer) const override {
    index::Plan plan = index::Plan::kExact;
    const bool filtered = selected != nullptr;
    // A reader may not see every row (deleted, or newer than its snapshot) unless the layer
    // says it may.
    const bool every_row = !filtered && layer.AllVisible();
    layer.ForEachPart(rows, [&](const LayerPart& part) {
      const VisibleRows visible(layer, snapshot, part.base, part.rows, selected);
      const index::SearchSpace space{part.vectors, part.rows, options_.config.dimension,
                                     distance_,    part.graph, part.quantizer,
                                     part.codes};
      const index::AllowedRows* allowed = every_row ? nullptr : &visible;
      const index::PlannedResult r =
          part.ivf != nullptr     ? index::IvfSearch(space, *part.ivf, params, allowed, filtered)
          : part.lists != nullptr ? part.lists->Search(space, part.base, params, allowed,
                                                       filtered)
                                  : index::PlannedSearch(space, params, allowed, filtered);
      plan = index::MostInvolved(plan, r.plan);
      for (const index::Hit& h : r.hits) offer(h.distance, part.base + h.row);
    });
    return plan;
  }

 private:
  index::HnswParams graph_params() const {
    return index::HnswParams{.m = options_.config.index.m,
                             .ef_construction = options_.config.index.ef_construction};
  }

  const StrategyOptions options_;
  const Layout layout_;
  const index::Distance distance_;
  SegmentOptions segment_options_;
};

}  // namespace

Layout LayoutOf(const CollectionConfig& c) {
  Layout l;
  const IndexingAlgorithm index = c.storage_strategy == StorageStrategy::kViper
                                      ? IndexingAlgorithm::kIvf
                                      : c.indexing_algorithm;
  l.graph = index == IndexingAlgorithm::kHnsw;
  l.partitions = index == IndexingAlgorithm::kIvf;
  l.quantization = c.quantization.kind;
  l.pq_m = c.quantization.pq_m;
  if (c.storage_strategy == StorageStrategy::kViper) {
    if (l.quantization == Quantization::kNone) l.quantization = Quantization::kSq8;
    l.compress_metadata = true;
  } else if (c.storage_strategy == StorageStrategy::kCustom) {
    l.compress_metadata = c.metadata_compression == MetadataCompression::kZstd;
  }
  l.field_columns = l.compress_metadata;
  return l;
}

bool HasLayout(const Segment& s, const Layout& l) {
  if ((s.graph() != nullptr) != l.graph || (s.ivf() != nullptr) != l.partitions ||
      s.metadata_compressed() != l.compress_metadata) {
    return false;
  }
  const index::Quantizer* q = s.quantizer();
  if (l.quantization == Quantization::kNone) return q == nullptr;
  if (q == nullptr || q->kind() != l.quantization) return false;
  return !IsProductQuantization(l.quantization) ||
         q->pq_m() == (l.pq_m != 0 ? l.pq_m : index::DefaultPqM(s.dim(), l.quantization));
}

absl::StatusOr<std::unique_ptr<SegmentStrategy>> NewSegmentStrategy(
    const StrategyOptions& options) {
  return std::make_unique<LayoutStrategy>(options);
}

}  // namespace proximadb
