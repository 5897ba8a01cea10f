#include "storage/build_segment.h"

#include <cstring>

#include "common/macros.h"
#include "storage/file_names.h"

namespace proximadb {
namespace {

// The serialized graph over `rows` (vectors copied contiguous, as index::Hnsw wants them).
std::string BuildGraph(const SegmentOptions& options, const std::vector<SegmentRow>& rows) {
  const uint32_t n = static_cast<uint32_t>(rows.size());
  std::vector<float> vectors(static_cast<size_t>(n) * options.dim);
  for (uint32_t i = 0; i < n; ++i) {
    std::memcpy(vectors.data() + static_cast<size_t>(i) * options.dim,
                rows[i].layer->vector(rows[i].row), options.dim * sizeof(float));
  }
  index::Hnsw graph(vectors.data(), options.dim, options.metric, n, *options.graph);
  index::BuildHnsw(graph, n, options.build_threads,
                   [&](uint32_t i) { return !rows[i].deleted; });
  return graph.Serialize();
}

}  // namespace

absl::StatusOr<std::shared_ptr<Segment>> BuildSegment(const SegmentOptions& options,
                                                      uint64_t number,
                                                      const std::vector<SegmentRow>& rows) {
  if (rows.empty()) return nullptr;
  const std::string path = JoinPath(options.dir, SegmentFileName(number));
  PROXIMADB_ASSIGN_OR_RETURN(std::unique_ptr<SegmentBuilder> builder,
                             SegmentBuilder::Create(options.env, path, options.dim));
  for (const SegmentRow& r : rows) {
    PROXIMADB_RETURN_IF_ERROR(
        builder->Add(r.layer->id(r.row), reinterpret_cast<const char*>(r.layer->vector(r.row)),
                     r.layer->metadata(r.row), r.deleted));
  }
  if (options.graph) builder->SetGraph(BuildGraph(options, rows));
  absl::Status s = builder->Finish();
  if (s.ok()) s = options.env->SyncDir(options.dir);  // its name durable before a manifest names it
  if (s.ok()) {
    absl::StatusOr<std::shared_ptr<Segment>> opened =
        Segment::Open(options.env, path, number, options.dim, options.metric);
    if (opened.ok()) return opened;
    s = opened.status();
  }
  if (options.env->FileExists(path)) options.env->RemoveFile(path).IgnoreError();
  return s;
}

}  // namespace proximadb
