#include "storage/build_segment.h"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <thread>

#include "common/macros.h"
#include "index/ivf.h"
#include "storage/file_names.h"

namespace proximadb {
namespace {

// The graph `rows` can take from their layer: all of a layer's rows, in order, with few enough
// dead ones among them (they stay in the graph, routing searches; compaction drops them later
// as it does rows deleted after a flush).
const index::Hnsw* ReusableGraph(const std::vector<SegmentRow>& rows) {
  const Layer* layer = rows.front().layer;
  const index::Hnsw* graph = layer->CompleteGraph();
  if (graph == nullptr || layer->num_rows() != rows.size()) return nullptr;
  size_t dead = 0;
  for (uint32_t i = 0; i < rows.size(); ++i) {
    if (rows[i].layer != layer || rows[i].row != i) return nullptr;
    dead += rows[i].deleted;
  }
  return TakesLayerGraph(dead, rows.size()) ? graph : nullptr;
}

bool Cancelled(const SegmentOptions& options) {
  return options.cancel != nullptr && options.cancel->load(std::memory_order_relaxed);
}

absl::Status CancelledError() { return absl::CancelledError("the segment build was given up"); }

// The serialized graph over `rows`: the layer's own if it has a finished one (a memtable's,
// indexed in the background), else built (vectors copied contiguous, as index::Hnsw wants).
absl::StatusOr<std::string> BuildGraph(const SegmentOptions& options,
                                       const std::vector<SegmentRow>& rows) {
  const uint32_t n = static_cast<uint32_t>(rows.size());
  if (const index::Hnsw* graph = ReusableGraph(rows)) return graph->Serialize(n);
  std::vector<float> vectors(static_cast<size_t>(n) * options.dim);
  for (uint32_t i = 0; i < n; ++i) {
    std::memcpy(vectors.data() + static_cast<size_t>(i) * options.dim,
                rows[i].layer->vector(rows[i].row), options.dim * sizeof(float));
  }
  index::Hnsw graph(vectors.data(), options.dim, options.metric, n, *options.graph);
  if (!index::BuildHnsw(
          graph, n, options.build_threads, [&](uint32_t i) { return !rows[i].deleted; },
          options.cancel)) {
    return CancelledError();
  }
  return graph.Serialize();
}

// The quantizer trained on the live rows (all rows if none is live) and every row's code.
absl::Status BuildCodes(const SegmentOptions& options, const std::vector<SegmentRow>& rows,
                        SegmentBuilder* builder) {
  std::vector<uint32_t> live;
  for (uint32_t i = 0; i < rows.size(); ++i) {
    if (!rows[i].deleted) live.push_back(i);
  }
  if (live.empty()) {
    live.resize(rows.size());
    std::iota(live.begin(), live.end(), 0u);
  }
  auto vector_of = [&](uint32_t i) { return rows[i].layer->vector(rows[i].row); };
  PROXIMADB_ASSIGN_OR_RETURN(
      std::unique_ptr<index::Quantizer> quantizer,
      index::Quantizer::Train({options.quantization, options.dim, options.metric, options.pq_m},
                              static_cast<uint32_t>(live.size()),
                              [&](uint32_t i) { return vector_of(live[i]); }));
  const size_t size = quantizer->code_size();
  std::string codes(rows.size() * size, '\0');
  const uint32_t n = static_cast<uint32_t>(rows.size());
  // Encoding is the costly part for pq (a nearest-centroid search per sub-vector): spread it
  // over the build threads, a contiguous range each.
  const uint32_t threads = std::clamp<uint32_t>(options.build_threads, 1, 1 + n / 1000);
  auto encode = [&](uint32_t t) {
    for (uint32_t i = uint64_t{n} * t / threads; i < uint64_t{n} * (t + 1) / threads; ++i) {
      quantizer->Encode(vector_of(i), reinterpret_cast<uint8_t*>(codes.data() + i * size));
    }
  };
  std::vector<std::thread> workers;
  for (uint32_t t = 1; t < threads; ++t) workers.emplace_back(encode, t);
  encode(0);
  for (std::thread& w : workers) w.join();
  builder->SetCodes(quantizer->Serialize(), std::move(codes));
  return absl::OkStatus();
}

// Drops the rows already deleted, clusters the others into IVF partitions, reorders them by
// partition (stably) and returns the serialized partitions. (Dead rows must go: a segment finds
// an id's newest copy as its highest row, which the reordering would no longer make true.)
std::string GroupByPartition(const SegmentOptions& options, std::vector<SegmentRow>& rows) {
  std::erase_if(rows, [](const SegmentRow& r) { return r.deleted; });
  if (rows.empty()) return "";
  const uint32_t n = static_cast<uint32_t>(rows.size());
  const uint32_t partitions =
      *options.partitions != 0 ? *options.partitions : index::DefaultPartitions(n);
  const index::IvfTraining ivf = index::TrainIvf(
      n, options.dim, options.metric, partitions,
      [&](uint32_t i) { return rows[i].layer->vector(rows[i].row); },
      [&](uint32_t i) { return !rows[i].deleted; });
  std::vector<uint32_t> order, offsets;
  index::GroupRows(ivf, &order, &offsets);
  std::vector<SegmentRow> sorted;
  sorted.reserve(n);
  for (uint32_t i : order) sorted.push_back(rows[i]);
  rows = std::move(sorted);
  return index::SerializeIvf(ivf, options.dim, offsets);
}

// The field indexes of the paths the rows' layers have been filtered on, built over `rows` in
// their order and serialized; nothing when no filter has run.
std::string FieldColumns(const std::vector<SegmentRow>& rows) {
  std::vector<std::string> paths;
  const Layer* last = nullptr;
  for (const SegmentRow& r : rows) {
    if (r.layer == last) continue;
    last = r.layer;
    for (std::string& p : r.layer->fields().paths()) {
      if (std::find(paths.begin(), paths.end(), p) == paths.end()) paths.push_back(std::move(p));
    }
  }
  if (paths.empty()) return "";
  if (paths.size() > FieldIndex::kMaxPaths) paths.resize(FieldIndex::kMaxPaths);
  FieldIndex fields;
  fields.Build(paths, static_cast<uint32_t>(rows.size()), [&](uint32_t i) {
    return rows[i].layer->metadata(rows[i].row);
  });
  return fields.Serialize();
}

}  // namespace

absl::StatusOr<std::shared_ptr<Segment>> BuildSegment(const SegmentOptions& options,
                                                      uint64_t number,
                                                      std::vector<SegmentRow>& rows) {
  if (rows.empty()) return nullptr;
  if (Cancelled(options)) return CancelledError();
  std::string partitions;
  if (options.partitions) partitions = GroupByPartition(options, rows);
  if (rows.empty()) return nullptr;
  if (Cancelled(options)) return CancelledError();
  const std::string path = JoinPath(options.dir, SegmentFileName(number));
  PROXIMADB_ASSIGN_OR_RETURN(std::unique_ptr<SegmentBuilder> builder,
                             SegmentBuilder::Create(options.env, path, options.dim,
                                                    options.compress_metadata));
  absl::Status s = absl::OkStatus();
  for (size_t i = 0; i < rows.size() && s.ok(); ++i) {
    const SegmentRow& r = rows[i];
    s = builder->Add(r.layer->id(r.row), reinterpret_cast<const char*>(r.layer->vector(r.row)),
                     r.layer->metadata(r.row), r.deleted);
  }
  if (s.ok() && Cancelled(options)) s = CancelledError();
  if (s.ok() && options.graph) {
    absl::StatusOr<std::string> graph = BuildGraph(options, rows);
    if (graph.ok()) builder->SetGraph(*std::move(graph));
    s = graph.status();
  }
  builder->SetPartitions(std::move(partitions));
  if (s.ok() && options.field_columns) builder->SetFields(FieldColumns(rows));
  if (s.ok() && options.quantization != Quantization::kNone) {
    s = BuildCodes(options, rows, builder.get());
  }
  if (s.ok() && Cancelled(options)) s = CancelledError();
  if (s.ok()) s = builder->Finish();
  if (s.ok()) s = options.env->SyncDir(options.dir);  // its name durable before a manifest names it
  if (s.ok()) {
    absl::StatusOr<std::shared_ptr<Segment>> opened =
        Segment::Open(options.env, path, number, options.dim, options.metric);
    if (opened.ok()) return opened;
    s = opened.status();
  }
  // A failure (a full disk, say) leaves no file: the caller may try another directory.
  builder.reset();
  if (options.env->FileExists(path)) options.env->RemoveFile(path).IgnoreError();
  return s;
}

}  // namespace proximadb
