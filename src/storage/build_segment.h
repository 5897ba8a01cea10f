// BuildSegment: rows in, a finished segment out, shared by flush and compaction (as LevelDB's
// BuildTable serves both its flush and its compaction).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "env/env.h"
#include "index/hnsw.h"
#include "storage/layer.h"
#include "storage/segment.h"

namespace proximadb {

// A row to write: a layer's row, and whether it goes in already deleted (a flush keeps the
// memtable's superseded rows, so that the segment's rows match the memtable's one for one and
// later deletions can follow them; deleted rows stay out of the graph; a partitioned segment
// drops them).
struct SegmentRow {
  const Layer* layer;
  uint32_t row;
  bool deleted = false;
};

struct SegmentOptions {
  Env* env = nullptr;
  std::string dir;  // the collection directory
  uint32_t dim = 0;
  DistanceMetric metric = DistanceMetric::kCosine;
  std::optional<index::HnswParams> graph;  // none: no graph, searches scan the segment
  // Quantized codes next to the vectors, trained on the segment's live rows (index/quantizer.h).
  Quantization quantization = Quantization::kNone;
  uint32_t pq_m = 0;
  // IVF partitions (index/ivf.h): the rows are written grouped by partition. 0 partitions:
  // index::DefaultPartitions. None: no partitions.
  std::optional<uint32_t> partitions;
  bool compress_metadata = false;  // the metadata section compressed with zstd
  // Typed columns of the fields the source layers have been filtered on (their field indexes),
  // stored in the segment so that its filters need not parse the metadata.
  bool field_columns = false;
  int build_threads = 1;  // the graph build's and the encoding's
  // When set and true, the build is given up (kCancelled, no file left): checked before each
  // stage and each graph insert. A compaction's, so that a drop or a shutdown need not wait
  // for it.
  const std::atomic<bool>* cancel = nullptr;
};

// Whether a segment of `rows` rows, `dead` of them deleted, takes its layer's finished graph
// (Layer::CompleteGraph: dead rows stay in it as routing nodes until a compaction) rather than
// building a graph of the live rows. Past 10% dead, the smaller graph is worth its build.
inline bool TakesLayerGraph(size_t dead, size_t rows) { return dead * 10 <= rows; }

// Writes `rows` as segment `number` (docs/segment_format.md) with its graph over the live ones,
// fsyncs the file, makes its directory entry durable (a manifest may name it next) and opens
// it. nullptr when `rows` is empty. On failure the file is removed: no manifest names it yet
// (kCancelled: given up for `options.cancel`).
// The rows are written in order, except with partitions: then the rows marked deleted are
// dropped and the others reordered (stably) by partition; row i of the segment is rows[i] as the
// call leaves it (nullptr if none is left).
absl::StatusOr<std::shared_ptr<Segment>> BuildSegment(const SegmentOptions& options,
                                                      uint64_t number,
                                                      std::vector<SegmentRow>& rows);

}  // namespace proximadb
